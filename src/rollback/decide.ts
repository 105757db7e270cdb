// A person's decision on a waiting rollback: approve it, approve or skip its database downgrade, or
// cancel it. Authorization is the catalog's approver rules (a refusal is audited); two clicks, or
// two replicas taking the same click, do one thing: each needs the work lease and a compare-and-set.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { CodedError, isCodedError } from '../errors.js';
import { assertMayDecide } from './authorize.js';
import type { HeldLease, Leases } from './leases.js';
import type { Actor, Rollback, RollbackEvent } from './model.js';
import type { Clock, Lease, StorePort } from './ports.js';
import type { EventType, State } from './states.js';

export type Decision = 'approve' | 'approve_migration' | 'skip_migration' | 'cancel';

export interface DecideDeps {
  store: StorePort;
  clock: Clock;
  owner: string;
  leaseMs: number;
  leases: Leases;
  serviceOf: (r: Rollback) => CatalogEntry;
  event: (
    r: Rollback,
    type: RollbackEvent['type'],
    actor: Actor,
    from: State | undefined,
    to: State | undefined,
    data?: Record<string, unknown>,
  ) => RollbackEvent;
  move: (
    r: Rollback,
    type: EventType,
    lease: Lease,
    actor: Actor,
    changes: Partial<Rollback>,
  ) => Promise<Rollback>;
  /** Works on the rollback after the decision, under the lease the decision took. */
  continue: (id: string, held: HeldLease) => void;
}

/** Where each decision may be taken: a cancel at either approval, each approval at its own. */
const DECIDABLE: Record<Decision, State[]> = {
  approve: ['awaiting_approval'],
  approve_migration: ['awaiting_migration_approval'],
  skip_migration: ['awaiting_migration_approval'],
  cancel: ['awaiting_approval', 'awaiting_migration_approval'],
};

/**
 * Where a step works on the rollback before the patch: a cancel cannot move it (the step holds the
 * lease), so it is left for the step, which honours it before the patch (steps/stop-requested.ts).
 */
const STOPPABLE: State[] = ['requested', 'assessing', 'notifying'];

/** At the database gate, which way on depends on what the gate found. */
function assertGateAllows(r: Rollback, decision: Decision): void {
  const gate = r.migrationGate?.kind;
  if (decision === 'approve_migration' && gate !== 'downgrade')
    throw new CodedError(
      'rollback_wrong_state',
      'the database state is unknown, so there is no downgrade to approve: roll back without it (after checking the database) or cancel',
      { details: { state: r.state } },
    );
  if (decision === 'skip_migration' && gate !== 'unknown')
    throw new CodedError(
      'rollback_wrong_state',
      'the database is known to be ahead of the target: approve the downgrade or cancel',
      { details: { state: r.state } },
    );
}

export function createDecide(deps: DecideDeps) {
  return async function decide(id: string, actor: Actor, decision: Decision): Promise<Rollback> {
    const r = await deps.store.get(id);
    if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
    const svc = deps.serviceOf(r);
    try {
      assertMayDecide(svc, r, actor, decision === 'cancel' ? 'cancel' : 'approve');
    } catch (err) {
      await deps.store.append(
        deps.event(r, 'note', actor, r.state, r.state, {
          kind: 'unauthorized',
          decision,
          message: (err as Error).message,
        }),
      );
      throw err;
    }
    if (decision === 'cancel' && STOPPABLE.includes(r.state)) {
      const at = deps.clock.now().toISOString();
      await deps.store.requestCancel(id, actor, at);
      await deps.store.append(
        deps.event(r, 'note', actor, r.state, r.state, { kind: 'cancel_requested', at }),
      );
      return r;
    }
    if (!DECIDABLE[decision].includes(r.state)) {
      const by = r.decision ? ` by <@${r.decision.by.id}>` : '';
      throw new CodedError(
        'rollback_wrong_state',
        `this rollback is already ${r.state.replaceAll('_', ' ')}${by}`,
        { details: { state: r.state } },
      );
    }
    assertGateAllows(r, decision);
    // Two replicas or a double click: only the one that gets the lease and wins the compare-and-set acts.
    const lease = await deps.store.acquireLease(id, deps.owner, deps.leaseMs);
    if (!lease)
      throw new CodedError('rollback_wrong_state', 'this rollback is being handled right now', {
        details: { state: r.state },
      });
    // Renewed from this moment: the commit below may wait on Slack, the lease must not lapse meanwhile.
    const h = deps.leases.hold(lease);
    try {
      const at = deps.clock.now().toISOString();
      const changes: Partial<Rollback> =
        decision === 'approve'
          ? { approvals: [...r.approvals, { by: actor, at }], decision: { event: 'approve', by: actor, at } }
          : decision === 'approve_migration'
            ? { migrationApproval: { by: actor, at } }
            : decision === 'skip_migration'
              ? { migrationSkipped: { by: actor, at } }
              : { decision: { event: 'cancel', by: actor, at } };
      const next = await deps.move(r, decision, lease, actor, changes);
      if (decision !== 'cancel') deps.continue(id, h);
      else await h.stop();
      return next;
    } catch (err) {
      await h.stop();
      if (isCodedError(err, 'store_conflict')) {
        const now = await deps.store.get(id);
        throw new CodedError(
          'rollback_wrong_state',
          `this rollback is already ${now?.state.replaceAll('_', ' ') ?? 'gone'}`,
          { details: { state: now?.state } },
        );
      }
      throw err;
    }
  };
}
