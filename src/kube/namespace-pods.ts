// One pods informer per namespace, shared by every catalogued service there: the apiserver holds one
// watch per namespace however many services it has, and each pod is cached once. A service finds its
// pods in memory (podWorkload: the workload that controls a pod). The bot's Role allows pods list and
// watch in the whole namespace, so this needs no more rights than a per-service watch did.
import type { V1Pod } from '@kubernetes/client-node';
// The library's Watch module alone: its index (and its ListWatch, through the model serializer) loads
// the whole generated API, ≈ 65 MB resident (see kube-access.ts). The list is a raw GET.
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { WorkloadKind } from '../rollback/kube-types.js';
import type { Logger } from '../rollback/ports.js';
import { asClientConfig, type KubeAccess } from './kube-access.js';
import { rawGetJson } from './raw-request.js';

/** A failed list or a dropped watch is retried after this long (the cache is kept meanwhile). */
const RESTART_MS = 2000;
/** Server-side watch timeout: a silently dead connection is replaced within this. */
const WATCH_SECONDS = 300;

export interface NamespacePods {
  /** Lists and opens the watch of every namespace (in parallel); resolves once all are open. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The cached pods of `namespace` (empty before its first list). */
  list(namespace: string): ReadonlyArray<V1Pod>;
}

interface PodList {
  metadata?: { resourceVersion?: string };
  items?: V1Pod[];
}

const keyOf = (p: V1Pod) => p.metadata?.uid ?? p.metadata?.name ?? '';

export function createNamespacePods(o: {
  kc: KubeAccess;
  namespaces: Iterable<string>;
  logger: Logger;
  /** Called for every added, changed or deleted pod (with its last state). */
  onPod: (pod: V1Pod) => void;
  /** The watch client; a test passes one that counts the watches it opens. */
  watch?: Watch;
  restartMs?: number;
}): NamespacePods {
  const watch = o.watch ?? new Watch(asClientConfig(o.kc));
  const restartMs = o.restartMs ?? RESTART_MS;
  const caches = new Map<string, Map<string, V1Pod>>();
  const aborts = new Map<string, AbortController>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  for (const namespace of new Set(o.namespaces)) caches.set(namespace, new Map());

  /** Lists the namespace's pods: the cache becomes the list, each difference reported. */
  async function relist(namespace: string): Promise<string | undefined> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
    const list = await rawGetJson<PodList>(o.kc, path, `pods in ${namespace}`);
    const cache = caches.get(namespace) ?? new Map<string, V1Pod>();
    const seen = new Set<string>();
    for (const pod of list.items ?? []) {
      const key = keyOf(pod);
      seen.add(key);
      const old = cache.get(key);
      cache.set(key, pod);
      if (old?.metadata?.resourceVersion !== pod.metadata?.resourceVersion) o.onPod(pod);
    }
    for (const [key, pod] of cache) {
      if (seen.has(key)) continue;
      cache.delete(key);
      o.onPod(pod);
    }
    return list.metadata?.resourceVersion;
  }

  function later(namespace: string, why: unknown): void {
    if (stopped) return;
    o.logger.warn('informer error, restarting', { name: `pods/${namespace}`, error: String(why) });
    const t = setTimeout(() => {
      timers.delete(t);
      void run(namespace).catch((err: unknown) => later(namespace, err));
    }, restartMs);
    timers.add(t);
  }

  /** List, then watch from the list's resourceVersion; re-opened from the last one seen when it ends. */
  async function run(namespace: string, from?: string): Promise<void> {
    if (stopped) return;
    let rv = from ?? (await relist(namespace));
    const cache = caches.get(namespace) ?? new Map<string, V1Pod>();
    let gone = false;
    const abort = await watch.watch(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS },
      (type: string, pod: V1Pod & { code?: number }) => {
        if (type === 'BOOKMARK') rv = pod.metadata?.resourceVersion ?? rv;
        else if (type === 'ADDED' || type === 'MODIFIED') {
          rv = pod.metadata?.resourceVersion ?? rv;
          cache.set(keyOf(pod), pod);
          o.onPod(pod);
        } else if (type === 'DELETED') {
          rv = pod.metadata?.resourceVersion ?? rv;
          cache.delete(keyOf(pod));
          o.onPod(pod);
        } else if (type === 'ERROR') gone = pod.code === 410; // too old: list again
      },
      (err: unknown) => {
        aborts.delete(namespace);
        if (stopped) return;
        if (err) later(namespace, err);
        else void run(namespace, gone ? undefined : rv).catch((e: unknown) => later(namespace, e));
      },
    );
    if (stopped) abort.abort();
    else aborts.set(namespace, abort);
  }

  return {
    async start() {
      stopped = false;
      // A namespace that cannot be listed yet is retried, not fatal: alerts still reach the bot, and
      // its watch conditions start as soon as the list succeeds (the warning says which namespace).
      await Promise.all([...caches.keys()].map((ns) => run(ns).catch((err: unknown) => later(ns, err))));
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const a of aborts.values()) a.abort();
      aborts.clear();
    },
    list: (namespace) => [...(caches.get(namespace)?.values() ?? [])],
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
