// Alerts → signals for catalogued services. An alert names its service by labels: `namespace` +
// `deployment` (the rules in manifests/ do this), or a `service` label equal to a catalog name.
import type { Catalog } from '../config/catalog-schema.js';
import type { Signal } from '../rollback/signal.js';
import type { AlertmanagerAlert, AlertmanagerWebhook } from './alertmanager-schema.js';

export function serviceOfAlert(catalog: Catalog, labels: Record<string, string>): string | undefined {
  if (labels.service && catalog.services.has(labels.service)) return labels.service;
  const podOwner = labels.pod ? labels.pod.replace(/-[a-z0-9]{8,10}-[a-z0-9]{5}$/, '') : undefined;
  for (const svc of catalog.services.values()) {
    if (labels.namespace !== svc.namespace) continue;
    if (labels.deployment === svc.deployment || podOwner === svc.deployment) return svc.name;
  }
  return undefined;
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
    const service = serviceOfAlert(catalog, a.labels);
    if (!service) {
      unmatched += 1;
      continue;
    }
    const query = queryOf(a);
    signals.push({
      service,
      source: 'alert',
      name: a.labels.alertname ?? 'alert',
      status: a.status,
      key: a.fingerprint,
      summary: a.annotations.summary ?? a.annotations.description ?? a.labels.alertname ?? 'alert',
      why: {
        ...(query ? { query } : {}),
        ...(a.annotations.value ? { value: a.annotations.value } : {}),
        ...(a.annotations.threshold ? { threshold: a.annotations.threshold } : {}),
        since: a.startsAt,
        ...(a.generatorURL ? { link: a.generatorURL } : {}),
      },
    });
  }
  return { signals, unmatched };
}
