// `kubectl rollout status`, as a watch on the one workload: the condition is checked on every event,
// and the watch is re-opened (from the last resourceVersion, or afresh after 410 Gone) whenever the
// server or the network ends it, until the rollout is done, fails, or the timeout passes.
//
// With `act` (the undo), the watch is opened first and the change made once it is open. A watch opened
// after the patch (a GET, then a new TLS connection) was still connecting when a fast rollout finished:
// measured on the test world, the bot noticed completion 50-200 ms after a `kubectl get -w` that was
// already open (npm run bench, "completion noticed"). Opened first, the watch sees every change the
// patch causes as the apiserver sends it. That first watch needs no GET: without a resourceVersion
// the apiserver starts it with the object's current state.
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
    // While `act` runs, snapshots are only kept (the latest): the workload is still as it was before
    // the change, e.g. failed with a ProgressDeadlineExceeded the undo is about to clear.
    let acting = opts.act !== undefined;
    let acted = false;
    let gate: { generation: number; staleDeadlineBefore: Date } | undefined;
    let latest: WorkloadSnapshot | undefined;
    let initialWatch = opts.act !== undefined;

    const finish = (fn: () => void) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      abort?.abort();
      fn();
    };
    // The rollout's time starts once `act` has made the change: the wait never gives up while the patch
    // is in flight (a timeout then would leave a patch it did not see the end of).
    let timer: NodeJS.Timeout | undefined;
    const startTimer = () => {
      timer = setTimeout(() => {
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
    };
    if (!opts.act) startTimer();

    const evaluate = (d: WorkloadSnapshot) => {
      latest = d;
      if (acting) return;
      // An event from before the change, delivered after it (the watch's order is the apiserver's).
      if (gate && d.generation < gate.generation) return;
      const staleDeadlineBefore = gate?.staleDeadlineBefore ?? opts.staleDeadlineBefore;
      const status: RolloutStatus = rolloutStatus(d, staleDeadlineBefore ? { staleDeadlineBefore } : {});
      if (status.message !== lastMessage) {
        lastMessage = status.message;
        opts.onProgress?.(status, d);
      }
      if (status.state !== 'waiting') finish(() => resolve({ status, deployment: d }));
    };

    /** Runs `act` once, after the first watch attempt (a failing watch retries meanwhile; it never blocks the undo). */
    const runAct = () => {
      if (!opts.act || acted || finished) return;
      acted = true;
      opts.act().then(
        (g) => {
          gate = g;
          acting = false;
          if (!finished) startTimer();
          if (latest && !finished) evaluate(latest);
        },
        (err: unknown) => finish(() => reject(err)),
      );
    };

    const open = async (): Promise<void> => {
      if (finished) return;
      // A fresh list first: it evaluates the current state (like kubectl's initial list) and gives the
      // resourceVersion to watch from, so no change between list and watch is missed. Before `act`,
      // the workload has just been read by the caller: the watch's own initial state is enough.
      const fromNow = initialWatch;
      initialWatch = false;
      if (resourceVersion === undefined && !fromNow) {
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
        // Finished while connecting (timeout, act failed): this connection must not stay open.
        if (finished) abort.abort();
      } catch (err) {
        retry(err);
      }
      runAct();
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
