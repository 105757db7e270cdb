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
}
