// The composition root: the only place that reads process.env and builds clients.
// `serve` runs the bot; the other commands are the operator CLI.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { userInfo } from 'node:os';
import { Redis } from 'ioredis';
import { createAlertmanagerClient } from './alerts/alertmanager-client.js';
import { createWatchTriggers } from './alerts/watch-triggers.js';
import { createWebhookHandler } from './alerts/webhook-handler.js';
import { parseArgs } from './cli/parse-args.js';
import { runCli } from './cli/run-cli.js';
import type { Catalog } from './config/catalog-schema.js';
import { catalogWarnings } from './config/catalog-warnings.js';
import { type Env, loadEnv } from './config/env-schema.js';
import { loadCatalog } from './config/load-catalog.js';
import { asCodedError } from './errors.js';
import { createKube } from './kube/create-kube.js';
import { type KubeAccess, loadKubeAccess } from './kube/kube-access.js';
import { pingKube } from './kube/ping.js';
import { createLogger } from './logger.js';
import { createBotMetrics } from './observe/create-bot-metrics.js';
import { createObserve } from './observe/create-observe.js';
import { withStoreMetrics } from './observe/with-store-metrics.js';
import { createPager } from './pagerduty/create-pager.js';
import { createRedactor, type Redactor } from './redact.js';
import { buildReport } from './report/build-report.js';
import { formatDuration } from './rollback/durations.js';
import { createIncidents, type Incidents } from './rollback/incidents.js';
import { createPauses } from './rollback/pauses.js';
import { systemClock } from './rollback/ports.js';
import { createRunner } from './rollback/runner.js';
import { createSlackApp } from './slack/create-slack-app.js';
import { createSlackNotifier } from './slack/notifier.js';
import { startPauseLapses } from './slack/pause-lapses.js';
import { createRedisStore, type StoreOptions } from './store/create-redis-store.js';

/**
 * The apiserver's address and credentials, without loading the client's generated API (kube-access.ts):
 * the bot's raw requests, watch and exec need no more.
 */
function kubeAccess(env: Env): KubeAccess {
  return loadKubeAccess({
    // In a pod: the apiserver's address as the kubelet sets it (not part of the validated Env).
    env: process.env,
    ...(env.KUBECONFIG ? { kubeconfig: env.KUBECONFIG } : {}),
    ...(env.KUBE_CONTEXT ? { context: env.KUBE_CONTEXT } : {}),
  });
}

/** The password in a redis:// URL, if any (decoded: it is matched as it would be printed). */
function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined; // loadEnv has already said what is wrong with the URL
  }
}

/** One redactor, knowing every configured secret, for every outbound path. */
function redactorFor(env: Env): Redactor {
  return createRedactor([
    env.SLACK_SIGNING_SECRET,
    env.SLACK_BOT_TOKEN,
    env.SLACK_APP_TOKEN,
    env.ALERT_WEBHOOK_TOKEN,
    env.PAGERDUTY_ROUTING_KEY,
    urlPassword(env.REDIS_URL),
  ]);
}

function storeOptions(env: Env, redactor: Redactor): StoreOptions {
  return {
    redact: redactor.redactValue,
    retentionDays: env.RETENTION_DAYS,
    dryRunLimit: env.DRY_RUN_LIMIT,
    dryRunWindowMinutes: env.DRY_RUN_WINDOW_MINUTES,
  };
}

