// An alert storm through createIncidents, on a real Redis (a throwaway server, so its command count is
// this test's alone), with a Kubernetes port that counts its reads and a Slack that is slow, as it is
// when it rate-limits. Thousands of distinct signals a minute must not become a revision read, a
// handful of Redis round trips and a Slack edit each: the queue would fall minutes behind the storm
// and hold every signal in memory meanwhile.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/config/load-catalog.js';
import { buildSignalsText, createIncidents } from '../../src/rollback/incidents.js';
import type { DeploymentSnapshot, JsonObject, ReplicaSetSnapshot } from '../../src/rollback/kube-types.js';
import type { Rollback } from '../../src/rollback/model.js';
import type { KubePort, NotifierPort, PagerPort } from '../../src/rollback/ports.js';
import { silentLogger, systemClock } from '../../src/rollback/ports.js';
import type { Runner } from '../../src/rollback/runner.js';
import type { Signal } from '../../src/rollback/signal.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { startTestRedis, type TestRedis } from './store-redis.js';

const uid = () => randomBytes(6).toString('hex');
const BAD = 'registry.test/release-manager:v2-bad';
const tpl = (image: string, hash: string): JsonObject => ({
  metadata: { labels: { app: 'release-manager', 'pod-template-hash': hash } },
  spec: { containers: [{ name: 'app', image }] },
});

/** The Deployment on its bad revision 2; counts reads, and fails the first `failures` of them. */
function countingKube(namespace: string, deployment: string, failures = 0) {
  let left = failures;
  const reads = { workload: 0 };
  const d: DeploymentSnapshot = {
    kind: 'Deployment',
    namespace,
    name: deployment,
    labels: {},
    strategy: { type: 'RollingUpdate', rollingUpdate: true },
    uid: 'uid-d',
    resourceVersion: '7',
    generation: 2,
    annotations: { 'deployment.kubernetes.io/revision': '2' },
    selector: 'app=release-manager',
    paused: false,
    replicas: 2,
    template: tpl(BAD, 'h2'),
    status: {
      observedGeneration: 2,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 0,
      availableReplicas: 0,
      unavailableReplicas: 2,
      conditions: [],
    },
  };
  const rs = (revision: number, image: string): ReplicaSetSnapshot => ({
    name: `${deployment}-h${revision}`,
    uid: `uid-rs${revision}`,
    controllerUid: 'uid-d',
    creationTimestamp: new Date(Date.UTC(2026, 0, 1, revision)).toISOString(),
    annotations: { 'deployment.kubernetes.io/revision': String(revision) },
    template: tpl(image, `h${revision}`),
    replicas: revision === 2 ? 2 : 0,
    readyReplicas: 0,
    availableReplicas: 0,
  });
  const no = () => Promise.reject(new Error('not used by incidents under propose'));
  const kube: KubePort = {
    readWorkload: async () => {
      reads.workload += 1;
      if (left-- > 0) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      return d;
    },
    listRevisions: async () => [rs(1, 'registry.test/release-manager:v1'), rs(2, BAD)],
    listPods: no,
    listWarningEvents: no,
    readLogs: no,
    patchUndo: no,
    waitForRollout: no,
    exec: no,
    createJob: no,
    readJob: no,
    deleteJob: no,
    readOwner: no,
    patchOwner: no,
    mayPatchOwner: no,
  };
  return { kube, reads };
}

/** A Slack that takes `ms` per call (as one that answers 429 + Retry-After does), recording each. */
function slowSlack(ms: number) {
  const calls = { openThread: [] as string[], upsertSignals: [] as string[], say: [] as string[] };
  const wait = () => new Promise((r) => setTimeout(r, ms));
  const notifier = {
    async openThread(_channel: string, text: string) {
      calls.openThread.push(text);
      await wait();
      return { channel: 'C1', ts: `1.${calls.openThread.length}` };
    },
    async upsertSignals(_thread: unknown, ts: string | undefined, text: string) {
      calls.upsertSignals.push(text);
      await wait();
      return ts ?? '2.1';
    },
    async say(_thread: unknown, text: string) {
      calls.say.push(text);
      await wait();
    },
  } as unknown as NotifierPort;
  return { notifier, calls };
}

const signal = (i: number, o: Partial<Signal> = {}): Signal => ({
  service: 'release-manager',
  source: 'alert',
  name: `Storm${i % 50}`,
  status: 'firing',
  key: `fp-${i}`,
  summary: `storm alert ${i}`,
  why: { since: new Date().toISOString() },
  context: `Storm${i % 50} is not in the service's triggers.alerts`,
  ...o,
});

