// `notifying`: the procedure's step 2 (channel, engineering manager, monitoring; PagerDuty when
// automatic), then the database gate, read fresh with the current image just before the undo.
import { escapeMrkdwn } from '../../escape-mrkdwn.js';
import type { Notice, Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import { readMigrationGate } from '../read-migration-gate.js';
import type { StepContext } from './context.js';

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
  if (!svc.migrations) return (await pausedNow(ctx, r, lease)) ?? move(r, 'notified', lease, system);
  const gate = await readMigrationGate({ kube: deps.kube, clock: deps.clock }, svc, r);
  if (gate.kind === 'none')
    return (
      (await pausedNow(ctx, r, lease)) ??
      move(r, 'notified', lease, system, { migrationGate: gate }, { gate })
    );
  // Ahead: the downgrade waits for its own approval. Unknown: a person decides. Automatic rollbacks
  // wait here too: the bot never changes a database, or skips doing so, on its own.
  return move(r, 'migration_needed', lease, system, { migrationGate: gate }, { gate }, [
    { kind: 'migrationApprovalNeeded' },
  ]);
}

/**
 * An automatic rollback whose service an approver paused after it started stops here, the last
 * step before the patch, changing nothing. Its page stays open: the bad release is still out, and a
 * person is on it. A pause that cannot be read fails the step (never "not paused").
 */
async function pausedNow(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback | undefined> {
  if (r.mode !== 'auto') return undefined;
  const p = await ctx.deps.store.pauseOf(r.namespace, r.deployment);
  if (!p) return undefined;
  const at = ctx.deps.clock.now().toISOString();
  return ctx.move(r, 'cancel', lease, p.by, { decision: { event: 'cancel', by: p.by, at } }, { paused: p }, [
    {
      kind: 'say',
      text: `:double_vertical_bar: Stopped before the patch: ${escapeMrkdwn(p.by.name ?? p.by.id)} paused automatic rollbacks of \`${r.service}\` until ${p.until.slice(0, 16).replace('T', ' ')} UTC. Nothing was changed; \`/rollback ${r.service}\` rolls back with an approval.`,
    },
  ]);
}
