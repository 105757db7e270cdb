// Watches the pods of the catalogued workloads (watch, not poll) and turns the procedure's automatic
// conditions into signals, like alerts. The watches are per namespace, not per service: one shared
// pods informer per namespace (kube/namespace-pods.ts), each service finding its own pods in memory by
// owner and podSelector, so the apiserver holds as many watches for 200 services as for 20 in the same
// namespaces. The workloads themselves are not watched: the Role grants them by name only, and a
// watch by name is one watch per service. What a workload does shows in its pods (a new revision, a
// scale, an undo all create or delete pods), so a pod change re-reads the workload and its current
// revision (debounced 500 ms, a few reads at a time). What does not show in pods is a Deployment's
// rollout running out of time (ProgressDeadlineExceeded is a status condition only): while a
// Deployment is mid-rollout it is re-read on every tick until it completes or is declared stuck.
// A timer re-evaluates every 2 s from the caches alone, because readiness deadlines pass without any
// event. A condition is signalled when it starts and stops firing. Restart counts are baselined when
// this watcher first sees each container (conditions.ts).
import type { V1Pod, Watch } from '@kubernetes/client-node';
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import type { KubeAccess } from '../kube/kube-access.js';
import { parseLabelSelector } from '../kube/label-selector.js';
import { createNamespacePods, podWorkload } from '../kube/namespace-pods.js';
import type { DeploymentSnapshot } from '../rollback/kube-types.js';
import type { KubePort, Logger } from '../rollback/ports.js';
import { findNewReplicaSet, ownedReplicaSets, podHashOf } from '../rollback/revisions.js';
import type { Signal, SignalKind } from '../rollback/signal.js';
import {
  type Condition,
  createRestartTracker,
  currentRevisionPods,
  evaluateConditions,
  type RestartTracker,
  toPodView,
} from './conditions.js';

const DEBOUNCE_MS = 500;
/** Workload re-reads in flight at once: a start with 200 services does not burst 400 requests. */
const MAX_REFRESHES = 8;
const KIND: Record<Condition['name'], SignalKind> = {
  CrashLoopBackOff: 'crash_loop',
  ReadinessFailing: 'not_ready',
  RestartsClimbing: 'restarts',
  ProgressDeadlineExceeded: 'rollout_stuck',
};
/** Readiness deadlines expire without events: re-evaluate from the caches this often. */
export const TICK_MS = 2000;

interface Current {
  deployment: DeploymentSnapshot;
  hash: string | undefined;
}

const workloadKey = (namespace: string, kind: string, name: string) => `${namespace}/${kind}/${name}`;

/**
 * A Deployment whose rollout may still run out of its progress deadline: not paused, with a
 * Progressing condition that says neither complete (NewReplicaSetAvailable, observed) nor stuck.
 */
function midRollout(d: DeploymentSnapshot): boolean {
  if (d.kind !== 'Deployment' || d.paused) return false;
  const p = d.status.conditions.find((c) => c.type === 'Progressing');
  if (!p || p.reason === 'ProgressDeadlineExceeded') return false;
  return !(p.reason === 'NewReplicaSetAvailable' && d.status.observedGeneration >= d.generation);
}

