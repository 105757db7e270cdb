// The procedure's automatic-rollback conditions, evaluated on what the Deployment and the pods of its
// current revision say (pure): all of them crash-looping, one not ready past its own readiness
// budget, one container restarting persistently (liveness), and the rollout stuck past its deadline.
// Nothing here trusts history the bot did not watch: restart counts are compared with a baseline taken
// when the bot first saw each container, so lifetime counts and bot restarts never fire.
import type { DeploymentSnapshot } from '../rollback/kube-types.js';

export interface Condition {
  name: 'CrashLoopBackOff' | 'ReadinessFailing' | 'RestartsClimbing' | 'ProgressDeadlineExceeded';
  firing: boolean;
  summary: string;
  value: string;
  threshold: string;
  since: string;
}

/** What the conditions need of a pod, read from its raw JSON by toPodView. */
export interface PodView {
  uid: string;
  name: string;
  podTemplateHash: string | undefined;
  deleting: boolean;
  ready: boolean;
  createdAtMs: number;
  /** status.startTime (the kubelet accepted the pod); undefined before it is scheduled and started. */
  startedAtMs: number | undefined;
  /** lastTransitionTime of a Ready=False condition. */
  notReadySinceMs: number | undefined;
  /** The pod's own readiness probe budget (largest over its containers); undefined: no probe. */
  readiness: { initialDelaySeconds: number; failureThreshold: number; periodSeconds: number } | undefined;
  containers: { name: string; restartCount: number; waitingReason: string | undefined }[];
}

// biome-ignore lint/suspicious/noExplicitAny: raw apiserver JSON, read defensively below
type Raw = any;

const ms = (t: unknown): number | undefined => {
  const v = typeof t === 'string' ? Date.parse(t) : t instanceof Date ? t.getTime() : Number.NaN;
  return Number.isFinite(v) ? v : undefined;
};

/** Kubernetes' probe defaults: initialDelaySeconds 0, periodSeconds 10, failureThreshold 3. */
function probeBudget(p: Raw): PodView['readiness'] {
  if (!p || typeof p !== 'object') return undefined;
  return {
    initialDelaySeconds: Number(p.initialDelaySeconds ?? 0),
    failureThreshold: Number(p.failureThreshold ?? 3),
    periodSeconds: Number(p.periodSeconds ?? 10),
  };
}

const budgetSeconds = (b: NonNullable<PodView['readiness']>) =>
  b.initialDelaySeconds + b.failureThreshold * b.periodSeconds;

export function toPodView(raw: Raw): PodView {
  const statuses: Raw[] = raw.status?.containerStatuses ?? [];
  const readyCondition = (raw.status?.conditions ?? []).find((c: Raw) => c.type === 'Ready');
  let readiness: PodView['readiness'];
  for (const c of raw.spec?.containers ?? []) {
    const b = probeBudget(c.readinessProbe);
    if (b && (!readiness || budgetSeconds(b) > budgetSeconds(readiness))) readiness = b;
  }
  return {
    uid: raw.metadata?.uid ?? raw.metadata?.name ?? '',
    name: raw.metadata?.name ?? '',
    podTemplateHash:
      raw.metadata?.labels?.['pod-template-hash'] ?? raw.metadata?.labels?.['controller-revision-hash'],
    deleting: Boolean(raw.metadata?.deletionTimestamp),
    ready: readyCondition?.status === 'True',
    createdAtMs: ms(raw.metadata?.creationTimestamp) ?? 0,
    startedAtMs: ms(raw.status?.startTime),
    notReadySinceMs: readyCondition?.status === 'False' ? ms(readyCondition.lastTransitionTime) : undefined,
    readiness,
    containers: (raw.spec?.containers ?? []).map((c: Raw) => {
      const s = statuses.find((x) => x.name === c.name);
      return {
        name: c.name,
        restartCount: Number(s?.restartCount ?? 0),
        waitingReason: s?.state?.waiting?.reason,
      };
    }),
  };
}

/**
 * When a not-ready pod counts as failing readiness: once past its probe's initialDelaySeconds from its
 * start, and failureThreshold × periodSeconds after it last turned unready. A pod without a probe gets
 * `defaultGraceSeconds` from its start.
 */
export function readinessDeadlineMs(p: PodView, defaultGraceSeconds: number): number {
  const start = p.startedAtMs ?? p.createdAtMs;
  if (!p.readiness) return Math.max(start, p.notReadySinceMs ?? start) + defaultGraceSeconds * 1000;
  const failing = p.readiness.failureThreshold * p.readiness.periodSeconds * 1000;
  const probingFrom = start + p.readiness.initialDelaySeconds * 1000;
  return Math.max(probingFrom, p.notReadySinceMs ?? probingFrom) + failing;
}

