// Resume sync: puts a GitOps owner's settings back exactly as they were before the bot suspended
// them, once the rollback has ended and a person says Git is fixed. Approvers only (audited when
// refused); an owner someone changed since is left as it is, and the thread says so.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import { assertMayDecide } from './authorize.js';
import { isSuspendedByUs, ownerText, restorePatch } from './gitops.js';
import type { Actor, Rollback, RollbackEvent } from './model.js';
import type { Clock, KubePort, StorePort } from './ports.js';
import { TERMINAL } from './states.js';

export interface ResumeSyncDeps {
  store: StorePort;
  kube: KubePort;
  clock: Clock;
  serviceOf: (r: Rollback) => CatalogEntry;
  note: (r: Rollback, actor: Actor, data: Record<string, unknown>) => RollbackEvent;
  renderReport: (r: Rollback, events: RollbackEvent[]) => string;
  kick: (id: string) => void;
}

export function createResumeSync(deps: ResumeSyncDeps) {
  return async function resumeSync(id: string, actor: Actor): Promise<Rollback> {
    const { store, kube, clock } = deps;
    const r = await store.get(id);
    if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
    const g = r.gitops;
    if (!g?.suspendedAt)
      throw new CodedError('rollback_wrong_state', 'the bot suspended no GitOps sync for this rollback');
    if (g.resumed)
      throw new CodedError(
        'rollback_wrong_state',
        `sync of ${ownerText(g.owner)} was already resumed by ${g.resumed.by.name ?? g.resumed.by.id} at ${g.resumed.at}`,
      );
    // Resuming while the rollback runs would let the owner revert the undo under it.
    if (!TERMINAL.has(r.state))
      throw new CodedError(
        'rollback_wrong_state',
        'the rollback is still running: resume sync once it has ended',
      );
    try {
      assertMayDecide(deps.serviceOf(r), r, actor, 'approve');
    } catch (err) {
      await store.append(
        deps.note(r, actor, {
          kind: 'unauthorized',
          decision: 'resume_sync',
          message: (err as Error).message,
        }),
      );
      throw err;
    }
    const who = ownerText(g.owner);
    const now = await kube.readOwner(g.owner);
    if (!now) throw new CodedError('kube_not_found', `${who} no longer exists; there is no sync to resume`);
    let outcome: 'restored' | 'changed_by_someone' = 'changed_by_someone';
    if (isSuspendedByUs(g.owner, now)) {
      const rv = String((now.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? '');
      await kube.patchOwner(g.owner, restorePatch(g.owner, g.previous), rv);
      outcome = 'restored';
    }
    const at = clock.now().toISOString();
    const next: Rollback = { ...r, gitops: { ...g, resumed: { by: actor, at, outcome } } };
    const text =
      outcome === 'restored'
        ? `:arrow_forward: Sync of *${who}* resumed by ${actor.name ?? actor.id}: its settings are back as they were (${JSON.stringify(g.previous)}). It applies what Git holds now.`
        : `:warning: *${who}* is no longer as the bot left it (someone changed its sync settings), so the bot did not touch it. Check its sync settings.`;
    const event = deps.note(r, actor, { kind: 'resume_sync', owner: who, outcome, restored: g.previous });
    const events = [...(await store.events(id)), event];
    const saved = await store.commit(
      { state: r.state, version: r.version },
      { ...next, report: deps.renderReport(next, events) },
      event,
      undefined,
      r.thread
        ? [
            { kind: 'say', text },
            { kind: 'reportUpdated', text: `sync of ${who} resumed by ${actor.name ?? actor.id}` },
          ]
        : [],
    );
    deps.kick(id);
    return saved;
  };
}
