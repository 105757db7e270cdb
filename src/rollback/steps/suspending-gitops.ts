// Part of `undoing`: right before the undo, the GitOps owner's sync is suspended (policy `suspend`),
// so the undo is not re-applied from Git. Its settings are saved first and the patch is guarded by
// the owner's resourceVersion; a resumed rollback finds either the saved intent or the done state.
import { CodedError } from '../../errors.js';
import { isSuspendedByUs, ownerSync, ownerText, suspendPatch } from '../gitops.js';
import type { Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import type { StepContext } from './context.js';

export async function suspendGitOps(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback> {
  const plan = r.assessment?.gitops;
  if (plan?.plan !== 'suspend' || r.gitops?.suspendedAt || r.gitops?.alreadySuspended) return r;
  const { kube, clock } = ctx.deps;
  const owner = plan.owner;
  const who = ownerText(owner);
  const now = await kube.readOwner(owner);
  if (!now)
    throw new CodedError('rollback_gitops_refused', `${who} no longer exists; nothing was rolled back`, {
      remedy: 'Look at who owns the workload now, then request the rollback again.',
    });
  const resourceVersion = String(
    (now.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? '',
  );
  let current = r;
  if (!r.gitops) {
    const sync = ownerSync(owner, now);
    if (sync.reverts === 'no') {
      // Someone suspended it between the assessment and now: nothing of ours to resume later.
      return ctx.save(
        r,
        lease,
        { gitops: { owner, previous: sync.settings, at: clock.now().toISOString(), alreadySuspended: true } },
        { milestone: `${who}: ${sync.detail} already; the bot did not change it` },
      );
    }
    current = await ctx.save(
      r,
      lease,
      { gitops: { owner, previous: sync.settings, at: clock.now().toISOString() } },
      { milestone: `suspending ${who}'s sync`, previous: sync.settings },
    );
  } else if (isSuspendedByUs(owner, now)) {
    // Our patch went through before a restart.
    return markSuspended(ctx, current, lease);
  }
  await kube.patchOwner(owner, suspendPatch(owner), resourceVersion);
  return markSuspended(ctx, current, lease);
}

async function markSuspended(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback> {
  const g = r.gitops!;
  const who = ownerText(g.owner);
  const what = g.owner.kind === 'Application' ? 'automated sync disabled' : 'spec.suspend set to true';
  return ctx.save(
    r,
    lease,
    { gitops: { ...g, suspendedAt: ctx.deps.clock.now().toISOString() } },
    { milestone: `suspended ${who} (${what}); it was ${JSON.stringify(g.previous)}` },
    [
      {
        kind: 'say',
        text: `:double_vertical_bar: Suspended *${who}* (${what}) so it does not re-apply the bad release. *Git still holds the bad release:* revert it in Git, then press *Resume sync* on the report.`,
      },
    ],
  );
}
