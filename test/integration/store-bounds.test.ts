// The store keeps Redis bounded: finished rollbacks expire with their trail, lists are trimmed, event
// streams are capped, dry runs are limited per person and kept out of the guard rails' history.
// Against a real redis-server of its own (store-redis.ts).
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../../src/config/catalog-schema.js';
import { loadCatalog } from '../../src/config/load-catalog.js';
import { type CodedError, isCodedError } from '../../src/errors.js';
import { createIncidents } from '../../src/rollback/incidents.js';
import type { DeploymentSnapshot, JsonObject, ReplicaSetSnapshot } from '../../src/rollback/kube-types.js';
import type { Rollback, RollbackEvent } from '../../src/rollback/model.js';
import type { KubePort, NotifierPort } from '../../src/rollback/ports.js';
import { silentLogger, systemClock } from '../../src/rollback/ports.js';
import type { Runner } from '../../src/rollback/runner.js';
import type { State } from '../../src/rollback/states.js';
import { createRedisStore, type RedisStore } from '../../src/store/create-redis-store.js';
import { createKeys } from '../../src/store/keys.js';
import { buildRollback } from '../unit/store/rollback-fixture.js';
import { startTestRedis, type TestRedis } from './store-redis.js';

const DAY = 24 * 3600_000;
const uid = () => randomBytes(6).toString('hex');
const created = (r: Rollback): RollbackEvent => ({
  id: r.id,
  type: 'created',
  from: undefined,
  to: r.state,
  actor: r.requestedBy,
  at: r.requestedAt,
});
const ev = (r: Rollback, type: RollbackEvent['type'], from: State, to: State): RollbackEvent => ({
  id: r.id,
  type,
  from,
  to,
  actor: { kind: 'system', id: 'test' },
  at: new Date().toISOString(),
});

/** A new rollback in `requested`, as the runner makes it. */
function requested(o: Partial<Rollback> = {}): Rollback {
  const now = new Date().toISOString();
  const {
    assessment: _a,
    undo: _u,
    verification: _v,
    report: _r,
    decision: _d,
    ...base
  } = buildRollback(`t-${uid()}`, {
    state: 'requested',
    version: 1,
    requestedAt: now,
    updatedAt: now,
    approvals: [],
    ...o,
  });
  return { ...base, ...o };
}

/** Drives `r` through the procedure's commits to `completed`, the way the runner does. */
async function finish(store: RedisStore, r0: Rollback): Promise<Rollback> {
  const full = buildRollback(r0.id);
  const path: [RollbackEvent['type'], State, Partial<Rollback>][] = [
    ['start', 'assessing', {}],
    ['assessed', 'awaiting_approval', { assessment: full.assessment! }],
    ['approve', 'notifying', { approvals: full.approvals, decision: full.decision! }],
    ['notified', 'undoing', {}],
    ['undone', 'verifying', { undo: full.undo! }],
    ['verified', 'reporting', { verification: full.verification! }],
    ['reported', 'completed', { report: full.report! }],
  ];
  let r = r0;
  for (const [type, to, changes] of path) {
    r = await store.commit(r, { ...r, ...changes, state: to }, ev(r, type, r.state, to), undefined);
  }
  return r;
}

