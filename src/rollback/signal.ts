/**
 * Something says a service is unhealthy (or well again): an Alertmanager alert, or a condition the bot
 * saw on the Deployment itself. Signals for one service and one current revision become one incident.
 */
export interface Signal {
  service: string;
  source: 'alert' | 'watch';
  /** alertname, or the watch condition (CrashLoopBackOff, ProgressDeadlineExceeded, …). */
  name: string;
  status: 'firing' | 'resolved';
  /** Stable identity of this signal (alert fingerprint, or condition + Deployment). */
  key: string;
  summary: string;
  /** Why it fired, for people: the query, its value and threshold, since when. */
  why: { query?: string; value?: string; threshold?: string; since: string; link?: string };
  /**
   * What the signal says is wrong, for the fresh read that confirms it before an automatic rollback.
   * Undefined: nothing the bot can re-check, so it never rolls back alone on it.
   */
  kind?: SignalKind;
  /**
   * Set when the signal is context only (shown in the thread, never opens an incident nor rolls back):
   * why, e.g. the alert is not in the service's allow-list.
   */
  context?: string;
}

export type SignalKind =
  | 'error_ratio'
  | 'latency_p99'
  | 'crash_loop'
  | 'rollout_stuck'
  | 'not_ready'
  | 'restarts';
