// Alerts → signals for catalogued services. An alert names its service by its `namespace` label plus
// a `deployment` label (the rules in manifests/ do this) or a pod of the Deployment. A `service` label
// equal to a catalog name is enough only in that entry's namespace: prometheus-operator puts a `service`
// label on every scraped series, so `service="release-manager"` from staging is not production's.
// Only alert names in the service's allow-list (triggers.alerts) may open an incident; others are
// context for an incident that is already open.
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import type { Signal, SignalKind } from '../rollback/signal.js';
import type { AlertmanagerAlert, AlertmanagerWebhook } from './alertmanager-schema.js';

export function serviceOfAlert(catalog: Catalog, labels: Record<string, string>): CatalogEntry | undefined {
  const ns = labels.namespace;
  if (!ns) return undefined;
  const byService = labels.service ? catalog.services.get(labels.service) : undefined;
  const podOwner = labels.pod ? labels.pod.replace(/-[a-z0-9]{6,10}-[a-z0-9]{5}$/, '') : undefined;
  for (const svc of catalog.services.values()) {
    if (ns !== svc.namespace) continue;
    if (labels.deployment === svc.deployment || podOwner === svc.deployment) return svc;
  }
  // A `service` label alone, in the entry's namespace, and not naming another Deployment.
  if (byService && byService.namespace === ns && !labels.deployment) return byService;
  return undefined;
}

/** What an alert says is wrong: our rules' `rollback_trigger` label, else the well-known names. */
const KIND_BY_LABEL: Record<string, SignalKind> = {
  error_rate: 'error_ratio',
  latency_p99: 'latency_p99',
  crash_loop: 'crash_loop',
  rollout_stuck: 'rollout_stuck',
  not_ready: 'not_ready',
};
const KIND_BY_NAME: Record<string, SignalKind> = {
  HighErrorRate: 'error_ratio',
  HighLatencyP99: 'latency_p99',
  PodCrashLooping: 'crash_loop',
  KubePodCrashLooping: 'crash_loop',
  RolloutStuck: 'rollout_stuck',
  KubeDeploymentRolloutStuck: 'rollout_stuck',
  KubePodNotReady: 'not_ready',
  KubeDeploymentReplicasMismatch: 'not_ready',
};

export function kindOfAlert(labels: Record<string, string>): SignalKind | undefined {
  const byLabel = labels.rollback_trigger ? KIND_BY_LABEL[labels.rollback_trigger] : undefined;
  return byLabel ?? (labels.alertname ? KIND_BY_NAME[labels.alertname] : undefined);
}

/** The query behind the alert, from Prometheus' generatorURL (g0.expr). */
function queryOf(a: AlertmanagerAlert): string | undefined {
  if (!a.generatorURL) return undefined;
  try {
    return new URL(a.generatorURL).searchParams.get('g0.expr') ?? undefined;
  } catch {
    return undefined;
  }
}

export function alertsToSignals(
  catalog: Catalog,
  body: AlertmanagerWebhook,
): { signals: Signal[]; unmatched: number } {
  const signals: Signal[] = [];
  let unmatched = 0;
  for (const a of body.alerts) {
    const svc = serviceOfAlert(catalog, a.labels);
    if (!svc) {
      unmatched += 1;
      continue;
    }
    const name = a.labels.alertname ?? 'alert';
    const query = queryOf(a);
    const kind = kindOfAlert(a.labels);
    const allowed = svc.triggers.alerts.includes(name);
    signals.push({
      service: svc.name,
      source: 'alert',
      name,
      status: a.status,
      key: a.fingerprint,
      summary: a.annotations.summary ?? a.annotations.description ?? name,
      why: {
        ...(query ? { query } : {}),
        ...(a.annotations.value ? { value: a.annotations.value } : {}),
        ...(a.annotations.threshold ? { threshold: a.annotations.threshold } : {}),
        since: a.startsAt,
        ...(a.generatorURL ? { link: a.generatorURL } : {}),
      },
      ...(kind ? { kind } : {}),
      ...(allowed ? {} : { context: `${name} is not in the service's triggers.alerts` }),
    });
  }
  return { signals, unmatched };
}
