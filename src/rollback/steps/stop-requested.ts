// Before the patch, a rollback a step is working on can still be stopped: by a cancel asked for
// meanwhile (a step holds the lease, so the cancel is left for it), or, for an automatic one, by a
// pause an approver set after it started. The steps look at the end of assessing and of notifying,
// the last step before the patch. What cannot be read fails the step: never "nobody asked".
import { escapeMrkdwn } from '../../escape-mrkdwn.js';
import type { Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import type { StepContext } from './context.js';

export async function stopRequested(
  ctx: StepContext,
  r: Rollback,
  lease: Lease,
): Promise<Rollback | undefined> {
  const { store, clock } = ctx.deps;
  const at = clock.now().toISOString();
  const asked = await store.cancelRequestOf(r.id);
  if (asked)
    return ctx.move(
      r,
      'cancel',
      lease,
      asked.by,
      { decision: { event: 'cancel', by: asked.by, at } },
      { requestedAt: asked.at },
      [
        {
          kind: 'say',
          text: `:no_entry_sign: Cancelled by ${escapeMrkdwn(asked.by.name ?? asked.by.id)} before the patch. Nothing was changed.`,
        },
      ],
    );
  if (r.mode !== 'auto') return undefined;
  const p = await store.pauseOf(r.namespace, r.deployment);
  if (!p) return undefined;
  // Its page stays open: the bad release is still out, and a person is on it.
  return ctx.move(r, 'cancel', lease, p.by, { decision: { event: 'cancel', by: p.by, at } }, { paused: p }, [
    {
      kind: 'say',
      text: `:double_vertical_bar: Stopped before the patch: ${escapeMrkdwn(p.by.name ?? p.by.id)} paused automatic rollbacks of \`${r.service}\` until ${p.until.slice(0, 16).replace('T', ' ')} UTC. Nothing was changed; \`/rollback ${r.service}\` rolls back with an approval.`,
    },
  ]);
}
