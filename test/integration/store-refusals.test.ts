// When Redis is up but will not take a write (full, wrong credentials, a read-only replica), the store
// says so with store_refused and the reason, instead of a generic "unavailable", and a refused
// transition writes nothing at all. Against real redis-servers of its own (store-redis.ts).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type CodedError, isCodedError } from '../../src/errors.js';
import type { Rollback, RollbackEvent } from '../../src/rollback/model.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { createKeys } from '../../src/store/keys.js';
import { buildRollback } from '../unit/store/rollback-fixture.js';
import { startTestRedis, type TestRedis } from './store-redis.js';

const uid = () => randomBytes(6).toString('hex');
const servers: TestRedis[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});
const start = async (args: string[]) => {
  const s = await startTestRedis(args);
  servers.push(s);
  return s;
};
const created = (r: Rollback): RollbackEvent => ({
  id: r.id,
  type: 'created',
  from: undefined,
  to: r.state,
  actor: r.requestedBy,
  at: r.requestedAt,
});
const fresh = (o: Partial<Rollback> = {}) =>
  buildRollback(`t-${uid()}`, {
    state: 'requested',
    requestedAt: new Date().toISOString(),
    deployment: `d-${uid()}`,
    ...o,
  });
async function expectEventually(ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
const incident = () => ({
  key: 'k',
  service: 'release-manager',
  namespace: 'production',
  deployment: 'release-manager-prod',
  revision: 2,
  images: ['registry.test/release-manager:v2'],
  openedAt: new Date().toISOString(),
  openedBy: { source: 'alert', name: 'HighErrorRate', key: 'fp' },
});
const refusal = (err: unknown) => {
  expect(isCodedError(err, 'store_refused'), String(err)).toBe(true);
  return err as CodedError;
};

describe('store_refused', () => {
  it('a full Redis (maxmemory, noeviction): refused whole, with the reason; leases still renew and release', async () => {
    const srv = await start(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']);
    const redis = srv.client();
    const prefix = `t${uid()}:`;
    const k = createKeys(prefix);
    const store = createRedisStore(redis, prefix);
    const first = fresh();
    await store.create(first, created(first), { lockDeployment: true });
    const lease = (await store.acquireLease(first.id, 'me', 30_000))!;
    await store.checkWritable('me');
    // Fill it with rollbacks until it says no.
    let err: unknown;
    let stored = 0;
    for (let i = 0; i < 5000 && !err; i++) {
      const r = fresh();
      try {
        await store.create(r, created(r), { lockDeployment: true });
        stored += 1;
      } catch (e) {
        err = e;
        // Nothing of the refused one was written: no lock, no record, no events, not listed.
        expect(await store.holderOf(r.namespace, r.deployment)).toBeUndefined();
        expect(await redis.exists(k.record(r.id), k.events(r.id))).toBe(0);
        expect(await redis.zscore(k.recent(), r.id)).toBeNull();
        expect(await redis.sismember(k.active(), r.id)).toBe(0);
      }
    }
    expect(stored).toBeGreaterThan(10);
    const e = refusal(err);
    expect(e.details?.reason).toBe('oom');
    expect(e.message).toMatch(/^Redis refused the write: Redis is full .*OOM command not allowed/);
    expect(e.remedy).toMatch(/RETENTION_DAYS/);
    console.log(`[store] a 2 MB Redis refused writes after ${stored + 1} rollbacks: ${e.describe()}`);
    // The readiness probe says so too.
    expect(refusal(await store.checkWritable('me').catch((x: unknown) => x)).details?.reason).toBe('oom');
    // A commit is refused whole: the record stays as it was.
    const before = await store.get(first.id);
    const c = await store
      .commit(first, { ...first, state: 'assessing' }, { ...created(first), type: 'start' }, lease)
      .catch((x: unknown) => x);
    expect(refusal(c).details?.reason).toBe('oom');
    expect(await store.get(first.id)).toEqual(before);
    expect(await redis.xlen(k.events(first.id))).toBe(1);
    // Reads work, and a lease can still be renewed and handed back.
    expect((await store.listRecent(5)).length).toBe(5);
    expect(await store.renewLease(lease, 30_000)).toBe(true);
    await store.releaseLease(lease);
    expect(await redis.exists(k.lease(first.id))).toBe(0);
  });

  it('no password, or the wrong one, for a Redis that requires one', async () => {
    const srv = await start(['--requirepass', 'right-password']);
    const none = createRedisStore(srv.client(), `t${uid()}:`);
    const e1 = refusal(await none.checkWritable('me').catch((x: unknown) => x));
    expect(e1.details?.reason).toBe('auth');
    expect(e1.message).toMatch(/NOAUTH/);
    expect(e1.remedy).toMatch(/REDIS_URL/);
    const wrong = createRedisStore(srv.client({ password: 'wrong-password' }), `t${uid()}:`);
    const e2 = refusal(await wrong.get('x').catch((x: unknown) => x));
    expect(e2.details?.reason).toBe('auth');
    const right = createRedisStore(srv.client({ password: 'right-password' }), `t${uid()}:`);
    await right.checkWritable('me');
  });

  it('an ACL user without a command it needs, and a read-only replica', async () => {
    const primary = await start([]);
    await primary.client().acl('SETUSER', 'reader', 'on', '>pw', '~*', '-@all', '+@read', '+@connection');
    const acl = createRedisStore(primary.client({ username: 'reader', password: 'pw' }), `t${uid()}:`);
    const r = fresh();
    const e1 = refusal(await acl.create(r, created(r), { lockDeployment: true }).catch((x: unknown) => x));
    expect(e1.details?.reason).toBe('permission');
    const replica = await start(['--replicaof', '127.0.0.1', String(primary.port)]);
    await expectEventually(async () =>
      (await replica.client().info('replication')).includes('master_link_status:up'),
    );
    const ro = createRedisStore(replica.client(), `t${uid()}:`);
    const e2 = refusal(await ro.checkWritable('me').catch((x: unknown) => x));
    expect(e2.details?.reason).toBe('readonly');
    expect(e2.remedy).toMatch(/primary/);
  });

  it('an unreachable Redis is store_unavailable, not a refusal', async () => {
    const srv = await start([]);
    const redis = srv.client();
    const store = createRedisStore(redis, `t${uid()}:`);
    await store.checkWritable('me');
    await srv.stop();
    servers.splice(servers.indexOf(srv), 1);
    const err = await store.checkWritable('me').catch((x: unknown) => x);
    expect(isCodedError(err, 'store_unavailable'), String(err)).toBe(true);
  });
});

describe("manifests/redis.yaml's Redis, started with its own command line", () => {
  const manifest = parseAllDocuments(readFileSync('manifests/redis.yaml', 'utf8')).map((d) => d.toJS());
  const container = manifest.find((o) => o.kind === 'StatefulSet').spec.template.spec.containers[0];
  const PASSWORD = randomBytes(16).toString('hex');
  let srv: TestRedis;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-store-manifest-'));
    const args = (container.args as string[]).map((a) =>
      a.replace('$(REDIS_PASSWORD)', PASSWORD).replace(/^\/data$/, dir),
    );
    srv = await start(args);
  });

  it('caps memory below the container limit, evicting nothing', async () => {
    const admin = srv.client({ username: 'rollback-bot', password: PASSWORD });
    const info = await admin.info('memory');
    const maxmemory = Number(/maxmemory:(\d+)/.exec(info)?.[1]);
    expect(/maxmemory_policy:(\S+)/.exec(info)?.[1]).toBe('noeviction');
    const limit = container.resources.limits.memory as string;
    expect(limit).toBe('256Mi');
    expect(maxmemory).toBeGreaterThan(0);
    expect(maxmemory).toBeLessThanOrEqual(0.8 * 256 * 1024 * 1024);
  });

  it('lets the bot, with the password from REDIS_URL, run a whole rollback, and nobody else in', async () => {
    const url = new URL(`redis://rollback-bot:${PASSWORD}@127.0.0.1:${srv.port}`);
    const bot = new Redis(url.href, { maxRetriesPerRequest: 1 });
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => warnings.push(a.join(' '));
    try {
      const store = createRedisStore(bot, 'rb:');
      await store.checkWritable('pod-1');
      const r = fresh();
      await store.create(r, created(r), { lockDeployment: true });
      const lease = (await store.acquireLease(r.id, 'pod-1', 10_000))!;
      expect(await store.renewLease(lease, 10_000)).toBe(true);
      const next = await store.commit(
        r,
        { ...r, state: 'cancelled' },
        { ...created(r), type: 'cancel' },
        lease,
      );
      await store.append({ ...created(r), type: 'note' });
      await store.releaseLease(lease);
      expect(await store.get(r.id)).toEqual(next);
      expect((await store.events(r.id)).length).toBe(3);
      expect((await store.listRecent(5)).map((x) => x.id)).toEqual([r.id]);
      expect(await store.listActive()).toEqual([]);
      expect(await store.claimIncident({ ...incident(), key: `k-${uid()}` })).toMatchObject({
        created: true,
      });
      expect(await store.firstSight('k', 's')).toBe(true);
      // Nothing outside its keys, nothing dangerous.
      await expect(bot.set('other:key', '1')).rejects.toThrow(/NOPERM/);
      await expect(bot.flushall()).rejects.toThrow(/NOPERM/);
      await expect(bot.config('GET', 'maxmemory')).rejects.toThrow(/NOPERM/);
      expect(warnings).toEqual([]);
    } finally {
      console.warn = warn;
      bot.disconnect();
    }
    const anonymous = createRedisStore(srv.client(), 'rb:');
    expect(refusal(await anonymous.get('x').catch((x: unknown) => x)).details?.reason).toBe('auth');
    const wrong = createRedisStore(srv.client({ username: 'rollback-bot', password: 'nope' }), 'rb:');
    expect(refusal(await wrong.get('x').catch((x: unknown) => x)).details?.reason).toBe('auth');
  });
});
