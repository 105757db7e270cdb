// "Undo this rollback": roll forward again to the revision a completed rollback left, as a new
// rollback through the same procedure and the same approvals. Pure planning: only a completed,
// patched (not dry-run) rollback can be undone, and only while the workload still runs what it put
// back; the revision it left must still be in the history, with the same images. The alerts still
// firing for the service are a warning the request carries (that revision is the one that was bad).
import { CodedError } from '../errors.js';
import type { Rollback } from './model.js';
import type { RevisionEntry } from './revisions.js';

export interface UndoPlan {
  service: string;
  toRevision: number;
  images: string[];
}

const same = (a: string[], b: string[]) => a.join(',') === b.join(',');

export function planUndo(r: Rollback, history: RevisionEntry[]): UndoPlan {
  const from = r.assessment?.from;
  const target = r.assessment?.target;
  if (r.state !== 'completed' || r.dryRun || r.undo?.outcome !== 'patched' || !from || !target)
    throw new CodedError(
      'rollback_wrong_state',
      `rollback ${r.id.slice(0, 8)} of ${r.service} cannot be undone: only a completed rollback that changed the workload can`,
      { remedy: `Use \`/rollback ${r.service} --to-revision=N\` to choose a revision yourself.` },
    );
  const current = history.find((e) => e.current);
  if (!current || !same(current.images, target.images))
    throw new CodedError(
      'rollback_concurrent_change',
      `${r.service} no longer runs what rollback ${r.id.slice(0, 8)} put back (${target.images.join(', ')}): it changed since, so there is nothing to undo`,
      { remedy: '`/rollback history` shows what it runs now.' },
    );
  const left = history.find((e) => e.revision === from.revision);
  if (!left || !same(left.images, from.images))
    throw new CodedError(
      'rollback_revision_not_found',
      `the revision rollback ${r.id.slice(0, 8)} left (${from.revision}, ${from.images.join(', ')}) is no longer in the history`,
      { remedy: '`/rollback history` shows the revisions there are.' },
    );
  return { service: r.service, toRevision: left.revision, images: left.images };
}

/** The new request's reason: what it undoes, and what still fires for the service (or that nobody knows). */
export function undoReason(r: Rollback, plan: UndoPlan, firing: string[] | Error | undefined): string {
  const what = `Undo of rollback ${r.id.slice(0, 8)}: roll forward to revision ${plan.toRevision} (${plan.images.join(', ')}), the revision it rolled back from`;
  if (firing === undefined) return `${what}.`;
  if (firing instanceof Error)
    return `${what}. Warning: the alerts for ${r.service} could not be read (${firing.message}).`;
  return firing.length
    ? `${what}. Warning: still firing for ${r.service}: ${firing.slice(0, 5).join(', ')}${firing.length > 5 ? ` and ${firing.length - 5} more` : ''}.`
    : `${what}. No alert fires for ${r.service} now.`;
}
