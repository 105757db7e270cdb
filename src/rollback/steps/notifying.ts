// `notifying`: the procedure's step 2 (channel, engineering manager, monitoring; PagerDuty when
// automatic), then the database gate, read fresh with the current image just before the undo.
import type { Notice, Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import { readMigrationGate } from '../read-migration-gate.js';
import type { StepContext } from './context.js';
import { stopRequested } from './stop-requested.js';

export async function notifying(ctx: StepContext, given: Rollback, lease: Lease): Promise<Rollback> {
  let r = given;
  const { deps, move, system } = ctx;
  const auto = r.mode === 'auto';
  // Once per rollback, even when this step is resumed: the announcement is committed with a flag.
  if (!r.announced) {
    const notices: Notice[] = [
      ...(auto ? [{ kind: 'assessed' } as const] : []),
      { kind: 'starting' },
      ...(auto && deps.pager ? [{ kind: 'pageStarted' } as const] : []),
    ];
    r = await ctx.save(r, lease, { announced: true }, { announced: true }, notices);
  }
  const svc = ctx.serviceOf(r);
  if (!svc.migrations) return (await stopRequested(ctx, r, lease)) ?? move(r, 'notified', lease, system);
  const gate = await readMigrationGate(deps, svc, r);
  if (gate.kind === 'none')
    return (
      (await stopRequested(ctx, r, lease)) ??
      move(r, 'notified', lease, system, { migrationGate: gate }, { gate })
    );
  // Ahead: the downgrade waits for its own approval. Unknown: a person decides. Automatic rollbacks
  // wait here too: the bot never changes a database, or skips doing so, on its own.
  return move(r, 'migration_needed', lease, system, { migrationGate: gate }, { gate }, [
    { kind: 'migrationApprovalNeeded' },
  ]);
}
