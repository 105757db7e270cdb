// The procedure's alerts as Prometheus rules. Production values are the procedure's (error ratio > 5%
// for 2m, p99 > 2s); the test world shortens `for:` and the rate window through AlertTimings.
// Every alert carries namespace + deployment (or pod) so the bot can map it to a catalogued service.
// Thresholds are per service: each Deployment's `rollback_bot_trigger_*` series (recorded from the
// catalog by buildThresholdRules, src/alerts/threshold-rules.ts) when it exists, else the procedure's.
import type { AlertTimings } from './services.js';

export const PRODUCTION_TIMINGS: AlertTimings = { metricsFor: '2m', rateWindow: '1m', podsFor: '1m' };

/** The service's threshold series, or `fallback` for every Deployment that has `base` series. */
const threshold = (series: string, base: string, fallback: number) =>
  `(${series} or on (namespace, deployment) (0 * ${base} + ${fallback}))`;

/** The annotation template that shows the threshold the alert used. */
const shown = (series: string, fallback: number) =>
  `{{ with printf "${series}{namespace=%q,deployment=%q}" $labels.namespace $labels.deployment | query }}{{ . | first | value }}{{ else }}${fallback}{{ end }}`;

export function buildAlertRules(t: AlertTimings): string {
  const w = t.rateWindow;
  const requests = `sum by (namespace, deployment) (rate(requests_total[${w}]))`;
  return `groups:
- name: rollback-bot
  rules:
  - alert: HighErrorRate
    expr: |
      sum by (namespace, deployment) (rate(errors_total[${w}]))
        / ${requests}
        > on (namespace, deployment) ${threshold('rollback_bot_trigger_error_ratio', requests, 0.05)}
    for: ${t.metricsFor}
    labels: {severity: critical, rollback_trigger: error_rate}
    annotations:
      summary: 'Error ratio {{ $value | humanizePercentage }} on {{ $labels.namespace }}/{{ $labels.deployment }} (threshold: the catalog''s metrics.triggerErrorRatio, default 5%)'
      threshold: '${shown('rollback_bot_trigger_error_ratio', 0.05)}'
  - alert: HighLatencyP99
    expr: |
      histogram_quantile(0.99, sum by (namespace, deployment, le) (rate(request_duration_seconds_bucket[${w}])))
        > on (namespace, deployment) ${threshold('rollback_bot_trigger_p99_seconds', requests, 2)}
    for: ${t.metricsFor}
    labels: {severity: critical, rollback_trigger: latency_p99}
    annotations:
      summary: 'p99 {{ $value | humanizeDuration }} on {{ $labels.namespace }}/{{ $labels.deployment }} (threshold: the catalog''s metrics.p99ThresholdSeconds, default 2s)'
      threshold: '${shown('rollback_bot_trigger_p99_seconds', 2)}'
  - alert: PodCrashLooping
    expr: max by (namespace, pod, container) (kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}) == 1
    for: ${t.podsFor}
    labels: {severity: critical, rollback_trigger: crash_loop}
    annotations:
      summary: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} container {{ $labels.container }} is in CrashLoopBackOff'
  - alert: RolloutStuck
    expr: max by (namespace, deployment) (kube_deployment_status_condition{condition="Progressing", status="false", reason="ProgressDeadlineExceeded"}) == 1
    for: ${t.podsFor}
    labels: {severity: critical, rollback_trigger: rollout_stuck}
    annotations:
      summary: 'Rollout of {{ $labels.namespace }}/{{ $labels.deployment }} exceeded its progress deadline'
`;
}
