// The Kubernetes Job that runs a migration command with the current (newer) image when no container
// of the current revision is running (a crash-looping release: a kubelet refuses exec into it).
// Built from the current revision's pod template so it has the same image, env and volumes, but:
// only the migration container, its command replaced by the catalog's argv (no shell), no probes
// (nothing serves HTTP), never restarted, and none of the workload's labels, so that neither its
// ReplicaSet, the assessment nor the watch triggers ever count it as one of the service's pods. Its
// annotations are kept (secret injection, sidecars).
import type { Json, JsonObject } from './kube-types.js';

export const JOB_LABEL = 'rollback-bot.example.com/rollback';
export const JOB_PURPOSE_LABEL = 'rollback-bot.example.com/purpose';

export interface MigrationJobInput {
  name: string;
  rollbackId: string;
  purpose: string;
  template: JsonObject;
  /** The container to run in; the template's first when undefined. */
  container: string | undefined;
  argv: string[];
  timeoutSeconds: number;
}

type Container = { name?: string } & JsonObject;

export function buildMigrationJob(input: MigrationJobInput): JsonObject {
  const spec = (input.template.spec ?? {}) as JsonObject;
  const containers = (spec.containers ?? []) as Container[];
  const chosen = input.container ? containers.find((c) => c.name === input.container) : containers[0];
  if (!chosen) throw new Error(`the pod template has no container ${input.container ?? ''}`.trim());
  const {
    livenessProbe: _l,
    readinessProbe: _r,
    startupProbe: _s,
    args: _a,
    command: _c,
    ports: _p,
    lifecycle: _lc,
    ...keep
  } = chosen;
  const labels: Record<string, Json> = {
    'app.kubernetes.io/managed-by': 'rollback-bot',
    [JOB_LABEL]: input.rollbackId,
    [JOB_PURPOSE_LABEL]: input.purpose,
  };
  const annotations = ((input.template.metadata ?? {}) as JsonObject).annotations as JsonObject | undefined;
  const podSpec: JsonObject = {
    ...spec,
    containers: [{ ...keep, command: input.argv }],
    restartPolicy: 'Never',
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: input.name, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: input.timeoutSeconds,
      // Deleted by the bot once its logs are in the audit trail; this is the fallback.
      ttlSecondsAfterFinished: 24 * 3600,
      // The template's annotations stay: injected secrets, sidecars and the like are configured there.
      template: { metadata: { labels, ...(annotations ? { annotations } : {}) }, spec: podSpec },
    },
  };
}

/** Job names: DNS labels, unique per rollback and purpose, so a resumed rollback finds its own Job. */
export function migrationJobName(rollbackId: string, purpose: string): string {
  return `rb-${rollbackId.replace(/[^a-z0-9]/g, '').slice(0, 12)}-${purpose}`.slice(0, 63);
}