export function createWatchTriggers(o: {
  kc: KubeAccess;
  kube: KubePort;
  catalog: Catalog;
  logger: Logger;
  onSignals: (s: Signal[]) => void;
  now?: () => Date;
  tickMs?: number;
  /** The watch client of the shared informers; a test passes one that counts the watches opened. */
  watch?: Watch;
}) {
  const now = o.now ?? (() => new Date());
  const services = [...o.catalog.services.values()];
  const byWorkload = new Map<string, CatalogEntry[]>();
  const selects = new Map<string, (labels: Readonly<Record<string, string>>) => boolean>();
  for (const svc of services) {
    const key = workloadKey(svc.namespace, svc.kind, svc.deployment);
    byWorkload.set(key, [...(byWorkload.get(key) ?? []), svc]);
    selects.set(svc.name, parseLabelSelector(svc.podSelector));
  }
  const firing = new Map<string, boolean>();
  const restarts = new Map<string, RestartTracker>();
  const current = new Map<string, Current>();
  /** Deployments mid-rollout: re-read every tick (their deadline passes without a pod event). */
  const rolling = new Set<CatalogEntry>();
  const timers = new Map<string, NodeJS.Timeout>();
  const queue: CatalogEntry[] = [];
  let active = 0;
  let ticker: NodeJS.Timeout | undefined;
  let stopped = false;

  const pods = createNamespacePods({
    kc: o.kc,
    namespaces: services.map((s) => s.namespace),
    logger: o.logger,
    ...(o.watch ? { watch: o.watch } : {}),
    onPod: (pod) => {
      const w = podWorkload(pod);
      if (!w) return;
      for (const svc of byWorkload.get(workloadKey(pod.metadata?.namespace ?? '', w.kind, w.name)) ?? [])
        schedule(svc);
    },
  });

  /** The cached pods of each catalogued workload, grouped in one pass over each namespace. */
  function podsByWorkload(): Map<string, V1Pod[]> {
    const out = new Map<string, V1Pod[]>();
    for (const namespace of new Set(services.map((s) => s.namespace))) {
      for (const pod of pods.list(namespace)) {
        const w = podWorkload(pod);
        if (!w) continue;
        const key = workloadKey(namespace, w.kind, w.name);
        if (!byWorkload.has(key)) continue;
        const list = out.get(key);
        if (list) list.push(pod);
        else out.set(key, [pod]);
      }
    }
    return out;
  }

  /** Re-reads the workload and its current revision (on changes, and each tick mid-rollout). */
  async function refresh(svc: CatalogEntry): Promise<void> {
    const d = await o.kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
    const rs = findNewReplicaSet(d, ownedReplicaSets(d, await o.kube.listRevisions(d)));
    const hash = podHashOf(rs);
    current.set(svc.name, { deployment: d, hash });
    if (midRollout(d)) rolling.add(svc);
    else rolling.delete(svc);
  }

  function evaluate(svc: CatalogEntry, workloadPods: ReadonlyArray<V1Pod>): void {
    const cur = current.get(svc.name);
    if (!cur) return;
    const d = cur.deployment;
    const t = now();
    let tracker = restarts.get(svc.name);
    if (!tracker) {
      tracker = createRestartTracker(t.getTime());
      restarts.set(svc.name, tracker);
    }
    const select = selects.get(svc.name);
    const mine = workloadPods.filter((p) => select?.(p.metadata?.labels ?? {}) ?? true);
    const conditions = evaluateConditions({
      deployment: d,
      pods: currentRevisionPods(mine.map(toPodView), cur.hash),
      now: t,
      settings: {
        restartCount: svc.triggers.restarts.count,
        restartWindowSeconds: svc.triggers.restarts.windowSeconds,
        readinessGraceSeconds: svc.triggers.readinessGraceSeconds,
      },
      restarts: tracker,
    });
    const signals: Signal[] = [];
    for (const c of conditions) {
      const key = `watch:${svc.namespace}/${svc.deployment}:${c.name}`;
      const was = firing.get(key) ?? false;
      if (c.firing === was) continue;
      firing.set(key, c.firing);
      signals.push({
        service: svc.name,
        source: 'watch',
        name: c.name,
        status: c.firing ? 'firing' : 'resolved',
        key: `${key}:${d.annotations['deployment.kubernetes.io/revision'] ?? '0'}`,
        summary: c.summary,
        why: { value: c.value, threshold: c.threshold, since: c.since },
        kind: KIND[c.name],
      });
    }
    if (signals.length) o.onSignals(signals);
  }

  const podsOf = (svc: CatalogEntry) =>
    pods.list(svc.namespace).filter((p) => {
      const w = podWorkload(p);
      return w?.kind === svc.kind && w.name === svc.deployment;
    });

  /** Runs queued re-reads, at most MAX_REFRESHES at once, each followed by an evaluation. */
  function drain(): void {
    while (!stopped && active < MAX_REFRESHES && queue.length) {
      const svc = queue.shift() as CatalogEntry;
      active++;
      refresh(svc)
        .then(() => {
          if (!stopped) evaluate(svc, podsOf(svc));
        })
        .catch((err: unknown) => {
          // Logged and retried by the next pod change; a workload that is gone stops being re-read.
          rolling.delete(svc);
          o.logger.warn('watch evaluation failed', { service: svc.name, error: (err as Error).message });
        })
        .finally(() => {
          active--;
          firstReads(svc);
          drain();
        });
    }
  }

  /** Workloads not yet read since start; logged once all are (the start-up reads are over). */
  const unread = new Set<CatalogEntry>();
  let startedMs = 0;
  function firstReads(svc: CatalogEntry): void {
    if (!unread.delete(svc) || unread.size) return;
    o.logger.info('watch triggers: every workload read', {
      services: services.length,
      ms: Math.round(performance.now() - startedMs),
    });
  }

  function schedule(svc: CatalogEntry): void {
    if (stopped || timers.has(svc.name)) return;
    timers.set(
      svc.name,
      setTimeout(() => {
        timers.delete(svc.name);
        if (!queue.includes(svc)) queue.push(svc);
        drain();
      }, DEBOUNCE_MS),
    );
  }

  return {
    async start(): Promise<void> {
      stopped = false;
      startedMs = performance.now();
      for (const svc of services) unread.add(svc);
      await pods.start();
      // Every workload is read once at start, with or without pods (a Deployment that cannot create
      // any, e.g. over its quota, still runs out of its progress deadline).
      for (const svc of services) schedule(svc);
      ticker = setInterval(() => {
        for (const svc of rolling) schedule(svc);
        const grouped = podsByWorkload();
        for (const svc of services) {
          try {
            evaluate(svc, grouped.get(workloadKey(svc.namespace, svc.kind, svc.deployment)) ?? []);
          } catch (err) {
            o.logger.warn('watch evaluation failed', { service: svc.name, error: (err as Error).message });
          }
        }
      }, o.tickMs ?? TICK_MS);
    },
    async stop(): Promise<void> {
      stopped = true;
      if (ticker) clearInterval(ticker);
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      queue.length = 0;
      await pods.stop();
    },
  };
}
