// The procedure's alerts as Prometheus rules. Production values are the procedure's (error ratio > 5%
// for 2m, p99 > 2s); the test world shortens `for:` and the rate window through AlertTimings.
// Every alert carries namespace + deployment (or pod) so the bot can map it to a catalogued service.
import type { AlertTimings } from './services.js';

export const PRODUCTION_TIMINGS: AlertTimings = { metricsFor: '2m', rateWindow: '1m', podsFor: '1m' };

export function buildAlertRules(t: AlertTimings): string {
  const w = t.rateWindow;
  return `groups:
- name: rollback-bot
  rules:
  - alert: HighErrorRate
    expr: |
      sum by (namespace, deployment) (rate(errors_total[${w}]))
        / sum by (namespace, deployment) (rate(requests_total[${w}])) > 0.05
    for: ${t.metricsFor}
    labels: {severity: critical, rollback_trigger: error_rate}
    annotations:
      summary: 'Error ratio {{ $value | humanizePercentage }} on {{ $labels.namespace }}/{{ $labels.deployment }} (threshold 5%)'
      threshold: '0.05'
  - alert: HighLatencyP99
    expr: |
      histogram_quantile(0.99, sum by (namespace, deployment, le) (rate(request_duration_seconds_bucket[${w}]))) > 2
    for: ${t.metricsFor}
    labels: {severity: critical, rollback_trigger: latency_p99}
    annotations:
      summary: 'p99 {{ $value | humanizeDuration }} on {{ $labels.namespace }}/{{ $labels.deployment }} (threshold 2s)'
      threshold: '2'
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