/**
 * Restart counts per container as the bot has seen them, kept between evaluations by the caller.
 * A container first seen in a pod created before the tracker started is baselined at its current count
 * (its history was not watched); one in a pod created since starts at 0.
 */
export interface RestartTracker {
  startedAtMs: number;
  containers: Map<string, { last: number; increases: number[]; seenMs: number }>;
}

export function createRestartTracker(nowMs: number): RestartTracker {
  return { startedAtMs: nowMs, containers: new Map() };
}

/** Records what `pods` say now; returns, per container key, the restart increases within the window. */
export function trackRestarts(
  t: RestartTracker,
  pods: PodView[],
  nowMs: number,
  windowMs: number,
): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const live = new Set<string>();
  for (const p of pods) {
    for (const c of p.containers) {
      const key = `${p.uid}/${c.name}`;
      live.add(key);
      let seen = t.containers.get(key);
      if (!seen) {
        const watchedSinceBirth = p.createdAtMs >= t.startedAtMs;
        seen = { last: watchedSinceBirth ? 0 : c.restartCount, increases: [], seenMs: nowMs };
        t.containers.set(key, seen);
      }
      // A count that went down (the kubelet lost its status) is taken as the new baseline.
      for (let i = seen.last; i < c.restartCount; i++) seen.increases.push(nowMs);
      seen.last = c.restartCount;
      seen.increases = seen.increases.filter((at) => nowMs - at < windowMs);
      out.set(key, seen.increases);
    }
  }
  for (const key of t.containers.keys()) if (!live.has(key)) t.containers.delete(key);
  return out;
}

export interface TriggerSettings {
  restartCount: number;
  restartWindowSeconds: number;
  /** For pods without a readiness probe (procedure: 20 s). */
  readinessGraceSeconds: number;
}

export interface ConditionInput {
  deployment: DeploymentSnapshot;
  /** Pods of the current revision (the ReplicaSet whose template the Deployment has now). */
  pods: PodView[];
  now: Date;
  settings: TriggerSettings;
  restarts: RestartTracker;
}

const iso = (t: number) => new Date(t).toISOString();

export function evaluateConditions(i: ConditionInput): Condition[] {
  const d = i.deployment;
  const now = i.now.getTime();
  const out: Condition[] = [];
  const pods = i.pods.filter((p) => !p.deleting);
  const set = i.settings;

  const crashing = pods.filter((p) => p.containers.some((c) => c.waitingReason === 'CrashLoopBackOff'));
  out.push({
    name: 'CrashLoopBackOff',
    firing: pods.length > 0 && crashing.length === pods.length,
    summary: `${crashing.length}/${pods.length} pod(s) of the current revision in CrashLoopBackOff`,
    value: `${crashing.length}/${pods.length}`,
    threshold: 'all pods of the current revision',
    since: i.now.toISOString(),
  });

  const failingReady = pods
    .filter((p) => !p.ready)
    .map((p) => ({ p, deadline: readinessDeadlineMs(p, set.readinessGraceSeconds) }))
    .filter((x) => now >= x.deadline);
  const firstDeadline = Math.min(...failingReady.map((x) => x.deadline));
  out.push({
    name: 'ReadinessFailing',
    firing: failingReady.length > 0,
    summary: `${failingReady.length} pod(s) of the current revision not ready past their readiness probe budget`,
    value: `${failingReady.length} pod(s)`,
    threshold:
      'initialDelaySeconds + failureThreshold × periodSeconds of the pod (no probe: ' +
      `${set.readinessGraceSeconds}s)`,
    since: iso(Number.isFinite(firstDeadline) ? firstDeadline : now),
  });

  const windowMs = set.restartWindowSeconds * 1000;
  const increases = trackRestarts(i.restarts, pods, now, windowMs);
  let worst: { key: string; at: number[] } | undefined;
  for (const [key, at] of increases) if (!worst || at.length > worst.at.length) worst = { key, at };
  const climbing = worst !== undefined && worst.at.length >= set.restartCount;
  out.push({
    name: 'RestartsClimbing',
    firing: climbing,
    summary: worst
      ? `${worst.at.length} restart(s) of one container of the current revision in the last ${set.restartWindowSeconds}s`
      : 'no container restarts seen',
    value: String(worst?.at.length ?? 0),
    threshold: `≥ ${set.restartCount} restarts of one container within ${set.restartWindowSeconds}s`,
    since: iso(worst?.at[0] ?? now),
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

/** Pods of the current revision: the ReplicaSet's pod-template-hash (mid-rollout old pods do not count). */
export function currentRevisionPods(pods: PodView[], hash: string | undefined): PodView[] {
  return hash ? pods.filter((p) => p.podTemplateHash === hash) : [];
}
