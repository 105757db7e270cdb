import type { CatalogEntry } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import type { Actor, Rollback } from './model.js';

/** Approver rules from the catalog: listed users or members of listed groups; optionally not the requester. */
export function assertMayDecide(
  svc: CatalogEntry,
  r: Rollback,
  actor: Actor,
  decision: 'approve' | 'cancel',
): void {
  const { users, groups, requireSecondPerson } = svc.approvers;
  const listed = users.includes(actor.id) || (actor.groups ?? []).some((g) => groups.includes(g));
  // The requester may always cancel their own request.
  if (decision === 'cancel' && r.requestedBy.kind === 'user' && r.requestedBy.id === actor.id) return;
  if (!listed) {
    throw new CodedError('rollback_unauthorized', `<@${actor.id}> is not an approver for ${svc.name}`, {
      remedy: `Ask one of the approvers (${[...users.map((u) => `<@${u}>`), ...groups.map((g) => `<!subteam^${g}>`)].join(', ') || 'none configured'}).`,
    });
  }
  if (
    decision === 'approve' &&
    requireSecondPerson &&
    r.requestedBy.kind === 'user' &&
    r.requestedBy.id === actor.id
  ) {
    throw new CodedError(
      'rollback_unauthorized',
      `${svc.name} needs a second person: the requester cannot approve their own rollback`,
      {
        remedy: 'Ask another approver to approve.',
      },
    );
  }
}
