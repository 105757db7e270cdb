// What the verification will not check, said once at start rather than discovered in an incident:
// each of these shows as "not configured" in every verification of the service. They are warnings,
// not errors: a service may well have no database, and the rest is the team's choice to make knowingly.
import type { Catalog } from './catalog-schema.js';

export interface DeploymentSettings {
  /** ALERTMANAGER_URL is set: "no new alerts firing" can be checked. */
  alertmanager: boolean;
  /** PROMETHEUS_URL is set: without it error rate, p99, CPU and memory are unknown (no verification passes). */
  prometheus: boolean;
}

/** One line per service with something not configured, plus one per missing environment setting. */
export function catalogWarnings(catalog: Catalog, env: DeploymentSettings): string[] {
  const out: string[] = [];
  if (!env.prometheus)
    out.push(
      'PROMETHEUS_URL is not set: error rate, p99, CPU and memory cannot be checked, so no verification can pass',
    );
  if (!env.alertmanager)
    out.push('ALERTMANAGER_URL is not set: "no new alerts firing" is not configured for any service');
  for (const svc of catalog.services.values()) {
    const missing = [
      svc.health.url ? '' : '/health (health.url)',
      svc.health.readyUrl ? '' : '/ready (health.readyUrl)',
      svc.smokeChecks.length ? '' : 'smoke checks (smokeChecks)',
      svc.migrations ? '' : 'migrations (no migrations section: right if it has no database)',
      svc.integrityChecks.length ? '' : 'data integrity checks (integrityChecks)',
    ].filter(Boolean);
    if (missing.length)
      out.push(
        `services.${svc.name}: verification shows as "not configured", neither passed nor failed: ${missing.join(', ')}`,
      );
  }
  return out;
}
