// `notifying`: the procedure's step 2 (channel, engineering manager, monitoring; PagerDuty when
// automatic), then the database gate, read fresh with the current image just before the undo.
import type { Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import { readMigrationGate } from '../read-migration-gate.js';
import type { StepContext } from './context.js';

export async function notifying(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback> {
  const { deps, notify, move, system } = ctx;
  if (r.mode === 'auto') notify(r.id, 'assessed', () => deps.notifier.assessed(r));
  notify(r.id, 'starting', () => deps.notifier.starting(r));
  if (r.mode === 'auto' && deps.pager) notify(r.id, 'page', () => deps.pager!.rollbackStarted(r));
  const svc = ctx.serviceOf(r);
  if (!svc.migrations) return move(r, 'notified', lease, system);
  const gate = await readMigrationGate({ kube: deps.kube, clock: deps.clock }, svc, r);
  if (gate.kind === 'none') return move(r, 'notified', lease, system, { migrationGate: gate }, { gate });
  // Ahead: the downgrade waits for its own approval. Unknown: a person decides. Automatic rollbacks
  // wait here too: the bot never changes a database, or skips doing so, on its own.
  const next = await move(r, 'migration_needed', lease, system, { migrationGate: gate }, { gate });
  notify(next.id, 'migration approval', () => deps.notifier.migrationApprovalNeeded(next));
  return next;
}
