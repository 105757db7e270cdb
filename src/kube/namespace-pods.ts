// One pods informer per namespace, shared by every catalogued service there: the apiserver holds one
// watch per namespace however many services it has, and each pod is cached once. A service finds its
// pods in memory (podWorkload: the workload that controls a pod). The bot's Role allows pods list and
// watch in the whole namespace, so this needs no more rights than a per-service watch did.
import { CoreV1Api, type KubeConfig, ListWatch, type V1Pod, Watch } from '@kubernetes/client-node';
import type { WorkloadKind } from '../rollback/kube-types.js';
import type { Logger } from '../rollback/ports.js';

/** A failed list or a dropped watch is retried after this long (the informer keeps its cache). */
const RESTART_MS = 2000;

export interface NamespacePods {
  /** Lists and opens the watch of every namespace (in parallel); resolves once all are open. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The cached pods of `namespace` (empty before its first list). */
  list(namespace: string): ReadonlyArray<V1Pod>;
}

export function createNamespacePods(o: {
  kc: KubeConfig;
  namespaces: Iterable<string>;
  logger: Logger;
  /** Called for every added, changed or deleted pod (with its last state). */
  onPod: (pod: V1Pod) => void;
  /** The watch client; a test passes one that counts the watches it opens. */
  watch?: Watch;
  restartMs?: number;
}): NamespacePods {
  const core = o.kc.makeApiClient(CoreV1Api);
  const watch = o.watch ?? new Watch(o.kc);
  const informers = new Map<string, ListWatch<V1Pod>>();
  let stopped = false;
  for (const namespace of new Set(o.namespaces)) {
    const inf = new ListWatch<V1Pod>(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      watch,
      () => core.listNamespacedPod({ namespace }),
      false,
    );
    for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, o.onPod);
    inf.on('error', (err) => {
      if (stopped) return;
      o.logger.warn('informer error, restarting', { name: `pods/${namespace}`, error: String(err) });
      setTimeout(() => {
        if (stopped) return;
        // start() reports a failed list through the error callback above, which retries again.
        inf.start().catch((e: unknown) => {
          o.logger.warn('informer restart failed', { name: `pods/${namespace}`, error: String(e) });
        });
      }, o.restartMs ?? RESTART_MS);
    });
    informers.set(namespace, inf);
  }
  return {
    async start() {
      stopped = false;
      await Promise.all([...informers.values()].map((i) => i.start()));
    },
    async stop() {
      stopped = true;
      await Promise.all([...informers.values()].map((i) => i.stop()));
    },
    list: (namespace) => informers.get(namespace)?.list(namespace) ?? [],
  };
}

/**
 * The workload that controls `pod`: its StatefulSet or DaemonSet, or for a Deployment's pod the
 * Deployment whose ReplicaSet (named `<deployment>-<pod-template-hash>`) owns it.
 */
export function podWorkload(pod: V1Pod): { kind: WorkloadKind; name: string } | undefined {
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller);
  if (!owner) return undefined;
  if (owner.kind === 'StatefulSet' || owner.kind === 'DaemonSet')
    return { kind: owner.kind, name: owner.name };
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`))
    return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
  return undefined;
}
