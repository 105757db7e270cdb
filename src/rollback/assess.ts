// Step 1 of the procedure: gather everything an SRE would look at, in parallel, each source bounded
// in time and failing alone, and name the target revision with the reason.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError } from '../errors.js';
import { bounded, fillQuery } from './bounded.js';
import { buildFindings } from './findings.js';
import { detectOwner, type GitOpsAssessment, type GitOpsOwner, gitopsPlan, ownerSync } from './gitops.js';
import type { DeploymentSnapshot, PodSnapshot, ReplicaSetSnapshot, WorkloadSnapshot } from './kube-types.js';
import { parseCurrentHead } from './migration-heads.js';
import type { Assessment, MetricsReading, MigrationState, RevisionRef, Source } from './model.js';
import type { KubePort, ObservePort } from './ports.js';
import {
  buildHistory,
  chooseTarget,
  findNewReplicaSet,
  imagesOf,
  ownedReplicaSets,
  podHashOf,
  revisionOf,
  templateAnnotations,
} from './revisions.js';

export interface AssessDeps {
  kube: KubePort;
  observe: ObservePort;
  now: () => Date;
  /** Per-source time limit. */
  sourceTimeoutMs: number;
}

const unavailable = (why: string): Source<never> => ({ ok: false, unavailable: why, ms: 0 });

function ref(rs: ReplicaSetSnapshot): RevisionRef {
  return {
    revision: revisionOf(rs) ?? 0,
    replicaSet: rs.name,
    images: imagesOf(rs.template),
    changeCause: rs.annotations['kubernetes.io/change-cause'],
    createdAt: rs.creationTimestamp,
  };
}

/** Desired, updated, ready and available pods, whatever the kind (a DaemonSet counts scheduled pods). */
function replicaCounts(d: WorkloadSnapshot) {
  const s = d.status;
  if (d.kind === 'DaemonSet')
    return {
      replicas: s.desiredNumberScheduled ?? 0,
      updated: s.updatedNumberScheduled ?? 0,
      ready: s.numberReady ?? 0,
      available: s.numberAvailable ?? 0,
    };
  return {
    replicas: d.replicas ?? 0,
    updated: s.updatedReplicas,
    ready: s.readyReplicas,
    available: d.kind === 'StatefulSet' ? (s.availableReplicas ?? s.readyReplicas) : s.availableReplicas,
  };
}

/** Reads the owner and the bot's right to patch it; what cannot be read is said, never guessed. */
async function assessOwner(
  deps: AssessDeps,
  svc: CatalogEntry,
  owner: GitOpsOwner,
): Promise<GitOpsAssessment> {
  const t = deps.sourceTimeoutMs;
  const [obj, may] = await Promise.all([
    bounded(t, () => deps.kube.readOwner(owner)),
    bounded(t, () => deps.kube.mayPatchOwner(owner)),
  ]);
  const read = !obj.ok
    ? { unreadable: obj.unavailable }
    : obj.value === undefined
      ? { unreadable: 'it does not exist (or its CRD is not installed)' }
      : { sync: ownerSync(owner, obj.value) };
  const mayPatch = may.ok ? may.value : `the access review failed: ${may.unavailable}`;
  return gitopsPlan(owner, svc.gitops, read, mayPatch);
}

/** Pods worth reading logs from: not ready first (that is where the errors are), at most three. */
function logCandidates(pods: PodSnapshot[]): PodSnapshot[] {
  return [...pods].sort((a, b) => Number(a.ready) - Number(b.ready)).slice(0, 3);
}