describe('an alert storm through the incidents', () => {
  let srv: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    srv = await startTestRedis();
    redis = srv.client();
  });
  afterAll(async () => {
    await srv?.stop();
  });

  function setup(o: { slackMs: number; kubeFailures?: number }) {
    const store = createRedisStore(redis, `s${uid()}:`);
    const catalog = loadCatalog(new URL('../../manifests/catalog.yaml', import.meta.url).pathname);
    const svc = catalog.services.get('release-manager')!;
    svc.namespace = `ns-${uid()}`;
    svc.policy = { mode: 'propose', cooldownMinutes: 30, maxAutoRollbacks: 2, windowMinutes: 60 };
    const { kube, reads } = countingKube(svc.namespace, svc.deployment, o.kubeFailures);
    const slack = slowSlack(o.slackMs);
    const requested: string[] = [];
    const paged: string[] = [];
    const runner = {
      request: async (input: { reason: string }) => {
        requested.push(input.reason);
        return { id: `r-${uid()}` } as Rollback;
      },
    } as unknown as Runner;
    const pager = {
      rollbackSuppressed: async (_i: unknown, why: string) => {
        paged.push(why);
      },
    } as unknown as PagerPort;
    const incidents = createIncidents({
      store,
      kube,
      runner,
      notifier: slack.notifier,
      pager,
      catalog,
      clock: systemClock,
      logger: silentLogger,
    });
    return { store, svc, reads, slack, requested, paged, incidents };
  }

  const commands = async () =>
    Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);

  it('turns 3,000 distinct signals into one thread, a few revision reads and a few Signals edits', async () => {
    const t = setup({ slackMs: 100 });
    const before = await commands();
    const work: Promise<void>[] = [];
    for (let i = 0; i < 3000; i++) {
      // As the webhook delivers them: one call per notification, a trigger every 25th, 1 in 7 resolved.
      const s =
        i % 25 === 0
          ? signal(i, { name: 'HighErrorRate', kind: 'error_ratio', context: undefined })
          : signal(i, i % 7 === 3 ? { status: 'resolved' } : {});
      if (s.context === undefined) delete s.context;
      work.push(t.incidents.signal([s]));
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(work);
    const perSignal = ((await commands()) - before) / 3000;
    expect(t.slack.calls.openThread).toHaveLength(1);
    expect(t.requested).toHaveLength(1);
    // One read per batch of arrivals, not one per signal (3,000 before).
    expect(t.reads.workload).toBeLessThan(100);
    // One Signals edit in flight, each carrying the newest text (≈ one per signal before).
    expect(t.slack.calls.upsertSignals.length).toBeLessThan(30);
    // Recording each signal once (SADD + EXPIRE) plus a share of one read and one write per batch.
    expect(perSignal).toBeLessThan(3);
    const incident = (await t.store.findIncident(
      `release-manager:${t.svc.namespace}/${t.svc.deployment}:2:${BAD}`,
    ))!;
    expect(incident.status).toBe('open');
    expect(incident.signalsTs).toBe('2.1');
    expect(Object.keys(incident.signals ?? {})).toHaveLength(100); // the newest 100 kept
    // The last edit shows what the incident holds, the storm's last signal included.
    expect(incident.signals?.['fp-2999']).toBeDefined();
    expect(t.slack.calls.upsertSignals.at(-1)).toBe(buildSignalsText(incident.signals ?? {}));
    console.log(
      `[incident-storm] 3000 signals: ${t.reads.workload} revision reads, ${t.slack.calls.upsertSignals.length} Signals edits, ${perSignal.toFixed(2)} Redis commands/signal`,
    );
  });

  it('reads the revision by time, not per arrival, when Kubernetes and Slack answer at once', async () => {
    const t = setup({ slackMs: 0 });
    const started = performance.now();
    const work: Promise<void>[] = [];
    // 600 signals in 300 arrivals a few ms apart: each arrival would be its own batch, and read.
    for (let i = 0; i < 600; i++) {
      work.push(t.incidents.signal([signal(i)]));
      if (i % 2 === 1) await new Promise((r) => setTimeout(r, 3));
    }
    await Promise.all(work);
    const elapsed = performance.now() - started;
    // A batch at most every 100 ms (and one more at the start).
    expect(t.reads.workload).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
    expect(t.reads.workload).toBeLessThan(75);
  });

  it('opens nothing for resolved and context signals alone, and shows them once a trigger opens it', async () => {
    const t = setup({ slackMs: 5 });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.incidents.signal([signal(i, i % 2 ? { status: 'resolved' } : {})]),
      ),
    );
    expect(t.slack.calls.openThread).toEqual([]);
    expect(t.requested).toEqual([]);
    const trigger = signal(1000, { name: 'HighErrorRate', kind: 'error_ratio' });
    delete trigger.context;
    await t.incidents.signal([trigger]);
    expect(t.slack.calls.openThread).toHaveLength(1);
    expect(t.slack.calls.upsertSignals.at(-1)).toMatch(/\*Signals\* \(1 firing/);
    expect(t.slack.calls.upsertSignals.at(-1)).toMatch(/…and \d+ more/);
  });

  it('retries a trigger whose revision read fails, and opens its incident', async () => {
    const t = setup({ slackMs: 5, kubeFailures: 2 });
    const trigger = signal(1, { name: 'HighErrorRate', kind: 'error_ratio' });
    delete trigger.context;
    await t.incidents.signal([trigger, signal(2)]);
    expect(t.reads.workload).toBe(3);
    expect(t.slack.calls.openThread).toHaveLength(1);
    expect(t.paged).toEqual([]);
  });

  it('pages a trigger it could not handle after 3 tries, and tries again when it is re-sent', async () => {
    const t = setup({ slackMs: 5, kubeFailures: 3 });
    const trigger = signal(1, { name: 'HighErrorRate', kind: 'error_ratio' });
    delete trigger.context;
    await t.incidents.signal([trigger]);
    expect(t.slack.calls.openThread).toEqual([]);
    expect(t.paged[0]).toMatch(/could not handle HighErrorRate after 3 tries: .*ECONNREFUSED/);
    await t.incidents.signal([trigger]);
    expect(t.slack.calls.openThread).toHaveLength(1);
  });
});