describe('the store keeps Redis bounded', () => {
  let srv: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    srv = await startTestRedis();
    redis = srv.client();
  });
  afterAll(async () => {
    await srv?.stop();
  });
  const fresh = (o?: Parameters<typeof createRedisStore>[2]) => {
    const prefix = `t${uid()}:`;
    return {
      prefix,
      k: createKeys(prefix),
      store: createRedisStore(redis, prefix, { retentionDays: 30, ...o }),
    };
  };

  it('keeps an active rollback, and expires a finished one with its events and fence after the retention', async () => {
    const { k, store } = fresh({ retentionDays: 7 });
    const r = requested();
    await store.create(r, created(r), { lockDeployment: true });
    const lease = await store.acquireLease(r.id, 'me', 10_000);
    expect(lease).toBeDefined();
    expect(await redis.pttl(k.record(r.id))).toBe(-1);
    expect(await redis.pttl(k.events(r.id))).toBe(-1);
    const done = await finish(store, r);
    expect(done.state).toBe('completed');
    for (const key of [k.record(r.id), k.events(r.id), k.fence(r.id)]) {
      const ttl = await redis.pttl(key);
      expect(ttl, key).toBeGreaterThan(7 * DAY - 60_000);
      expect(ttl, key).toBeLessThanOrEqual(7 * DAY);
    }
    expect(await store.listActive()).not.toContain(r.id);
    expect(await store.holderOf(r.namespace, r.deployment)).toBeUndefined();
    // A checklist tick after the end keeps the stream's TTL, and never leaves a stream without one.
    await store.append(ev(done, 'note', 'completed', 'completed'));
    expect(await redis.pttl(k.events(r.id))).toBeGreaterThan(7 * DAY - 60_000);
    await redis.del(k.record(r.id), k.events(r.id));
    await store.append(ev(done, 'note', 'completed', 'completed'));
    expect(await redis.pttl(k.events(r.id))).toBeGreaterThan(0);
  });

  it('reads back what it stored, bounded, and still reads records earlier versions stored as plain JSON', async () => {
    const { k, store } = fresh();
    const r = requested();
    await store.create(r, created(r), { lockDeployment: false });
    const done = await finish(store, r);
    expect(await store.get(r.id)).toEqual(done);
    const raw = await redis.hgetBuffer(k.record(r.id), 'record');
    expect(raw!.length).toBeLessThan(JSON.stringify(done).length / 3);
    const legacy = { ...done, id: `legacy-${uid()}` };
    await redis.hset(
      k.record(legacy.id),
      'state',
      'completed',
      'version',
      '9',
      'record',
      JSON.stringify(legacy),
    );
    expect(await store.get(legacy.id)).toEqual(legacy);
  });

  it('trims the recent lists by age as new rollbacks come in', async () => {
    const { k, store } = fresh({ retentionDays: 1 });
    const old = requested({ requestedAt: new Date(Date.now() - 2 * DAY).toISOString(), state: 'completed' });
    await store.create(old, created(old), { lockDeployment: false });
    expect(await redis.zscore(k.recent(), old.id)).not.toBeNull();
    const now = requested({ state: 'completed' });
    await store.create(now, created(now), { lockDeployment: false });
    expect(await redis.zrange(k.recent(), 0, -1)).toEqual([now.id]);
    expect(await redis.zrange(k.recentOf('release-manager'), 0, -1)).toEqual([now.id]);
    expect(await redis.pttl(k.recent())).toBeGreaterThan(DAY - 60_000);
    // A record stored already finished is not active and expires like a finished one.
    expect(await store.listActive()).toEqual([]);
    expect(await redis.pttl(k.record(now.id))).toBeGreaterThan(DAY - 60_000);
  });

  it('caps a looping rollback’s progress events, keeps every state change, and says so once', async () => {
    const { store } = fresh({ maxEvents: 20 });
    const r = requested();
    await store.create(r, created(r), { lockDeployment: false });
    let cur = await store.commit(
      r,
      { ...r, state: 'assessing' },
      ev(r, 'start', 'requested', 'assessing'),
      undefined,
    );
    for (let i = 0; i < 40; i++)
      await store.append({ ...ev(cur, 'progress', 'assessing', 'assessing'), data: { i } });
    for (let i = 0; i < 5; i++) {
      cur = await store.commit(
        cur,
        { ...cur },
        { ...ev(cur, 'progress', 'assessing', 'assessing'), data: { save: i } },
        undefined,
      );
    }
    cur = await store.commit(
      cur,
      { ...cur, state: 'cancelled' },
      ev(cur, 'cancel', 'assessing', 'cancelled'),
      undefined,
    );
    const events = await store.events(r.id);
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(18);
    const capped = events.filter((e) => e.data?.kind === 'events_capped');
    expect(capped).toHaveLength(1);
    expect(capped[0]).toMatchObject({ type: 'note', data: { dropping: 'progress', kept: 20 } });
    expect(events.map((e) => e.type).filter((t) => t !== 'progress' && t !== 'note')).toEqual([
      'created',
      'start',
      'cancel',
    ]);
    // Notes (checklist ticks) still go in for a while after progress stopped being kept.
    await store.append({
      ...ev(cur, 'note', 'cancelled', 'cancelled'),
      data: { kind: 'checklist', item: 'x', done: true },
    });
    expect((await store.events(r.id)).at(-1)?.data?.kind).toBe('checklist');
  });

  it('limits dry runs per person, says when to try again, and writes nothing for a refused one', async () => {
    const { k, store } = fresh({ dryRunLimit: 3, dryRunWindowMinutes: 10 });
    const alice = { kind: 'user' as const, id: `U${uid()}`, name: 'alice' };
    const t0 = Date.now();
    const at = (min: number) => new Date(t0 + min * 60_000).toISOString();
    for (let i = 0; i < 3; i++) {
      const d = requested({ dryRun: true, requestedBy: alice, requestedAt: at(i) });
      await store.create(d, created(d), { lockDeployment: false });
    }
    const refused = requested({ dryRun: true, requestedBy: alice, requestedAt: at(3) });
    const err = await store
      .create(refused, created(refused), { lockDeployment: false })
      .catch((e: unknown) => e);
    expect(isCodedError(err, 'rollback_dry_run_limit')).toBe(true);
    const e = err as CodedError;
    expect(e.message).toBe('alice has started 3 dry runs in the last 10 min, the most allowed');
    expect(e.remedy).toMatch(/^Try again in 7 min \(at \d\d:\d\d UTC\)/);
    expect(e.details?.retryAt).toBe(at(10));
    expect(await store.get(refused.id)).toBeUndefined();
    expect(await redis.exists(k.events(refused.id))).toBe(0);
    // Someone else may, and so may alice once the window has moved past her first one.
    const bob = requested({
      dryRun: true,
      requestedBy: { kind: 'user', id: `U${uid()}`, name: 'bob' },
      requestedAt: at(3),
    });
    await store.create(bob, created(bob), { lockDeployment: false });
    const later = requested({ dryRun: true, requestedBy: alice, requestedAt: at(10) });
    await store.create(later, created(later), { lockDeployment: false });
    // Real rollbacks are not counted against the limit.
    const real = requested({ requestedBy: alice, requestedAt: at(10), state: 'completed' });
    await store.create(real, created(real), { lockDeployment: false });
    // Status lists dry runs with the rest, newest first; the lists the guard rails read never have them.
    expect((await store.listRecent(3)).map((r) => r.id)).toEqual([real.id, later.id, bob.id]);
    expect(await redis.zrange(k.recent(), 0, -1)).toEqual([real.id]);
    expect(await redis.zcard(k.dryRecent())).toBe(5);
  });
});

