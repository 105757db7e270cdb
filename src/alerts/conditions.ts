// The procedure's automatic-rollback conditions, evaluated on what the Deployment and its pods say
// (pure): the current revision's pods all crash-looping, not ready beyond the readiness threshold,
// restarting (liveness), and the rollout stuck past its progress deadline.
import type { DeploymentSnapshot, PodSnapshot } from '../rollback/kube-types.js';

export interface Condition {
  name: 'CrashLoopBackOff' | 'ReadinessFailing' | 'RestartsClimbing' | 'ProgressDeadlineExceeded';
  firing: boolean;
  summary: string;
  value: string;
  threshold: string;
  since: string;
}

export interface ConditionInput {
  deployment: DeploymentSnapshot;
  /** Pods of the current (newest) revision. */
  pods: PodSnapshot[];
  now: Date;
  /** Procedure: readiness fails 2 × 5 s = 10 s; liveness fails 3 times. */
  readinessGraceSeconds: number;
  restartThreshold: number;
  /** When each pod was first seen not ready (kept by the caller between evaluations). */
  notReadySince: Map<string, number>;
}

export function evaluateConditions(i: ConditionInput): Condition[] {
  const d = i.deployment;
  const now = i.now.getTime();
  const out: Condition[] = [];
  const pods = i.pods.filter((p) => !p.deleting);

  const crashing = pods.filter((p) => p.containers.some((c) => c.waitingReason === 'CrashLoopBackOff'));
  out.push({
    name: 'CrashLoopBackOff',
    firing: pods.length > 0 && crashing.length === pods.length,
    summary: `${crashing.length}/${pods.length} pod(s) of the current revision in CrashLoopBackOff`,
    value: `${crashing.length}/${pods.length}`,
    threshold: 'all pods',
    since: i.now.toISOString(),
  });

  for (const p of pods) {
    if (p.ready) i.notReadySince.delete(p.name);
    else if (!i.notReadySince.has(p.name)) i.notReadySince.set(p.name, now);
  }
  const longUnready = pods.filter(
    (p) => !p.ready && now - (i.notReadySince.get(p.name) ?? now) >= i.readinessGraceSeconds * 1000,
  );
  const oldest = Math.min(...longUnready.map((p) => i.notReadySince.get(p.name) ?? now));
  out.push({
    name: 'ReadinessFailing',
    firing: longUnready.length > 0,
    summary: `${longUnready.length} pod(s) of the current revision not ready for more than ${i.readinessGraceSeconds}s`,
    value: `${longUnready.length} pod(s)`,
    threshold: `not ready > ${i.readinessGraceSeconds}s`,
    since: new Date(Number.isFinite(oldest) ? oldest : now).toISOString(),
  });

  const restarts = pods.reduce((n, p) => n + p.containers.reduce((m, c) => m + c.restartCount, 0), 0);
  out.push({
    name: 'RestartsClimbing',
    firing: restarts >= i.restartThreshold,
    summary: `${restarts} container restart(s) on the current revision`,
    value: String(restarts),
    threshold: `≥ ${i.restartThreshold}`,
    since: i.now.toISOString(),
  });

  const progressing = d.status.conditions.find((c) => c.type === 'Progressing');
  const stuck =
    progressing?.reason === 'ProgressDeadlineExceeded' && d.status.observedGeneration >= d.generation;
  out.push({
    name: 'ProgressDeadlineExceeded',
    firing: stuck,
    summary: stuck
      ? `rollout stuck: ${progressing?.message ?? 'progress deadline exceeded'}`
      : 'rollout progressing',
    value: progressing?.reason ?? 'none',
    threshold: 'ProgressDeadlineExceeded',
    since: progressing?.lastUpdateTime ?? i.now.toISOString(),
  });
  return out;
}
