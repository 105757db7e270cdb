// The bot's own metrics, served on /metrics in Prometheus' text format (prom-client). Label values
// come from bounded sets only (catalogued services, states, signal kinds, our Slack methods, Slack's
// error codes), never from alert or pod text, so a storm of distinct alert names cannot grow the
// series without end.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsPort } from '../rollback/metrics-port.js';
import type { State } from '../rollback/states.js';

/** Step durations span a 100 ms assessment to a 30-minute approval wait. */
const STEP_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

export interface BotMetrics extends MetricsPort {
  /** A rollback reached a terminal state. */
  rollbackFinished(service: string, mode: 'manual' | 'auto' | 'dry_run', outcome: State): void;
  /** Time spent in one state of the procedure. */
  stepFinished(step: State, seconds: number): void;
  /** One Web API call: ok, rate_limited, or Slack's error code (or "network"). */
  slackCall(method: string, outcome: string): void;
  redisError(): void;
  /** Read at each scrape: undelivered notices across rollbacks, or undefined when unknown. */
  setOutboxDepth(read: () => Promise<number | undefined>): void;
  contentType: string;
  render(): Promise<string>;
}

export function createBotMetrics(): BotMetrics {
  const registry = new Registry();
  // Event-loop lag sampled every 100 ms, not prom-client's 10: its timer woke the idle bot 100 times a
  // second, ≈ 0.6 % of a core here (bench: scale, idle CPU < 2 %); 100 ms still shows any lag long
  // enough to delay an ack.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const rollbacks = new Counter({
    name: 'rollback_bot_rollbacks_total',
    help: 'Rollbacks that reached a final state, by service, mode and outcome.',
    labelNames: ['service', 'mode', 'outcome'] as const,
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'rollback_bot_step_duration_seconds',
    help: 'Time a rollback spent in each step (state) of the procedure.',
    labelNames: ['step'] as const,
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const signals = new Counter({
    name: 'rollback_bot_signals_total',
    help: 'Signals received, by source (alert, watch) and kind (none: nothing the bot can re-check).',
    labelNames: ['source', 'kind'] as const,
    registers: [registry],
  });
  const suppressed = new Counter({
    name: 'rollback_bot_suppressed_auto_rollbacks_total',
    help: 'Automatic rollbacks a guard rail held back, by guard.',
    labelNames: ['guard'] as const,
    registers: [registry],
  });
  const slack = new Counter({
    name: 'rollback_bot_slack_calls_total',
    help: 'Slack Web API calls by method and outcome (ok, rate_limited, or the error code).',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
  });
  const redisErrors = new Counter({
    name: 'rollback_bot_redis_errors_total',
    help: 'Errors the Redis client reported (connection lost, refused commands).',
    registers: [registry],
  });
  const takeovers = new Counter({
    name: 'rollback_bot_lease_takeovers_total',
    help: "Rollbacks this process continued after another process's lease lapsed.",
    registers: [registry],
  });
  let readDepth: () => Promise<number | undefined> = async () => undefined;
  new Gauge({
    name: 'rollback_bot_outbox_depth',
    help: 'Rollbacks with notices not yet delivered to Slack or PagerDuty (NaN when Redis cannot say).',
    registers: [registry],
    async collect() {
      // A scrape must not fail because Redis is down: the gauge says "unknown" instead.
      const depth = await readDepth().catch(() => undefined);
      this.set(depth ?? Number.NaN);
    },
  });

  return {
    signal: (source, kind) => signals.inc({ source, kind }),
    suppressed: (guard) => suppressed.inc({ guard }),
    leaseTakeover: () => takeovers.inc(),
    rollbackFinished: (service, mode, outcome) => rollbacks.inc({ service, mode, outcome }),
    stepFinished: (step, seconds) => steps.observe({ step }, seconds),
    slackCall: (method, outcome) => slack.inc({ method, outcome }),
    redisError: () => redisErrors.inc(),
    setOutboxDepth: (read) => {
      readDepth = read;
    },
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
