// The environment, validated once at start. Which variables are required depends on what runs:
// the bot needs Slack and Redis; the operator CLI needs only Kubernetes (and Redis for `status`).
import { z } from 'zod';
import { CodedError } from '../errors.js';
import { parseDuration } from '../rollback/durations.js';
import { formatIssues } from './format-issues.js';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

export const envSchema = z.object({
  /** Path of the service catalog YAML. */
  CATALOG_PATH: z.string().min(1).default('manifests/catalog.yaml'),
  /** Redis for rollback state, locks and the audit trail. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  /** Kubeconfig file; unset inside a cluster means the in-cluster ServiceAccount. */
  KUBECONFIG: optionalString,
  /** Kubeconfig context to use (default: the file's current-context). */
  KUBE_CONTEXT: optionalString,
  /** Prometheus base URL for error rate and p99; unset means metrics are reported unavailable. */
  PROMETHEUS_URL: z.url().optional(),
  /**
   * Alertmanager base URL (without /api/v2), asked after a rollback whether new alerts fire for the
   * service. Unset: that check shows as "not configured" (logged once at start).
   */
  ALERTMANAGER_URL: optionalString.pipe(z.url().optional()),
  /** Slack bot token (xoxb-…). */
  SLACK_BOT_TOKEN: z.string().startsWith('xoxb-', 'must be a bot token starting with xoxb-').optional(),
  /** Slack app-level token (xapp-…) for Socket Mode. */
  SLACK_APP_TOKEN: z
    .string()
    .startsWith('xapp-', 'must be an app-level token starting with xapp-')
    .optional(),
  /** Slack signing secret for HTTP mode. */
  SLACK_SIGNING_SECRET: optionalString,
  /**
   * The only Slack workspace (T…) or Enterprise Grid org (E…) whose requests are served; others are
   * refused with a log line. Unset: not pinned (any team whose requests pass the signature check).
   */
  SLACK_TEAM_ID: optionalString.pipe(
    z
      .string()
      .regex(/^[TE][A-Z0-9]{2,}$/, 'must be a Slack team id like T0123ABCD (or E… for an org)')
      .optional(),
  ),
  /** The only Slack app id (A…) whose requests are served (api_app_id). Unset: not pinned. */
  SLACK_APP_ID: optionalString.pipe(
    z
      .string()
      .regex(/^A[A-Z0-9]{2,}$/, 'must be a Slack app id like A0123ABCD')
      .optional(),
  ),
  /** Slack Web API base URL; only for a local Slack emulator (tests, demo). */
  SLACK_API_URL: z.url().optional(),
  /** PagerDuty Events API v2 routing key; unset means nothing is paged. */
  PAGERDUTY_ROUTING_KEY: optionalString,
  /** Events API host; only for a local PagerDuty emulator. */
  PAGERDUTY_EVENTS_HOST: optionalString,
  /** Watch the catalogued Deployments for the procedure's automatic conditions ("false" turns it off). */
  WATCH_TRIGGERS: z.enum(['true', 'false']).default('true'),
  /** Bearer token Alertmanager must send to the webhook. */
  ALERT_WEBHOOK_TOKEN: optionalString,
  /** HTTP port for /health, /ready, webhooks and (HTTP mode) Slack. */
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  /** Identifies this replica in locks and the audit trail. */
  HOSTNAME: z.string().default('rollback-bot'),
  /** Work-lease TTL in ms: how soon another replica may resume a rollback whose owner died. */
  LEASE_MS: z.coerce.number().int().min(500).default(15_000),
  /**
   * Days a finished rollback (record and audit trail) is kept in Redis, and how far back status,
   * history and the guard rails reach. Redis has a fixed memory budget: see README, "Redis".
   */
  RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** Dry runs one person may start per DRY_RUN_WINDOW_MINUTES; more are refused until the window moves. */
  DRY_RUN_LIMIT: z.coerce.number().int().min(1).max(1000).default(10),
  /** The dry-run window in minutes. */
  DRY_RUN_WINDOW_MINUTES: z.coerce.number().int().min(1).max(1440).default(10),
  /**
   * How long "Pause auto-rollbacks" (and `/rollback pause`) holds the bot back: `4h`, `90m`, `30s`.
   * Parsed to milliseconds; from 10 s (tests, drills) to a week.
   */
  AUTO_PAUSE_FOR: z
    .string()
    .default('4h')
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms < 10_000 || ms > 7 * 24 * 3_600_000) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration from 10s to 168h, like 4h, 90m or 30s' });
        return z.NEVER;
      }
      return ms;
    }),
});

export type Env = z.infer<typeof envSchema>;
export type Requirement = 'redis' | 'slack';

/** Validates the environment; throws one config_invalid error naming every missing or bad variable. */
export function loadEnv(env: Record<string, string | undefined>, require: Requirement[] = []): Env {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success ? [] : formatIssues(parsed.error.issues, 'env');
  const v = parsed.success ? parsed.data : undefined;
  if (require.includes('redis') && !env.REDIS_URL)
    problems.push('env.REDIS_URL: required (e.g. redis://127.0.0.1:6379)');
  if (require.includes('slack')) {
    if (!env.SLACK_BOT_TOKEN)
      problems.push('env.SLACK_BOT_TOKEN: required (the xoxb- bot token from the Slack app)');
    if (!env.SLACK_APP_TOKEN && !env.SLACK_SIGNING_SECRET) {
      problems.push(
        'env.SLACK_APP_TOKEN or env.SLACK_SIGNING_SECRET: one is required (Socket Mode, or HTTP mode with signed requests)',
      );
    }
  }
  if (problems.length || !v) {
    throw new CodedError(
      'config_invalid',
      `configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      {
        remedy: 'Set the variables listed (see README, "Configuration").',
        details: { problems },
      },
    );
  }
  return v;
}
