// Runs a migration command with the CURRENT (newer) revision's image: only that image knows the
// down-migrations (DESIGN.md). First choice: exec into a running container of a pod of the current
// ReplicaSet (by pod-template-hash). When there is none (the release crash-loops, and a kubelet
// refuses exec into a container that is not running), a Job built from that revision's template.
// Never a pod of another revision, whose image may not know the newer head.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError, CodedError, isCodedError } from '../errors.js';
import type { DeploymentSnapshot, ReplicaSetSnapshot } from './kube-types.js';
import { buildMigrationJob, migrationJobName } from './migration-job.js';
import type { Clock, ExecResult, KubePort, Logger } from './ports.js';
import { findNewReplicaSet, ownedReplicaSets, podHashOf, withoutHash } from './revisions.js';

export type Where =
  | { via: 'exec'; pod: string; container: string | undefined; revisionHash: string }
  | { via: 'job'; job: string; container: string | undefined; revisionHash: string };

export interface RunDeps {
  kube: KubePort;
  clock: Clock;
  /** Told when a Job could not be removed once its outcome was read. */
  logger: Pick<Logger, 'warn'>;
  /** How often a Job is polled. */
  pollMs?: number;
}

/**
 * Removes a Job whose outcome is read. A failure does not change that outcome, so it is logged, not
 * thrown; the Job's ttlSecondsAfterFinished removes it later.
 */
export async function removeJob(deps: RunDeps, namespace: string, job: string): Promise<void> {
  await deps.kube.deleteJob(namespace, job).catch((err: unknown) =>
    deps.logger.warn(
      'Job not removed after its outcome was read; its ttlSecondsAfterFinished will remove it',
      {
        namespace,
        job,
        error: asCodedError(err).message,
      },
    ),
  );
}

function containerName(
  svc: CatalogEntry,
  rs: ReplicaSetSnapshot,
  override: string | undefined,
): string | undefined {
  const wanted = override ?? svc.migrations?.container ?? svc.container;
  if (wanted) return wanted;
  const containers = ((rs.template.spec as { containers?: { name?: string }[] } | undefined)?.containers ??
    []) as { name?: string }[];
  return containers[0]?.name;
}

/**
 * Where a command for `purpose` would run now, for the current revision of `d`: in `container` when
 * given, else the migrations' container, the service's, or the template's first.
 */
export async function whereToRun(
  kube: KubePort,
  svc: CatalogEntry,
  d: DeploymentSnapshot,
  sets: ReplicaSetSnapshot[],
  rollbackId: string,
  purpose: string,
  container?: string,
): Promise<Where> {
  const rs = findNewReplicaSet(d, ownedReplicaSets(d, sets));
  if (!rs) {
    throw new CodedError(
      'kube_exec_failed',
      `${d.namespace}/${d.name} has no revision (ReplicaSet or ControllerRevision) for its current template, so there is no current image to run with`,
    );
  }
  const hash = podHashOf(rs) ?? '';
  const chosen = containerName(svc, rs, container);
  const pods = await kube.listPods(d.namespace, svc.podSelector ?? d.selector);
  const pod = pods.find(
    (p) =>
      p.podTemplateHash === hash &&
      p.phase === 'Running' &&
      !p.deleting &&
      p.containers.some((c) => (chosen ? c.name === chosen : true) && c.running),
  );
  if (pod) return { via: 'exec', pod: pod.name, container: chosen, revisionHash: hash };
  return { via: 'job', job: migrationJobName(rollbackId, purpose), container: chosen, revisionHash: hash };
}

/**
 * Runs argv where `whereToRun` said. For a Job: one per rollback and purpose; if it exists already
 * (a resumed rollback), its outcome is awaited instead of starting a second one. Its logs are the
 * output. Throws kube_exec_failed / kube_job_failed with the reason, and on timeout.
 */
export async function runThere(
  deps: RunDeps,
  input: {
    svc: CatalogEntry;
    d: DeploymentSnapshot;
    sets: ReplicaSetSnapshot[];
    where: Where;
    argv: string[];
    timeoutMs: number;
    rollbackId: string;
    purpose: string;
    /** false: only await a Job that exists (a resumed downgrade), never start one. */
    create?: boolean;
  },
): Promise<ExecResult> {
  const { kube, clock } = deps;
  const { d, where } = input;
  if (where.via === 'exec')
    return kube.exec(d.namespace, where.pod, where.container, input.argv, input.timeoutMs);

  const rs = findNewReplicaSet(d, ownedReplicaSets(d, input.sets));
  if (!rs)
    throw new CodedError('kube_job_failed', 'the current revision has no ReplicaSet to build a Job from');
  const existing = await kube.readJob(d.namespace, where.job);
  if (!existing && input.create === false)
    throw new CodedError(
      'kube_job_failed',
      `Job ${d.namespace}/${where.job} is gone; it is not started again`,
    );
  if (!existing) {
    const job = buildMigrationJob({
      name: where.job,
      rollbackId: input.rollbackId,
      purpose: input.purpose,
      template: withoutHash(rs.template),
      container: where.container,
      argv: input.argv,
      timeoutSeconds: Math.max(1, Math.ceil(input.timeoutMs / 1000)),
    });
    try {
      await kube.createJob(d.namespace, job);
    } catch (err) {
      if (!isCodedError(err, 'kube_conflict')) throw err; // a racing resume made it: await that one
    }
  }
  const deadline = clock.now().getTime() + input.timeoutMs + 15_000;
  for (;;) {
    const j = await kube.readJob(d.namespace, where.job);
    if (!j)
      throw new CodedError(
        'kube_job_failed',
        `Job ${d.namespace}/${where.job} disappeared before it finished`,
      );
    if (j.finished) {
      const pods = await kube.listPods(d.namespace, `job-name=${where.job}`);
      const pod = pods[0];
      const logs = pod
        ? await kube
            .readLogs(d.namespace, pod.name, { tailLines: 200, limitBytes: 64 * 1024 })
            .catch((e: Error) => `(logs unavailable: ${e.message})`)
        : '(no pod)';
      const exitCode = pod?.containers[0]?.exitCode ?? (j.finished.type === 'Complete' ? 0 : 1);
      if (j.finished.type === 'Failed' && j.finished.reason === 'DeadlineExceeded') {
        throw new CodedError(
          'kube_job_failed',
          `Job ${where.job} timed out (${j.finished.message ?? 'deadline exceeded'})`,
          {
            details: { logs },
          },
        );
      }
      return { stdout: logs, stderr: '', exitCode };
    }
    if (clock.now().getTime() > deadline)
      throw new CodedError(
        'kube_job_failed',
        `Job ${d.namespace}/${where.job} did not finish in ${input.timeoutMs} ms`,
      );
    await clock.sleep(deps.pollMs ?? 1000);
  }
}
