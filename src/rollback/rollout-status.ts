// kubectl rollout status for a Deployment (DeploymentStatusViewer), plus one documented deviation:
// a ProgressDeadlineExceeded condition last updated before our undo is stale (the controller keeps it
// until it sees progress), so it is treated as "still waiting" instead of failing a rollback that works.
import type { DeploymentSnapshot } from './kube-types.js';

export type RolloutStatus =
  | { state: 'waiting'; message: string }
  | { state: 'done'; message: string }
  | { state: 'failed'; reason: 'progress_deadline'; message: string };

export function rolloutStatus(
  d: DeploymentSnapshot,
  opts: { staleDeadlineBefore?: Date } = {},
): RolloutStatus {
  const s = d.status;
  if (d.generation > s.observedGeneration) {
    return { state: 'waiting', message: 'Waiting for deployment spec update to be observed...' };
  }
  const progressing = s.conditions.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    const updated = progressing.lastUpdateTime ? Date.parse(progressing.lastUpdateTime) : Number.NaN;
    const stale = opts.staleDeadlineBefore !== undefined && updated < opts.staleDeadlineBefore.getTime();
    if (!stale) {
      return {
        state: 'failed',
        reason: 'progress_deadline',
        message: `deployment "${d.name}" exceeded its progress deadline`,
      };
    }
  }
  const name = d.name;
  if (d.replicas !== undefined && s.updatedReplicas < d.replicas) {
    return {
      state: 'waiting',
      message: `Waiting for deployment "${name}" rollout to finish: ${s.updatedReplicas} out of ${d.replicas} new replicas have been updated...`,
    };
  }
  if (s.replicas > s.updatedReplicas) {
    return {
      state: 'waiting',
      message: `Waiting for deployment "${name}" rollout to finish: ${s.replicas - s.updatedReplicas} old replicas are pending termination...`,
    };
  }
  if (s.availableReplicas < s.updatedReplicas) {
    return {
      state: 'waiting',
      message: `Waiting for deployment "${name}" rollout to finish: ${s.availableReplicas} of ${s.updatedReplicas} updated replicas are available...`,
    };
  }
  return { state: 'done', message: `deployment "${name}" successfully rolled out` };
}
