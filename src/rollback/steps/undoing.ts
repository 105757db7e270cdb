// `undoing`: the procedure's step 3. `kubectl rollout undo` (kubectl's exact patch), guarded by a
// re-read of the workload, then the wait of `kubectl rollout status`. The wait's watch is opened
// before the patch is sent (the patch is its `act`), so a rollout that finishes at once is seen when
// the apiserver reports it, not when a watch opened afterwards has connected.
import { CodedError } from '../../errors.js';
import type { ReplicaSetSnapshot } from '../kube-types.js';
import { kindOf, type Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import { atRevision, ownedReplicaSets, PAUSED_MESSAGE, patchFor, templateAfterUndo } from '../revisions.js';
import { assertWorkloadUnchanged } from '../workload-change.js';
import type { StepContext } from './context.js';
import { suspendGitOps } from './suspending-gitops.js';

/**
 * Not at the target. What we expect to find: the assessed workload, or, if we patched it before a
 * restart, the target's template. Anything else is someone else's change: never overwrite it.
 */
function expectedBefore(r: Rollback, rs: ReplicaSetSnapshot) {
  const assessed = r.assessment?.deployment;
  if (!assessed?.ok) throw new CodedError('internal', 'undo without an assessment');
  return r.undo
    ? { uid: assessed.value.uid, paused: false, template: templateAfterUndo(rs) }
    : { uid: assessed.value.uid, paused: assessed.value.paused, template: assessed.value.template };
}

export async function undoing(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback> {
  const { deps, save, notify } = ctx;
  const { kube, clock } = deps;
  const svc = ctx.serviceOf(r);
  const target = r.assessment?.target;
  const assessed = r.assessment?.deployment;
  if (!target || !assessed?.ok) throw new CodedError('internal', 'undo without an assessment');
  const d = await kube.readWorkload(kindOf(r), r.namespace, r.deployment);
  const rs = ownedReplicaSets(d, await kube.listRevisions(d)).find((x) => x.name === target.replicaSet);
  if (!rs) {
    throw new CodedError(
      'rollback_revision_not_found',
      `the target revision ${target.revision} (${target.replicaSet}) no longer exists`,
      { remedy: 'It may have been cleaned up (revisionHistoryLimit); request the rollback again.' },
    );
  }
  let current = r;
  /** When the wait for the rollout began: after the patch is saved (rollout.durationMs). */
  let started = 0;
  const patch = patchFor(d, rs);
  let act: (() => Promise<{ generation: number; staleDeadlineBefore: Date }>) | undefined;
  if (patch) {
    assertWorkloadUnchanged(expectedBefore(r, rs), d, `${r.namespace}/${r.deployment}`, 'undo');
    if (d.kind === 'Deployment' && d.paused) throw new CodedError('rollback_paused', PAUSED_MESSAGE);
    current = await suspendGitOps(ctx, current, lease);
    const before = current;
    // Run once by the wait, as soon as its watch is open. Its failure (a refused guard, a lost
    // lease) ends the wait and this step with the same error.
    act = async () => {
      const patched = await kube.patchUndo(d, patch);
      const at = clock.now().toISOString();
      current = await save(
        before,
        lease,
        { undo: { outcome: 'patched', at, generation: patched.generation } },
        {
          milestone: `Rolled back to revision ${target.revision} (${target.images.join(', ')}): ${d.kind} patched, generation ${patched.generation}`,
        },
      );
      started = clock.now().getTime();
      return { generation: patched.generation, staleDeadlineBefore: new Date(at) };
    };
  } else if (!r.undo) {
    // At the target with no patch on record: either it already was when assessed, or this process
    // patched it and died before saving. The assessed template tells which.
    const ours = !atRevision({ ...d, template: assessed.value.template }, rs);
    current = await save(
      r,
      lease,
      {
        undo: {
          outcome: ours ? 'patched' : 'already_at_target',
          at: clock.now().toISOString(),
          generation: d.generation,
        },
      },
      {
        milestone: ours
          ? `${d.kind} patched to revision ${target.revision} before a restart; resumed`
          : `${d.kind} already runs revision ${target.revision}'s template; nothing to patch`,
      },
    );
  }
  const undoAt = new Date(current.undo?.at ?? clock.now().toISOString());
  started = clock.now().getTime();
  const { status } = await kube.waitForRollout(kindOf(r), r.namespace, r.deployment, {
    timeoutMs: svc.rollout.timeoutSeconds * 1000,
    staleDeadlineBefore: undoAt,
    ...(act ? { act } : {}),
    onProgress: (s) =>
      notify(r.id, 'progress', () =>
        deps.notifier.progress(current, s.message, { final: s.state !== 'waiting' }),
      ),
  });
  if (status.state === 'failed') {
    throw new CodedError('rollback_progress_deadline', status.message, {
      remedy: 'The target revision does not come up either; look at its pods.',
    });
  }
  const rollout = {
    state: status.state,
    message: status.message,
    at: clock.now().toISOString(),
    durationMs: clock.now().getTime() - started,
  };
  return ctx.move(
    current,
    'undone',
    lease,
    ctx.system,
    { undo: { ...current.undo!, rollout } },
    { message: status.message },
  );
}
