// The service catalog: which workloads the bot may roll back and how, one entry per service.
// Every field has a default from the procedure where the procedure gives one.
import { z } from 'zod';
import type { WorkloadKind } from '../rollback/kube-types.js';

const k8sName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes name (lower-case letters, digits, "-")')
  .max(253);

const argv = z.array(z.string().min(1)).min(1, 'must have at least the program name');

/** A JavaScript regular expression, checked when the catalog is loaded rather than when it is needed. */
const regex = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a valid regular expression' },
);

/**
 * A command the bot runs in a pod, as argv (no shell). With `podSelector`, in a running pod of the
 * service's namespace that it selects (e.g. the database's `app=db`); without, in a running container
 * of the workload's current revision, or a Job from its template when none runs (as migrations run).
 */
export const podCommandSchema = z
  .object({
    name: z.string().min(1).max(80),
    command: argv,
    /** Label selector of the pod to run in, in the service's namespace. */
    podSelector: z.string().min(1).optional(),
    /** The container; the pod's first (or `migrations.container`/`container` without podSelector). */
    container: z.string().min(1).optional(),
    /** Exec or Job deadline: a command that runs longer is stopped and counts as failed. */
    timeoutSeconds: z.number().int().positive().max(3600).default(300),
  })
  .strict();

/** Names are how the thread, the report and the audit trail tell commands apart. */
const uniquelyNamed = <T extends { name: string }>(list: T[]) =>
  new Set(list.map((c) => c.name)).size === list.length;

export const smokeCheckSchema = z
  .object({
    name: z.string().min(1),
    /** GET this URL; passes when the status equals expectStatus. */
    http: z.object({ url: z.url(), expectStatus: z.number().int().default(200) }).optional(),
    /** Run this argv in a pod of the Deployment (Kubernetes exec, no shell); passes on exit code 0. */
    exec: z.object({ command: argv, container: z.string().optional() }).optional(),
  })
  .refine((c) => Boolean(c.http) !== Boolean(c.exec), { message: 'give exactly one of "http" or "exec"' });

/**
 * Alerts that may open an incident when no per-service list is given: the procedure's rules
 * (manifests/prometheusrule.yaml) and kube-prometheus' workload alerts.
 */
export const DEFAULT_TRIGGER_ALERTS = [
  'HighErrorRate',
  'HighLatencyP99',
  'PodCrashLooping',
  'RolloutStuck',
  'KubePodCrashLooping',
  'KubeDeploymentRolloutStuck',
  'KubePodNotReady',
  'KubeDeploymentReplicasMismatch',
  'KubeDeploymentGenerationMismatch',
] as const;

export const triggersSchema = z
  .object({
    /**
     * A persistent restart loop (procedure: liveness fails 3 × 10 s = 30 s, then a restart): one
     * container restarting `count` times within `windowSeconds`, counted from when the bot first saw it.
     */
    restarts: z
      .object({
        count: z.number().int().positive().default(3),
        windowSeconds: z.number().positive().default(600),
      })
      .prefault({}),
    /**
     * Readiness budget for a pod without a readiness probe (procedure: 10 s initial delay + 2 × 5 s).
     * Pods with a probe get their own initialDelaySeconds + failureThreshold × periodSeconds.
     */
    readinessGraceSeconds: z.number().positive().default(20),
    /** Alert names that may open an incident for this service; any other alert is context only. */
    alerts: z.array(z.string().min(1)).default([...DEFAULT_TRIGGER_ALERTS]),
  })
  .prefault({});

