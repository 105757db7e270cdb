// Runs one catalog command (a schema check, a cleanup command, an integrity check) where the catalog
// says, and never throws: whatever happened (exit code, timeout, no pod, no rights) comes back as a
// result for a person to read. With a podSelector: exec in a running pod it selects, in the service's
// namespace (the procedure's `kubectl exec $(kubectl get pod -l app=db …)`). Without: as the migration
// commands run, in a running container of the workload's current revision, else a Job from its
// template (run-in-current-revision.ts).
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError } from '../errors.js';
import { redactText } from './command-output.js';
import type { DeploymentSnapshot, PodSnapshot, ReplicaSetSnapshot, WorkloadKind } from './kube-types.js';
import type { RunDeps } from './run-in-current-revision.js';
import { removeJob, runThere, whereToRun } from './run-in-current-revision.js';

export interface PodCommandSpec {
  command: string[];
  podSelector?: string | undefined;
  container?: string | undefined;
  timeoutSeconds: number;
}

export interface PodCommandRun {
  argv: string[];
  /** Where it ran (or would have): `pod db-7c9f…`, `Job rb-…`, `pods app=db`. */
  where: string;
  /** undefined when it could not be run or did not finish (see error). */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  error?: string;
  ms: number;
}

/** Where a command without a podSelector runs: the workload as it is now. */
export interface RunTarget {
  id: string;
  namespace: string;
  kind: WorkloadKind;
  deployment: string;
}

/** A running pod to exec into: Ready ones first (a pod that serves is a pod that works). */
export function pickRunningPod(pods: PodSnapshot[], container: string | undefined): PodSnapshot | undefined {
  const runnable = pods.filter(
    (p) =>
      p.phase === 'Running' &&
      !p.deleting &&
      p.containers.some((c) => (container ? c.name === container : true) && c.running),
  );
  return runnable.find((p) => p.ready) ?? runnable[0];
}

/** What a spec says about where it runs, before it runs (for the thread's list of commands). */
export function describePlace(spec: Pick<PodCommandSpec, 'podSelector' | 'container'>): string {
  const c = spec.container ? ` (container ${spec.container})` : '';
  return spec.podSelector ? `a pod selected by ${spec.podSelector}${c}` : `a pod of the current revision${c}`;
}

export async function runPodCommand(
  deps: RunDeps,
  input: {
    svc: CatalogEntry;
    target: RunTarget;
    spec: PodCommandSpec;
    /** Names a Job when one is needed: unique per rollback and purpose (DNS label characters). */
    purpose: string;
    /** The workload and its revisions, when the caller has just read them. */
    workload?: { d: DeploymentSnapshot; sets: ReplicaSetSnapshot[] };
  },
): Promise<PodCommandRun> {
  const { kube, clock } = deps;
  const { svc, target, spec } = input;
  const argv = spec.command;
  const timeoutMs = spec.timeoutSeconds * 1000;
  const started = clock.now().getTime();
  const ms = () => clock.now().getTime() - started;
  let where = spec.podSelector ? `pods ${spec.podSelector}` : 'the current revision';
  try {
    if (spec.podSelector) {
      const pods = await kube.listPods(target.namespace, spec.podSelector);
      const pod = pickRunningPod(pods, spec.container);
      if (!pod)
        return {
          argv,
          where,
          exitCode: undefined,
          stdout: '',
          stderr: '',
          error: `no running pod matches ${spec.podSelector} in ${target.namespace}${pods.length ? ` (${pods.length} found, none running${spec.container ? ` container ${spec.container}` : ''})` : ''}`,
          ms: ms(),
        };
      where = `pod ${pod.name}`;
      const res = await kube.exec(target.namespace, pod.name, spec.container, argv, timeoutMs);
      return { argv, where, exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr, ms: ms() };
    }
    const d =
      input.workload?.d ?? (await kube.readWorkload(target.kind, target.namespace, target.deployment));
    const sets = input.workload?.sets ?? (await kube.listRevisions(d));
    const place = await whereToRun(kube, svc, d, sets, target.id, input.purpose, spec.container);
    where = place.via === 'exec' ? `pod ${place.pod}` : `Job ${place.job}`;
    try {
      const res = await runThere(deps, {
        svc,
        d,
        sets,
        where: place,
        argv,
        timeoutMs,
        rollbackId: target.id,
        purpose: input.purpose,
      });
      return { argv, where, exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr, ms: ms() };
    } finally {
      if (place.via === 'job') await removeJob(deps, d.namespace, place.job);
    }
  } catch (err) {
    const e = asCodedError(err);
    const logs = typeof e.details?.logs === 'string' ? e.details.logs : '';
    return {
      argv,
      where,
      exitCode: undefined,
      stdout: logs,
      stderr: '',
      error: redactText(e.message),
      ms: ms(),
    };
  }
}

/** One line: how the command ended. */
export function outcomeOf(run: PodCommandRun): string {
  if (run.exitCode === undefined) return `could not run: ${run.error ?? 'unknown error'}`;
  return `exited ${run.exitCode}`;
}
