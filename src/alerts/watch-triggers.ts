// Watches the catalogued Deployments and their pods (watch, not poll) and turns the procedure's
// automatic conditions into signals, like alerts. A change re-reads the Deployment and its current
// ReplicaSet (at most every 500 ms); a timer re-evaluates every 2 s from the watch caches alone, because
// readiness deadlines pass without any event. A condition is signalled when it starts and stops firing.
// Restart counts are baselined when this watcher first sees each container (conditions.ts).
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  ListWatch,
  makeInformer,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { workloadsPath } from '../kube/paths.js';
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

export function createWatchTriggers(o: {
  kc: KubeConfig;
  kube: KubePort;
  catalog: Catalog;
  logger: Logger;
  onSignals: (s: Signal[]) => void;
  now?: () => Date;
  tickMs?: number;
}) {
  const now = o.now ?? (() => new Date());
  const apps = o.kc.makeApiClient(AppsV1Api);
  const core = o.kc.makeApiClient(CoreV1Api);
  const informers: { stop(): Promise<void> }[] = [];
  const firing = new Map<string, boolean>();
  const restarts = new Map<string, RestartTracker>();
  const current = new Map<string, Current>();
  const podCaches = new Map<string, { list(): ReadonlyArray<V1Pod> }>();
  const timers = new Map<string, NodeJS.Timeout>();
  let ticker: NodeJS.Timeout | undefined;

  /** Re-reads the Deployment and its current ReplicaSet (on changes only). */
  async function refresh(svc: CatalogEntry): Promise<void> {
    const d = await o.kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
    const rs = findNewReplicaSet(d, ownedReplicaSets(d, await o.kube.listRevisions(d)));
    const hash = podHashOf(rs);
    current.set(svc.name, { deployment: d, hash });
  }

  function evaluate(svc: CatalogEntry): void {
    const cur = current.get(svc.name);
    const cache = podCaches.get(svc.name);
    if (!cur || !cache) return;
    const d = cur.deployment;
    const t = now();
    let tracker = restarts.get(svc.name);
    if (!tracker) {
      tracker = createRestartTracker(t.getTime());
      restarts.set(svc.name, tracker);
    }
    const pods = currentRevisionPods(cache.list().map(toPodView), cur.hash);
    const conditions = evaluateConditions({
      deployment: d,
      pods,
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

  function schedule(svc: CatalogEntry): void {
    if (timers.has(svc.name)) return;
    timers.set(
      svc.name,
      setTimeout(() => {
        timers.delete(svc.name);
        refresh(svc)
          .then(() => evaluate(svc))
          .catch((err: unknown) =>
            o.logger.warn('watch evaluation failed', { service: svc.name, error: (err as Error).message }),
          );
      }, DEBOUNCE_MS),
    );
  }

  function keepRunning(
    name: string,
    inf: { start(): Promise<void>; on(e: 'error', cb: (err?: unknown) => void): void },
  ) {
    inf.on('error', (err) => {
      o.logger.warn('informer error, restarting', { name, error: String(err) });
      setTimeout(() => void inf.start().catch(() => {}), 2000);
    });
  }

  return {
    async start(): Promise<void> {
      for (const svc of o.catalog.services.values()) {
        // List and watch by name (makeInformer cannot pass a field selector to its watch): the
        // Role then grants only the catalogued Deployments, even for list/watch.
        const byName = `metadata.name=${svc.deployment}`;
        const list = {
          Deployment: () =>
            apps.listNamespacedDeployment({ namespace: svc.namespace, fieldSelector: byName }),
          StatefulSet: () =>
            apps.listNamespacedStatefulSet({ namespace: svc.namespace, fieldSelector: byName }),
          DaemonSet: () => apps.listNamespacedDaemonSet({ namespace: svc.namespace, fieldSelector: byName }),
        }[svc.kind];
        const dep = new ListWatch(
          workloadsPath(svc.kind, svc.namespace),
          new Watch(o.kc),
          list as () => ReturnType<typeof apps.listNamespacedDeployment>,
          false,
          undefined,
          byName,
        );
        const selector = svc.podSelector;
        const pods = makeInformer(
          o.kc,
          `/api/v1/namespaces/${svc.namespace}/pods`,
          () =>
            core.listNamespacedPod({
              namespace: svc.namespace,
              ...(selector ? { labelSelector: selector } : {}),
            }),
          selector,
        );
        const changed = () => schedule(svc);
        for (const ev of ['add', 'update', 'delete'] as const) {
          dep.on(ev, changed);
          pods.on(ev, changed);
        }
        keepRunning(svc.name, dep);
        keepRunning(svc.name, pods);
        informers.push(dep, pods);
        podCaches.set(svc.name, pods);
        await Promise.all([dep.start(), pods.start()]);
      }
      ticker = setInterval(() => {
        for (const svc of o.catalog.services.values()) {
          try {
            evaluate(svc);
          } catch (err) {
            o.logger.warn('watch evaluation failed', { service: svc.name, error: (err as Error).message });
          }
        }
      }, o.tickMs ?? TICK_MS);
    },
    async stop(): Promise<void> {
      if (ticker) clearInterval(ticker);
      for (const t of timers.values()) clearTimeout(t);
      await Promise.all(informers.map((i) => i.stop().catch(() => {})));
    },
  };
}
