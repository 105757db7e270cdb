// kubectl rollout status: DeploymentStatusViewer, StatefulSetStatusViewer and DaemonSetStatusViewer
// (kubectl pkg/polymorphichelpers/rollout_status.go, v1.36), with their messages, plus two documented
// deviations. OnDelete StatefulSets and DaemonSets, for which kubectl refuses to report, are done when
// every pod is on the update revision and ready (the bot never deletes pods itself; the message says
// they must be). And for Deployments: a ProgressDeadlineExceeded condition last updated before our undo
// is stale (the controller keeps it until it sees progress), so it is treated as "still waiting"
// instead of failing a rollback that works.
import type { DeploymentSnapshot, WorkloadSnapshot } from './kube-types.js';

export type RolloutStatus =
  | { state: 'waiting'; message: string }
  | { state: 'done'; message: string }
  | { state: 'failed'; reason: 'progress_deadline'; message: string };

export function rolloutStatus(w: WorkloadSnapshot, opts: { staleDeadlineBefore?: Date } = {}): RolloutStatus {
  if (w.kind === 'StatefulSet') return statefulSetStatus(w);
  if (w.kind === 'DaemonSet') return daemonSetStatus(w);
  return deploymentStatus(w, opts);
}

/** The hint every OnDelete wait carries: the controller does not replace pods, people do. */
const ON_DELETE_HINT =
  'the update strategy is OnDelete, so someone must delete the old pods (the bot does not)';

/**
 * kubectl's StatefulSetStatusViewer, in its order: spec observed (observedGeneration 0 counts as not),
 * then Ready (not Available) pods against spec.replicas, then either the partition (when rollingUpdate
 * is set: the API defaults it, with partition 0, only when the strategy type was left empty) or, when
 * rollingUpdate is absent, updateRevision == currentRevision. An unset replicas or partition skips
 * its check, as in kubectl. OnDelete (kubectl: "rollout status is only available for RollingUpdate
 * strategy type"): the controller never advances currentRevision, so done means every replica is
 * Ready and carries the update revision.
 */
function statefulSetStatus(w: WorkloadSnapshot): RolloutStatus {
  const s = w.status;
  const replicas = w.replicas;
  if (s.observedGeneration === 0 || w.generation > s.observedGeneration) {
    return { state: 'waiting', message: 'Waiting for statefulset spec update to be observed...' };
  }
  if (replicas !== undefined && s.readyReplicas < replicas) {
    return { state: 'waiting', message: `Waiting for ${replicas - s.readyReplicas} pods to be ready...` };
  }
  if (w.strategy.type !== 'RollingUpdate') {
    const want = replicas ?? 0;
    if (s.updatedReplicas < want) {
      return {
        state: 'waiting',
        message: `Waiting for ${want - s.updatedReplicas} of ${want} pods to be re-created at revision ${s.updateRevision}: ${ON_DELETE_HINT}...`,
      };
    }
    return {
      state: 'done',
      message: `statefulset rolling update complete ${s.updatedReplicas} pods at revision ${s.updateRevision}...`,
    };
  }
  if (w.strategy.rollingUpdate) {
    const partition = w.strategy.partition;
    if (replicas !== undefined && partition !== undefined && s.updatedReplicas < replicas - partition) {
      return {
        state: 'waiting',
        message: `Waiting for partitioned roll out to finish: ${s.updatedReplicas} out of ${replicas - partition} new pods have been updated...`,
      };
    }
    return {
      state: 'done',
      message: `partitioned roll out complete: ${s.updatedReplicas} new pods have been updated...`,
    };
  }
  if (s.updateRevision !== s.currentRevision) {
    return {
      state: 'waiting',
      message: `waiting for statefulset rolling update to complete ${s.updatedReplicas} pods at revision ${s.updateRevision}...`,
    };
  }
  return {
    state: 'done',
    message: `statefulset rolling update complete ${s.currentReplicas ?? 0} pods at revision ${s.currentRevision}...`,
  };
}

/**
 * kubectl's DaemonSetStatusViewer: once the spec is observed, every scheduled node runs an updated pod
 * and as many pods are available. OnDelete (kubectl refuses it, as for StatefulSets): the same
 * conditions, with the hint that pods must be deleted.
 */
function daemonSetStatus(w: WorkloadSnapshot): RolloutStatus {
  const s = w.status;
  const desired = s.desiredNumberScheduled ?? 0;
  const updated = s.updatedNumberScheduled ?? 0;
  const available = s.numberAvailable ?? 0;
  if (w.generation > s.observedGeneration) {
    return { state: 'waiting', message: 'Waiting for daemon set spec update to be observed...' };
  }
  if (updated < desired) {
    const hint = w.strategy.type === 'RollingUpdate' ? '' : `; ${ON_DELETE_HINT}`;
    return {
      state: 'waiting',
      message: `Waiting for daemon set "${w.name}" rollout to finish: ${updated} out of ${desired} new pods have been updated${hint}...`,
    };
  }
  if (available < desired) {
    return {
      state: 'waiting',
      message: `Waiting for daemon set "${w.name}" rollout to finish: ${available} of ${desired} updated pods are available...`,
    };
  }
  return { state: 'done', message: `daemon set "${w.name}" successfully rolled out` };
}

function deploymentStatus(d: DeploymentSnapshot, opts: { staleDeadlineBefore?: Date }): RolloutStatus {
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
