// Builds the real engine (kube, observe, Redis store, runner) against the test world, with the worked
// example catalog from manifests/catalog.yaml pointed at one test namespace.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { createAlertmanagerClient } from '../../src/alerts/alertmanager-client.js';
import type { Catalog, CatalogEntry } from '../../src/config/catalog-schema.js';
import { parseCatalog } from '../../src/config/load-catalog.js';
import { createKube } from '../../src/kube/create-kube.js';
import { createObserve } from '../../src/observe/create-observe.js';
import { buildReport } from '../../src/report/build-report.js';
import type { Rollback } from '../../src/rollback/model.js';
import type { NotifierPort, PagerPort } from '../../src/rollback/ports.js';
import { silentLogger, systemClock } from '../../src/rollback/ports.js';
import { createRunner, type RunnerDeps } from '../../src/rollback/runner.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import type { WorldInfo } from './world/world.js';

export const EXAMPLE_CATALOG = new URL('../../manifests/catalog.yaml', import.meta.url);

/** The example's release-manager entry, moved into `namespace` and wired to the world's stand-in. */
export function worldCatalog(
  world: WorldInfo,
  namespace: string,
  tweak?: (svc: CatalogEntry) => void,
): Catalog {
  const catalog = parseCatalog(readFileSync(EXAMPLE_CATALOG, 'utf8'), 'manifests/catalog.yaml');
  const svc = catalog.services.get('release-manager');
  if (!svc) throw new Error('example catalog lost release-manager');
  const base = `${world.standinUrl}/d/${namespace}/${svc.deployment}`;
  svc.namespace = namespace;
  svc.health.url = `${base}/health`;
  svc.health.readyUrl = `${base}/ready`;
  svc.smokeChecks = [
    { name: 'api responds', http: { url: `${base}/ready`, expectStatus: 200 } },
    { name: 'database reachable', exec: { command: ['alembic', 'current'] } },
  ];
  // The world's rate windows are seconds, not minutes (TEST_TIMINGS): the same as its alert rules.
  const window = `[${world.timings.rateWindow}]`;
  svc.metrics.errorRatioQuery = svc.metrics.errorRatioQuery.replaceAll('[1m]', window);
  svc.metrics.p99Query = svc.metrics.p99Query.replaceAll('[1m]', window);
  svc.metrics.cpuQuery = svc.metrics.cpuQuery.replaceAll('[1m]', window);
  svc.metrics.baselineOffsetSeconds = 1;
  // The dashboard review's window: seconds, not the procedure's 5 minutes (at least two scrapes).
  svc.verify = { ...svc.verify, restartWindowSeconds: 3, settleSeconds: 60, dashboardWindowSeconds: 4 };
  svc.rollout = { timeoutSeconds: 60 };
  // The example's schema check runs in an app=db pod and its integrity scripts in every verification:
  // only the tests about database care ship a db pod and opt in (exampleDatabaseCare).
  if (svc.migrations) delete svc.migrations.schemaCheck;
  svc.integrityChecks = [];
  tweak?.(svc);
  // The example's one Deployment service only: its other entries (the StatefulSet) would bring their
  // own approver groups, watches and namespaces into every test.
  return { services: new Map([['release-manager', svc]]) };
}

/** The worked example's database care (schema check, cleanup, integrity checks), exactly as written. */
export function exampleDatabaseCare(): Pick<CatalogEntry, 'cleanup' | 'integrityChecks'> & {
  schemaCheck: NonNullable<CatalogEntry['migrations']>['schemaCheck'];
} {
  const svc = parseCatalog(readFileSync(EXAMPLE_CATALOG, 'utf8')).services.get('release-manager')!;
  return {
    schemaCheck: svc.migrations?.schemaCheck,
    cleanup: svc.cleanup,
    integrityChecks: svc.integrityChecks,
  };
}