export const serviceSchema = z
  .object({
    namespace: k8sName,
    /**
     * The workload, by kind and name: `deployment: x` (as before), `statefulSet: x`, `daemonSet: x`,
     * or `workload: { kind, name }`. Exactly one; parseCatalog turns it into `kind` + `deployment`.
     */
    deployment: k8sName.optional(),
    statefulSet: k8sName.optional(),
    daemonSet: k8sName.optional(),
    workload: z
      .object({ kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet']), name: k8sName })
      .strict()
      .optional(),
    /** Label selector for the service's pods; defaults to the Deployment's own selector. */
    podSelector: z.string().optional(),
    /** Container for logs and exec; defaults to the first container. */
    container: z.string().optional(),
    /** Slack channel for this service's incident threads (ID or #name). */
    channel: z.string().default('#incidents'),
    approvers: z
      .object({
        users: z.array(z.string()).default([]),
        groups: z.array(z.string()).default([]),
        /** Two-person rule: the approver must not be the requester. */
        requireSecondPerson: z.boolean().default(false),
        /** A proposal or approval nobody answers is cancelled after this long (said in the thread). */
        expireMinutes: z.number().positive().default(60),
      })
      // Every entry can receive proposals (alerts, watch triggers, /rollback): one nobody may decide
      // would hold the workload's lock until it expires, so it is a configuration error.
      .refine((a) => a.users.length + a.groups.length > 0, {
        message: 'give at least one approver (users or groups): nobody could decide its proposals',
      })
      .prefault({}),
    health: z
      .object({
        url: z.url().optional(),
        readyUrl: z.url().optional(),
        timeoutMs: z.number().int().positive().default(5000),
      })
      .prefault({}),
    metrics: z
      .object({
        /** PromQL for the error ratio (0..1); {{namespace}} and {{deployment}} are filled in. */
        errorRatioQuery: z
          .string()
          .default(
            'sum(rate(errors_total{namespace="{{namespace}}",deployment="{{deployment}}"}[1m])) / sum(rate(requests_total{namespace="{{namespace}}",deployment="{{deployment}}"}[1m]))',
          ),
        /** PromQL for the p99 latency in seconds. */
        p99Query: z
          .string()
          .default(
            'histogram_quantile(0.99, sum by (le) (rate(request_duration_seconds_bucket{namespace="{{namespace}}",deployment="{{deployment}}"}[1m])))',
          ),
        /** Procedure: roll back when the error rate exceeds 5%. */
        triggerErrorRatio: z.number().min(0).max(1).default(0.05),
        /** Procedure: verification needs the error rate below 1%. */
        passErrorRatio: z.number().min(0).max(1).default(0.01),
        /** Procedure: p99 above 2 s is critical. */
        p99ThresholdSeconds: z.number().positive().default(2),
        /** The baseline is read this long before the current revision was created. */
        baselineOffsetSeconds: z.number().nonnegative().default(60),
        /** Verification passes when p99 <= baseline * this factor (or <= the threshold when there is no baseline). */
        p99BaselineFactor: z.number().min(1).default(1.5),
        /**
         * The dashboard review's bar (procedure: "error rate should return to normal levels (< 0.1%)"),
         * stricter than passErrorRatio and measured later: a follow-up for people, not a pass/fail check.
         */
        dashboardErrorRatio: z.number().min(0).max(1).default(0.001),
        /**
         * PromQL for the error ratio over the dashboard window; {{window}} becomes that window (`300s`),
         * {{namespace}} and {{deployment}} as above.
         */
        dashboardErrorRatioQuery: z
          .string()
          .default(
            'sum(increase(errors_total{namespace="{{namespace}}",deployment="{{deployment}}"}[{{window}}])) / sum(increase(requests_total{namespace="{{namespace}}",deployment="{{deployment}}"}[{{window}}]))',
          ),
        /**
         * PromQL for the CPU of the busiest pod, in cores, from cAdvisor's series (the kubelet's
         * /metrics/cadvisor). {{pods}} becomes a regex of the workload's pod names (by kind: a
         * Deployment's `<name>-<hash>-<suffix>`, a StatefulSet's `<name>-<ordinal>`, a DaemonSet's
         * `<name>-<suffix>`), so the query finds the pre-release pods too. `container=""` (the pod's
         * cgroup) and `POD` (the pause container) are left out, or each pod would count twice.
         * `irate`, not `rate`: rate() divides by the whole window, so a pod younger than the window
         * (the pods a rollback just started) reads low and would pass whatever it uses; irate is the
         * rate between the last two samples, right as soon as there are two.
         */
        cpuQuery: z
          .string()
          .default(
            'max(sum by (pod) (irate(container_cpu_usage_seconds_total{namespace="{{namespace}}",pod=~"{{pods}}",container!="",container!="POD"}[1m])))',
          ),
        /** PromQL for the memory working set of the busiest pod, in bytes (what the OOM killer looks at). */
        memoryQuery: z
          .string()
          .default(
            'max(sum by (pod) (container_memory_working_set_bytes{namespace="{{namespace}}",pod=~"{{pods}}",container!="",container!="POD"}))',
          ),
      })
      .prefault({}),
    migrations: z
      .object({
        container: z.string().optional(),
        currentCommand: argv.default(['alembic', 'current']),
        /** {{revision}} is replaced by the target's expected head. */
        downgradeCommand: argv.default(['alembic', 'downgrade', '{{revision}}']),
        /** Pod-template annotation in which each release records its expected migration head. */
        expectedHeadAnnotation: z.string().min(1),
        /**
         * Before a downgrade: run with the current image like currentCommand; its output must name the
         * target's head as a revision (alembic's `<down> -> <rev>` lines, or verbose `Rev: <rev>`).
         */
        historyCommand: argv.default(['alembic', 'history']),
        /**
         * Before a downgrade: the previous schema is still present and valid (the procedure's
         * `psql -U postgres -d release_manager -c "\dt"` in the database's pod). Exit 0 required, and
         * with `expectOutput`, stdout must match that regular expression.
         */
        schemaCheck: z
          .object({
            command: argv,
            podSelector: z.string().min(1).optional(),
            container: z.string().min(1).optional(),
            expectOutput: regex.optional(),
            timeoutSeconds: z.number().int().positive().max(3600).default(60),
          })
          .strict()
          .optional(),
      })
      .optional(),
    /**
     * Data cleanup after a verified rollback (the procedure's "Data Cleanup After Rollback"): run only
     * when an approver clicks Run cleanup in the thread, in order, stopping at the first failure. Never
     * automatic, whatever the policy.
     */
    cleanup: z
      .object({
        commands: z
          .array(podCommandSchema)
          .min(1)
          .max(10)
          .refine(uniquelyNamed, { message: 'give each cleanup command its own name' }),
      })
      .strict()
      .optional(),
    /**
     * The procedure's post-rollback data integrity checks, run at the end of verification: each must
     * exit 0, and a failed one fails verification (the rollback ends `failed`, P1).
     */
    integrityChecks: z
      .array(podCommandSchema)
      .max(10)
      .refine(uniquelyNamed, { message: 'give each integrity check its own name' })
      .default([]),
    /**
     * A workload that Argo CD or Flux applies from Git (workloads-gitops.md). `suspend`: stop the owner's
     * sync right before the undo (Resume sync puts it back); `refuse`: change nothing and say why;
     * `ignore`: roll back anyway. Unset: suspend where the bot has the right, else refuse.
     */
    gitops: z
      .object({
        policy: z.enum(['suspend', 'refuse', 'ignore']).optional(),
        argocd: z
          .object({
            /** Where the Applications live (the tracking id names only the app, unless `<ns>_<app>`). */
            namespace: k8sName.default('argocd'),
            /** Label tracking: the label Argo CD is configured to track with (e.g. app.kubernetes.io/instance). */
            trackingLabel: z.string().min(1).optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    smokeChecks: z.array(smokeCheckSchema).default([]),
    /** What counts as a signal for this service (watch conditions and alert names). */
    triggers: triggersSchema,
    policy: z
      .object({
        mode: z.enum(['propose', 'auto']).default('propose'),
        cooldownMinutes: z.number().nonnegative().default(30),
        maxAutoRollbacks: z.number().int().nonnegative().default(2),
        windowMinutes: z.number().positive().default(60),
      })
      .prefault({}),
    /**
     * Who may sign the report's Approval lines (Slack user ids). Engineering managers default to
     * notify.engineeringManager.
     */
    signOff: z
      .object({
        releaseManagers: z.array(z.string().min(1)).default([]),
        engineeringManagers: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    /** PagerDuty (when configured): a manual rollback that fails pages too; automatic ones always do. */
    paging: z.object({ manualFailures: z.boolean().default(true) }).prefault({}),
    notify: z
      .object({
        engineeringManager: z.string().optional(),
        monitoringGroup: z.string().optional(),
      })
      .prefault({}),
    rollout: z.object({ timeoutSeconds: z.number().int().positive().default(300) }).prefault({}),
    verify: z
      .object({
        /** Restart counts must not change over this window. */
        restartWindowSeconds: z.number().nonnegative().default(60),
        /** How long metrics may take to come back under the thresholds. */
        settleSeconds: z.number().nonnegative().default(300),
        /**
         * CPU and memory pass when at most this × their pre-release baseline (read, like the metrics'
         * baseline, metrics.baselineOffsetSeconds before the bad revision was created). Without a
         * baseline they are unknown, and the verification does not pass.
         */
        resourceFactor: z.number().min(1).default(1.5),
        /**
         * The dashboard review's window, after the metrics settled (procedure: 5 minutes): the
         * dashboard error ratio is measured over it, and firing alerts are read at its end.
         */
        dashboardWindowSeconds: z.number().int().positive().default(300),
      })
      .prefault({}),
    logs: z
      .object({
        tailLines: z.number().int().positive().max(5000).default(200),
        maxErrorLines: z.number().int().positive().max(200).default(20),
        maxBytes: z
          .number()
          .int()
          .positive()
          .max(1 << 20)
          .default(64 * 1024),
        pattern: z.string().default('ERROR'),
      })
      .prefault({}),
  })
  .superRefine((svc, ctx) => {
    const w = workloadOf(svc);
    if (typeof w === 'string') ctx.addIssue({ code: 'custom', path: ['deployment'], message: w });
  });

/** Service names are what people type after /rollback. */
export const SERVICE_NAME = /^[a-z0-9][-a-z0-9]*$/;

export const catalogSchema = z.object({
  services: z.record(z.string(), serviceSchema),
});

export type ServiceConfig = z.infer<typeof serviceSchema>;
export type SmokeCheck = z.infer<typeof smokeCheckSchema>;
export type PodCommand = z.infer<typeof podCommandSchema>;
export interface CatalogEntry
  extends Omit<ServiceConfig, 'deployment' | 'statefulSet' | 'daemonSet' | 'workload'> {
  name: string;
  kind: WorkloadKind;
  /** The workload's name, whatever its kind (the field kept the name it had when only Deployments were). */
  deployment: string;
}

/** The one workload an entry names, or why it does not name exactly one. */
export function workloadOf(svc: ServiceConfig): { kind: WorkloadKind; name: string } | string {
  const given: { kind: WorkloadKind; name: string }[] = [];
  if (svc.deployment) given.push({ kind: 'Deployment', name: svc.deployment });
  if (svc.statefulSet) given.push({ kind: 'StatefulSet', name: svc.statefulSet });
  if (svc.daemonSet) given.push({ kind: 'DaemonSet', name: svc.daemonSet });
  if (svc.workload) given.push(svc.workload);
  if (given.length === 1) return given[0]!;
  return given.length === 0
    ? 'name the workload: deployment, statefulSet, daemonSet or workload: { kind, name }'
    : `name one workload, not ${given.length} (${given.map((g) => `${g.kind} ${g.name}`).join(', ')})`;
}
export interface Catalog {
  services: Map<string, CatalogEntry>;
}