// --- The guard rails, through createIncidents, with a store full of dry runs and manual rollbacks. ---

const GOOD = 'registry.test/release-manager:v1';
const BAD = 'registry.test/release-manager:v2-bad';
const tpl = (image: string, hash: string): JsonObject => ({
  metadata: { labels: { app: 'release-manager', 'pod-template-hash': hash } },
  spec: { containers: [{ name: 'app', image }] },
});

function fakeKube(namespace: string, deployment: string): KubePort {
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
  const no = () => Promise.reject(new Error('not used by the guard rails'));
  return {
    readWorkload: async () => d,
    listRevisions: async () => [rs(1, GOOD), rs(2, BAD)],
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
}

describe('the guard rails read by time and mode', () => {
  let srv: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    srv = await startTestRedis();
    redis = srv.client();
  });
  afterAll(async () => {
    await srv?.stop();
  });

  async function world(policy: CatalogEntry['policy']) {
    const prefix = `g${uid()}:`;
    const store = createRedisStore(redis, prefix);
    const catalog = loadCatalog(new URL('../../manifests/catalog.yaml', import.meta.url).pathname);
    const svc = catalog.services.get('release-manager')!;
    svc.namespace = `ns-${uid()}`;
    svc.policy = policy;
    const said: string[] = [];
    const started: string[] = [];
    const notifier = {
      openThread: async () => ({ channel: 'C1', ts: '1.1' }),
      say: async (_t: unknown, text: string) => {
        said.push(text);
      },
    } as unknown as NotifierPort;
    const runner = {
      request: async (input: { reason: string }) => {
        started.push(input.reason);
        return requested();
      },
    } as unknown as Runner;
    const incidents = createIncidents({
      store,
      kube: fakeKube(svc.namespace, svc.deployment),
      runner,
      notifier,
      catalog,
      clock: systemClock,
      logger: silentLogger,
    });
    /** Stores a finished rollback of this Deployment, `minutesAgo`. */
    const past = async (minutesAgo: number, o: Partial<Rollback>) => {
      const at = new Date(Date.now() - minutesAgo * 60_000).toISOString();
      const r = buildRollback(`p-${uid()}`, {
        namespace: svc.namespace,
        deployment: svc.deployment,
        requestedAt: at,
        updatedAt: at,
        ...o,
      });
      await store.create(r, created(r), { lockDeployment: false });
      return r;
    };
    /** 60 dry runs (six people, ten each: the limit) and 60 manual rollbacks, all more recent. */
    const flood = async () => {
      for (let i = 0; i < 60; i++) {
        await past(5, { dryRun: true, undo: undefined, requestedBy: { kind: 'user', id: `U${i % 6}` } });
        await past(5, { mode: 'manual' });
      }
    };
    const signal = () =>
      incidents.signal([
        {
          service: 'release-manager',
          source: 'alert',
          name: 'HighErrorRate',
          status: 'firing',
          key: `fp-${uid()}`,
          summary: 'Error ratio 8.3% (threshold 5%)',
          why: { query: 'errors/requests > 0.05', threshold: '0.05', since: new Date().toISOString() },
        },
      ]);
    return { store, svc, said, started, past, flood, signal };
  }

  it('60 dry runs and 60 manual rollbacks after an automatic one do not hide it from the cooldown', async () => {
    const w = await world({ mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 5, windowMinutes: 60 });
    const auto = await w.past(10, {
      mode: 'auto',
      requestedBy: { kind: 'alert', id: 'fp-old', name: 'HighErrorRate' },
      undo: undefined,
    });
    await w.flood();
    expect((await w.store.listRecent(50, 'release-manager')).map((r) => r.id)).not.toContain(auto.id);
    expect((await w.store.listAutoSince(w.svc.namespace, w.svc.deployment, 0)).map((r) => r.id)).toEqual([
      auto.id,
    ]);
    await w.signal();
    expect(w.started).toEqual([]);
    expect(w.said.join('\n')).toMatch(
      /suppressed: cooldown: the last automatic rollback was 10 min ago \(cooldown 30 min\)/,
    );
  });

  it('and do not hide a rollback from the target from "never onto a revision rolled back from"', async () => {
    const w = await world({ mode: 'auto', cooldownMinutes: 0, maxAutoRollbacks: 5, windowMinutes: 60 });
    const from = buildRollback('x').assessment!;
    const undid = await w.past(120, {
      mode: 'manual',
      assessment: { ...from, from: { ...from.from!, images: [GOOD] } },
    });
    await w.flood();
    const undone = await w.store.listUndoneSince(w.svc.namespace, w.svc.deployment, 0);
    expect(undone.map((r) => r.id)).toContain(undid.id);
    expect(undone.some((r) => r.dryRun)).toBe(false);
    await w.signal();
    expect(w.started).toEqual([]);
    expect(w.said.join('\n')).toMatch(
      new RegExp(`is a revision the bot already rolled back from \\(rollback ${undid.id.slice(0, 8)}\\)`),
    );
  });

  it('starts the automatic rollback when no guard rail holds', async () => {
    const w = await world({ mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 5, windowMinutes: 60 });
    await w.past(40, { mode: 'auto', undo: undefined });
    await w.flood();
    await w.signal();
    expect(w.said.join('\n')).not.toContain('suppressed');
    expect(w.started).toHaveLength(1);
  });
});