export interface Notice {
  kind: keyof NotifierPort | 'page-start' | 'page-end' | 'page-suppressed';
  state: string;
  message?: string;
  /** openThread's pause switch, when offered. */
  offer?: { service: string; paused: boolean };
}

export function recordingNotifier(): NotifierPort & { notices: Notice[] } {
  const notices: Notice[] = [];
  const rec = (kind: Notice['kind']) => async (r: Rollback, message?: string) => {
    notices.push({ kind, state: r.state, ...(message ? { message } : {}) });
  };
  return {
    notices,
    assessed: rec('assessed'),
    migrationApprovalNeeded: rec('migrationApprovalNeeded'),
    starting: async (r) => {
      await rec('starting')(r);
      return undefined;
    },
    progress: rec('progress'),
    stateChanged: rec('stateChanged'),
    finished: rec('finished'),
    reportUpdated: async (r, _report, why) =>
      void notices.push({ kind: 'reportUpdated', state: r.state, message: why }),
    async openThread(channel, text, offer) {
      notices.push({ kind: 'openThread', state: '', message: text, ...(offer ? { offer } : {}) });
      return { channel, ts: `${Date.now() / 1000}` };
    },
    async say(_thread, text) {
      notices.push({ kind: 'say', state: '', message: text });
    },
    async upsertSignals(_thread, ts, text) {
      notices.push({ kind: 'upsertSignals', state: ts ?? '', message: text });
      return ts ?? `${Date.now() / 1000}`;
    },
  };
}

export function recordingPager(notices: Notice[]): PagerPort {
  return {
    rollbackStarted: async (r) => void notices.push({ kind: 'page-start', state: r.state }),
    rollbackFinished: async (r) => void notices.push({ kind: 'page-end', state: r.state }),
    rollbackSuppressed: async (_i, reason) =>
      void notices.push({ kind: 'page-suppressed', state: '', message: reason }),
  };
}

export interface EngineOptions {
  catalog: Catalog;
  prefix?: string;
  owner?: string;
  leaseMs?: number;
  prometheusUrl?: string;
  /** Alertmanager for "no new alerts firing": the world's by default; false leaves it not configured. */
  alertmanagerUrl?: string | false;
  logger?: RunnerDeps['logger'];
  reapIntervalMs?: number;
  /** Another identity than the world's admin (e.g. a ServiceAccount token), to prove what rights do. */
  kubeconfig?: string;
  metrics?: RunnerDeps['metrics'];
}

export function createTestEngine(world: WorldInfo, o: EngineOptions) {
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfig ?? world.kubeconfig);
  const redis = new Redis(world.redisUrl);
  const prefix = o.prefix ?? `test:${randomBytes(4).toString('hex')}:`;
  const store = createRedisStore(redis, prefix);
  const notifier = recordingNotifier();
  const kube = createKube(kc);
  const deps: RunnerDeps = {
    store,
    kube,
    observe: createObserve({ prometheusUrl: o.prometheusUrl ?? world.prometheusUrl }),
    ...(o.alertmanagerUrl === false
      ? {}
      : {
          alerts: createAlertmanagerClient({
            url: o.alertmanagerUrl ?? world.alertmanagerUrl,
            catalog: o.catalog,
          }),
        }),
    notifier,
    pager: recordingPager(notifier.notices),
    catalog: o.catalog,
    clock: systemClock,
    logger: o.logger ?? silentLogger,
    ...(o.reapIntervalMs ? { reapIntervalMs: o.reapIntervalMs } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    owner: o.owner ?? `test-${randomBytes(2).toString('hex')}`,
    leaseMs: o.leaseMs ?? 5000,
    renderReport: buildReport,
    verifyPollMs: 1000,
    sourceTimeoutMs: 5000,
  };
  const runner = createRunner(deps);
  return {
    runner,
    store,
    kube,
    kc,
    redis,
    prefix,
    notifier,
    deps,
    close: async () => {
      await runner.close();
      await redis.quit();
    },
  };
}