export async function assess(deps: AssessDeps, svc: CatalogEntry, toRevision: number): Promise<Assessment> {
  const { kube, observe } = deps;
  const t = deps.sourceTimeoutMs;
  const vars = { namespace: svc.namespace, deployment: svc.deployment };

  const deploymentAndSets = await bounded(t, async () => {
    const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
    return { d, sets: await kube.listRevisions(d) };
  });
  const d: DeploymentSnapshot | undefined = deploymentAndSets.ok ? deploymentAndSets.value.d : undefined;
  const sets = deploymentAndSets.ok ? deploymentAndSets.value.sets : [];
  const owned = d ? ownedReplicaSets(d, sets) : [];
  const currentRs = d ? findNewReplicaSet(d, owned) : undefined;

  let target: Assessment['target'];
  let targetError: Assessment['targetError'];
  if (d) {
    try {
      const chosen = chooseTarget(d, sets, toRevision);
      target = { ...ref(chosen.replicaSet), reason: chosen.reason };
    } catch (err) {
      const e = asCodedError(err);
      targetError = { code: e.code, message: e.message };
    }
  } else {
    targetError = {
      code: 'kube_not_found',
      message: deploymentAndSets.ok ? '' : deploymentAndSets.unavailable,
    };
  }
  const targetRs = target ? owned.find((rs) => rs.name === target.replicaSet) : undefined;
  const selector = svc.podSelector ?? d?.selector;

  const podsP = selector
    ? bounded(t, () => kube.listPods(svc.namespace, selector))
    : Promise.resolve(unavailable('no pod selector'));

  const eventsP = podsP.then((pods) =>
    bounded(t, () =>
      kube.listWarningEvents(
        svc.namespace,
        [svc.deployment, ...owned.map((rs) => rs.name), ...(pods.ok ? pods.value.map((p) => p.name) : [])],
        20,
      ),
    ),
  );

  const logsP = podsP.then((pods) =>
    pods.ok
      ? bounded(t, async () => {
          const pattern = new RegExp(svc.logs.pattern);
          const out: { pod: string; lines: string[] }[] = [];
          for (const pod of logCandidates(pods.value)) {
            const crashed = pod.containers.some((c) => c.restartCount > 0 && !c.ready);
            const opts = {
              tailLines: svc.logs.tailLines,
              limitBytes: svc.logs.maxBytes,
              ...(svc.container ? { container: svc.container } : {}),
            };
            const text = await kube
              .readLogs(svc.namespace, pod.name, { ...opts, previous: crashed })
              .catch(() => kube.readLogs(svc.namespace, pod.name, opts));
            const lines = text
              .split('\n')
              .filter((l) => pattern.test(l))
              .slice(-svc.logs.maxErrorLines);
            out.push({ pod: pod.name, lines });
          }
          return out;
        })
      : unavailable(`pods unavailable: ${pods.unavailable}`),
  );

  const check = (url: string | undefined) =>
    url
      ? bounded(t, async () => {
          const r = await observe.httpCheck(url, svc.health.timeoutMs);
          return { status: r.status, ms: r.ms, ...(r.error ? { error: r.error } : {}) };
        })
      : Promise.resolve(unavailable('no URL configured'));

  const metricsP = bounded(t, async (): Promise<MetricsReading> => {
    const errorRatioQuery = fillQuery(svc.metrics.errorRatioQuery, vars);
    const p99Query = fillQuery(svc.metrics.p99Query, vars);
    // Baseline: shortly before the current revision was created, i.e. before the suspect release.
    const offsetMs = svc.metrics.baselineOffsetSeconds * 1000;
    const baselineAt = currentRs ? new Date(Date.parse(currentRs.creationTimestamp) - offsetMs) : undefined;
    const [er, p99, ber, bp99] = await Promise.all([
      observe.query(errorRatioQuery),
      observe.query(p99Query),
      baselineAt ? observe.query(errorRatioQuery, baselineAt) : undefined,
      baselineAt ? observe.query(p99Query, baselineAt) : undefined,
    ]);
    return {
      errorRatio: er.value,
      p99Seconds: p99.value,
      baselineErrorRatio: ber?.value,
      baselineP99Seconds: bp99?.value,
      baselineAt: baselineAt?.toISOString(),
      errorRatioQuery,
      p99Query,
    };
  });

  const migrationP = svc.migrations
    ? podsP.then((pods) => {
        const m = svc.migrations!;
        if (!pods.ok) return unavailable(`pods unavailable: ${pods.unavailable}`);
        // Only the current revision's image is sure to know the database's head (an older one may
        // not know a newer migration). The assessment only reads: no Job is started for it; the
        // database gate reads the head again, with a Job if need be, before anything changes.
        const hash = podHashOf(currentRs);
        const container = m.container ?? svc.container;
        const pod = pods.value.find(
          (p) =>
            p.podTemplateHash === hash &&
            !p.deleting &&
            p.containers.some((c) => (container ? c.name === container : true) && c.running),
        );
        if (!pod)
          return unavailable(
            'no running container of the current revision to ask (the database gate reads the head with a Job before anything is changed)',
          );
        return bounded(t, async (): Promise<MigrationState> => {
          const res = await kube.exec(svc.namespace, pod.name, container, m.currentCommand, t);
          if (res.exitCode !== 0)
            throw new Error(
              `${m.currentCommand.join(' ')} exited ${res.exitCode}: ${res.stderr.trim().slice(0, 200)}`,
            );
          const parsed = parseCurrentHead(res.stdout);
          if ('problem' in parsed) throw new Error(`${m.currentCommand.join(' ')} ${parsed.problem}`);
          const current = parsed.head;
          const targetHead = targetRs
            ? templateAnnotations(targetRs.template)[m.expectedHeadAnnotation]
            : undefined;
          const currentHead = d ? templateAnnotations(d.template)[m.expectedHeadAnnotation] : undefined;
          return {
            current,
            targetHead,
            currentHead,
            ahead: Boolean(current && targetHead && current !== targetHead),
            command: m.currentCommand,
          };
        });
      })
    : Promise.resolve(unavailable('no migrations configured'));

  const owner = d ? detectOwner(d, svc.gitops) : undefined;
  const gitopsP = owner ? assessOwner(deps, svc, owner) : Promise.resolve(undefined);

  const [pods, events, errorLogs, health, ready, metrics, migration, gitops] = await Promise.all([
    podsP,
    eventsP,
    logsP,
    check(svc.health.url),
    check(svc.health.readyUrl),
    metricsP,
    migrationP,
    gitopsP,
  ]);

  const assessment: Assessment = {
    at: deps.now().toISOString(),
    deployment: d
      ? {
          ok: true,
          ms: deploymentAndSets.ms,
          value: {
            generation: d.generation,
            uid: d.uid,
            template: d.template,
            ...replicaCounts(d),
            kind: d.kind,
            strategy: {
              type: d.strategy.type,
              ...(d.strategy.partition !== undefined ? { partition: d.strategy.partition } : {}),
            },
            paused: d.paused,
            conditions: d.status.conditions.map((c) => ({
              type: c.type,
              status: c.status,
              ...(c.reason ? { reason: c.reason } : {}),
              ...(c.message ? { message: c.message } : {}),
            })),
          },
        }
      : {
          ok: false,
          ms: deploymentAndSets.ms,
          unavailable: deploymentAndSets.ok ? '' : deploymentAndSets.unavailable,
        },
    history: d
      ? {
          ok: true,
          ms: deploymentAndSets.ms,
          value: buildHistory(d, sets).map(({ annotations: _a, templateAnnotations: _t, ...h }) => h),
        }
      : { ok: false, ms: deploymentAndSets.ms, unavailable: 'deployment unavailable' },
    pods,
    events,
    errorLogs,
    health,
    ready,
    metrics,
    migration,
    from: currentRs ? ref(currentRs) : undefined,
    target,
    targetError,
    findings: [],
    ...(gitops ? { gitops } : {}),
  };
  assessment.findings = buildFindings(assessment, svc);
  return assessment;
}
