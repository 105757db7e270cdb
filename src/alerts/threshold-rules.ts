// Each catalogued service's alert thresholds as Prometheus series, so the rules in
// manifests/prometheusrule.yaml fire at the same numbers the bot confirms and assesses with
// (metrics.triggerErrorRatio, metrics.p99ThresholdSeconds). Those rules compare against
// `rollback_bot_trigger_*{namespace, deployment}` and fall back to the procedure's values (5%, 2 s)
// for a Deployment without one. Regenerate manifests/prometheusrule-thresholds.yaml after changing
// the catalog: `npx tsx scripts/threshold-rules.ts manifests/catalog.yaml`.
import type { Catalog } from '../config/catalog-schema.js';

export const ERROR_RATIO_SERIES = 'rollback_bot_trigger_error_ratio';
export const P99_SERIES = 'rollback_bot_trigger_p99_seconds';

/** A PrometheusRule of recording rules, one pair per catalogued service (sorted by name). */
export function buildThresholdRules(catalog: Catalog): string {
  const services = [...catalog.services.values()].sort((a, b) => a.name.localeCompare(b.name));
  const rules = services.flatMap((svc) => {
    const labels = `{ namespace: ${svc.namespace}, deployment: ${svc.deployment} }`;
    return [
      `        # ${svc.name}`,
      `        - record: ${ERROR_RATIO_SERIES}`,
      `          expr: vector(${svc.metrics.triggerErrorRatio})`,
      `          labels: ${labels}`,
      `        - record: ${P99_SERIES}`,
      `          expr: vector(${svc.metrics.p99ThresholdSeconds})`,
      `          labels: ${labels}`,
    ];
  });
  return `# Generated from the service catalog by scripts/threshold-rules.ts: do not edit by hand.
# The per-service thresholds the alerts in prometheusrule.yaml compare against (see there).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: rollback-bot-thresholds
  namespace: rollback-bot
  labels:
    app.kubernetes.io/name: rollback-bot
    release: prometheus
spec:
  groups:
    - name: rollback-bot-thresholds
      rules:
${rules.join('\n')}
`;
}