async function serve(env: Env, catalog: Catalog): Promise<void> {
  const redactor = redactorFor(env);
  const logger = createLogger(undefined, redactor.redact);
  const kc = kubeAccess(env);
  const metrics = createBotMetrics();
  const redis = new Redis(env.REDIS_URL ?? '', { maxRetriesPerRequest: 3 });
  redis.on('error', (err) => {
    metrics.redisError();
    logger.warn('redis', { error: err.message });
  });
  const store = withStoreMetrics(
    createRedisStore(redis, 'rb:', storeOptions(env, redactor)),
    metrics,
    logger,
  );
  metrics.setOutboxDepth(async () => (await store.pendingOutboxes()).length);
  // The webhook route is registered before the incidents exist; signals arriving meanwhile are held.
  let incidents: Incidents | undefined;
  const held: Parameters<Incidents['signal']>[0][] = [];
  const onSignals = (signals: Parameters<Incidents['signal']>[0]) => {
    for (const s of signals) metrics.signal(s.source, s.kind ?? 'none');
    if (incidents) void incidents.signal(signals);
    else held.push(signals);
  };
  const routes = [
    ...(env.ALERT_WEBHOOK_TOKEN
      ? [
          {
            path: '/alerts',
            method: 'POST',
            handler: createWebhookHandler({ token: env.ALERT_WEBHOOK_TOKEN, catalog, logger, onSignals }),
          },
        ]
      : []),
    {
      // Prometheus' scrape (manifests/servicemonitor.yaml); a failed render is a 500, never a partial page.
      path: '/metrics',
      method: 'GET',
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        metrics.render().then(
          (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
          (err: unknown) => {
            logger.warn('metrics render failed', { error: (err as Error).message });
            res.writeHead(500).end();
          },
        );
      },
    },
  ];
  const slack = createSlackApp(
    {
      botToken: env.SLACK_BOT_TOKEN ?? '',
      ...(env.SLACK_APP_TOKEN ? { appToken: env.SLACK_APP_TOKEN } : {}),
      ...(env.SLACK_SIGNING_SECRET ? { signingSecret: env.SLACK_SIGNING_SECRET } : {}),
      ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}),
      ...(env.SLACK_TEAM_ID ? { teamId: env.SLACK_TEAM_ID } : {}),
      ...(env.SLACK_APP_ID ? { appId: env.SLACK_APP_ID } : {}),
      redactor,
      logger,
      countCall: metrics.slackCall,
      port: env.PORT,
    },
    {
      async check() {
        const checks: Record<string, string> = {};
        // A write, not a PING: a full (maxmemory), read-only or misconfigured Redis answers PING but
        // refuses every transition, and a bot that cannot record cannot roll back.
        const [r, k] = await Promise.allSettled([store.checkWritable(env.HOSTNAME), pingKube(kc)]);
        if (r.status === 'rejected') {
          const e = asCodedError(r.reason);
          checks.redis = `${e.code}: ${e.describe()}`;
          logger.warn('redis not ready', { code: e.code, error: e.message, ...(e.details ?? {}) });
        } else checks.redis = 'ok';
        checks.kubernetes = k.status === 'fulfilled' ? 'ok' : `unavailable: ${(k.reason as Error).message}`;
        return { ok: r.status === 'fulfilled' && k.status === 'fulfilled', checks };
      },
    },
    routes,
  );
  const kube = createKube(kc);
  // The App Home is built once the runner exists; a rollback's state change refreshes it (below).
  let homeChanged = () => {};
  const slackNotifier = createSlackNotifier(
    slack.client,
    catalog,
    logger,
    undefined,
    formatDuration(env.AUTO_PAUSE_FOR),
  );
  const notifier: typeof slackNotifier = {
    ...slackNotifier,
    async stateChanged(r) {
      await slackNotifier.stateChanged(r);
      homeChanged();
    },
  };
  const pager = env.PAGERDUTY_ROUTING_KEY
    ? createPager(
        {
          routingKey: env.PAGERDUTY_ROUTING_KEY,
          ...(env.PAGERDUTY_EVENTS_HOST ? { server: env.PAGERDUTY_EVENTS_HOST } : {}),
          redactor,
        },
        logger,
      )
    : undefined;
  const observe = createObserve({ prometheusUrl: env.PROMETHEUS_URL });
  const alerts = env.ALERTMANAGER_URL
    ? createAlertmanagerClient({ url: env.ALERTMANAGER_URL, catalog })
    : undefined;
  // Once, at start: what no verification of a service will check (each shows as "not configured").
  for (const warning of catalogWarnings(catalog, {
    alertmanager: Boolean(alerts),
    prometheus: Boolean(env.PROMETHEUS_URL),
  }))
    logger.warn('verification not configured', { warning });
  const runner = createRunner({
    metrics,
    store,
    kube,
    observe,
    ...(alerts ? { alerts } : {}),
    notifier,
    ...(pager ? { pager } : {}),
    catalog,
    clock: systemClock,
    logger,
    owner: `${env.HOSTNAME}-${process.pid}`,
    leaseMs: env.LEASE_MS,
    // The report is uploaded to Slack and kept in the store: redacted once, here, as it is rendered.
    renderReport: (r, events) => redactor.redact(buildReport(r, events)),
  });
  // The watches open (one list and watch per namespace) while Slack starts and the runner resumes:
  // their signals are held until the incidents exist. Settled here, awaited before "started".
  const watch =
    env.WATCH_TRIGGERS === 'true' ? createWatchTriggers({ kc, kube, catalog, logger, onSignals }) : undefined;
  const t0 = performance.now();
  const watchStarting = watch?.start().then(
    () => Math.round(performance.now() - t0),
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  const pauses = createPauses({ store, catalog, clock: systemClock, pauseMs: env.AUTO_PAUSE_FOR });
  const home = slack.listen(runner, catalog, logger, notifier.postRoot, pauses);
  homeChanged = home.changed;
  const lapses = startPauseLapses({
    pauses,
    catalog,
    postRoot: notifier.postRoot,
    logger,
    changed: home.changed,
  });
  await slack.start();
  const resumed = await runner.resume();
  runner.start();
  incidents = createIncidents({
    store,
    kube,
    runner,
    notifier,
    ...(pager ? { pager } : {}),
    observe,
    catalog,
    clock: systemClock,
    logger,
    metrics,
  });
  for (const s of held.splice(0)) void incidents.signal(s);
  if (watchStarting) {
    const started = await watchStarting;
    if (started instanceof Error) throw started;
    // Per namespace, not per service: how long the lists and watches took, for a slow start's reader.
    logger.info('watch triggers started', {
      services: catalog.services.size,
      namespaces: new Set([...catalog.services.values()].map((s) => s.namespace)).size,
      ms: started,
    });
  }
  logger.info('rollback-bot started', {
    port: env.PORT,
    mode: env.SLACK_APP_TOKEN ? 'socket' : 'http',
    pinned: { team: env.SLACK_TEAM_ID ?? 'any', app: env.SLACK_APP_ID ?? 'any' },
    services: catalog.services.size,
    resumed,
  });

  const stop = async (signal: string) => {
    logger.info('stopping', { signal });
    // Leases first: another replica's reaper continues this replica's rollbacks within a second,
    // instead of after the lease TTL (a catalog change rolls every replica this way).
    home.close();
    lapses.close();
    await runner.close();
    await watch?.stop();
    await slack.stop().catch((err: unknown) => logger.warn('slack stop', { error: (err as Error).message }));
    await Promise.race([runner.idle(), new Promise((r) => setTimeout(r, 2000))]);
    redis.disconnect();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === 'serve') {
    const env = loadEnv(process.env, ['redis', 'slack']);
    await serve(env, loadCatalog(env.CATALOG_PATH));
    return undefined; // keeps running
  }
  const args = parseArgs(argv);
  const env = loadEnv(process.env, args.command === 'status' || args.command === 'unlock' ? ['redis'] : []);
  const catalog = loadCatalog(env.CATALOG_PATH);
  let redis: Redis | undefined;
  const { redact } = redactorFor(env);
  try {
    await runCli(args, {
      catalog,
      kube: createKube(kubeAccess(env)),
      observe: createObserve({ prometheusUrl: env.PROMETHEUS_URL }),
      store: () => {
        redis = new Redis(env.REDIS_URL ?? '', { maxRetriesPerRequest: 1 });
        return createRedisStore(redis, 'rb:', storeOptions(env, redactorFor(env)));
      },
      now: () => new Date(),
      user: userInfo().username,
      print: (t) => console.log(redact(t)),
    });
  } finally {
    redis?.disconnect();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    console.error(`error: ${asCodedError(err).describe()}`);
    process.exit(1);
  },
);
