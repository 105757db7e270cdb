// `kubectl rollout status`, as a watch on the one workload: the condition is checked on every event,
// and the watch is re-opened (from the last resourceVersion, or afresh after 410 Gone) whenever the
// server or the network ends it, until the rollout is done, fails, or the timeout passes.
// The library's Watch module alone: its index loads the whole generated API (see kube-access.ts).
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import { CodedError } from '../errors.js';
import type { WorkloadKind, WorkloadSnapshot } from '../rollback/kube-types.js';
import type { KubePort } from '../rollback/ports.js';
import { type RolloutStatus, rolloutStatus } from '../rollback/rollout-status.js';
import { asClientConfig, type KubeAccess } from './kube-access.js';
import { workloadsPath } from './paths.js';
import { toWorkload } from './snapshots.js';

type Opts = Parameters<KubePort['waitForRollout']>[3];
type Result = Awaited<ReturnType<KubePort['waitForRollout']>>;

/** Server-side watch timeout: short enough that a silently dead connection is replaced quickly. */
const WATCH_SECONDS = 60;

export function waitForRollout(
  kc: KubeAccess,
  readWorkload: (kind: WorkloadKind, ns: string, name: string) => Promise<WorkloadSnapshot>,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  opts: Opts,
): Promise<Result> {
  const watch = new Watch(asClientConfig(kc));
  const path = workloadsPath(kind, namespace);
  return new Promise<Result>((resolve, reject) => {
    let finished = false;
    let resourceVersion: string | undefined;
    let abort: AbortController | undefined;
    let lastMessage = '';
    let failures = 0;

    const finish = (fn: () => void) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      abort?.abort();
      fn();
    };
    const timer = setTimeout(() => {
      finish(() =>
        reject(
          new CodedError(
            'rollback_timeout',
            `timed out waiting for the rollout of ${namespace}/${name} (${lastMessage || 'no status yet'})`,
            {
              remedy: 'Check the pods of the target revision; the thread has the last status.',
              details: { lastMessage },
            },
          ),
        ),
      );
    }, opts.timeoutMs);

    const evaluate = (d: WorkloadSnapshot) => {
      const status: RolloutStatus = rolloutStatus(
        d,
        opts.staleDeadlineBefore ? { staleDeadlineBefore: opts.staleDeadlineBefore } : {},
      );
      if (status.message !== lastMessage) {
        lastMessage = status.message;
        opts.onProgress?.(status, d);
      }
      if (status.state !== 'waiting') finish(() => resolve({ status, deployment: d }));
    };

    const open = async (): Promise<void> => {
      if (finished) return;
      // A fresh list first: it evaluates the current state (like kubectl's initial list) and gives the
      // resourceVersion to watch from, so no change between list and watch is missed.
      if (resourceVersion === undefined) {
        try {
          const d = await readWorkload(kind, namespace, name);
          resourceVersion = d.resourceVersion;
          evaluate(d);
          if (finished) return;
        } catch (err) {
          if ((err as CodedError).code === 'kube_not_found') {
            finish(() =>
              reject(
                new CodedError(
                  'rollback_deployment_deleted',
                  `${kind} ${namespace}/${name} has been deleted`,
                ),
              ),
            );
            return;
          }
          return retry(err);
        }
      }
      try {
        abort = await watch.watch(
          path,
          {
            fieldSelector: `metadata.name=${name}`,
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: WATCH_SECONDS,
          },
          (type, obj) => {
            failures = 0;
            if (type === 'BOOKMARK') {
              resourceVersion = obj?.metadata?.resourceVersion ?? resourceVersion;
            } else if (type === 'ADDED' || type === 'MODIFIED') {
              resourceVersion = obj.metadata.resourceVersion;
              evaluate(toWorkload(obj, kind));
            } else if (type === 'DELETED') {
              finish(() =>
                reject(
                  new CodedError(
                    'rollback_deployment_deleted',
                    `${kind} ${namespace}/${name} has been deleted`,
                  ),
                ),
              );
            } else if (type === 'ERROR') {
              // 410 Gone: our resourceVersion is too old; list again.
              if (obj?.code === 410) resourceVersion = undefined;
            }
          },
          (err) => {
            if (finished) return;
            if (err) retry(err);
            else void open();
          },
        );
      } catch (err) {
        retry(err);
      }
    };

    const retry = (err: unknown) => {
      if (finished) return;
      failures += 1;
      const code =
        (err as { statusCode?: number; code?: number }).statusCode ?? (err as { code?: number }).code;
      if (code === 410) resourceVersion = undefined;
      const delay = Math.min(250 * 2 ** Math.min(failures, 6), 5000);
      setTimeout(() => void open(), delay);
    };

    void open();
  });
}
