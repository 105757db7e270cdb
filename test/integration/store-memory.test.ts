// How much Redis memory finished rollbacks take: 10,000 realistic ones (assessment, verification,
// report; a tenth automatic), each through the store's create and the runner's seven commits to
// `completed`, on a redis-server of its own. The figure is what manifests/redis.yaml's maxmemory and
// RETENTION_DAYS are reckoned with (README, "Redis").
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rollback, RollbackEvent } from '../../src/rollback/model.js';
import type { State } from '../../src/rollback/states.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { createKeys } from '../../src/store/keys.js';
import { buildRollback } from '../unit/store/rollback-fixture.js';
import { startTestRedis, type TestRedis } from './store-redis.js';

const N = 10_000;
const CONCURRENCY = 32;
/** The bound this test holds the store to (measured: about 9.2 KB); the figure itself is printed. */
const MAX_BYTES_PER_ROLLBACK = 12_000;

const memory = async (srv: TestRedis) => {
  const info = await srv.client().info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
};

describe('Redis memory per finished rollback', () => {
  let srv: TestRedis;
  beforeAll(async () => {
    srv = await startTestRedis();
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it(`stays under ${MAX_BYTES_PER_ROLLBACK} bytes for each of ${N} rollbacks`, async () => {
    const redis = srv.client();
    const prefix = 'rb:';
    const k = createKeys(prefix);
    const store = createRedisStore(redis, prefix);
    const before = await memory(srv);
    const started = Date.now();
    let next = 0;
    let payload = 0;

    async function one(i: number): Promise<void> {
      const full = buildRollback(`${randomBytes(16).toString('hex')}`, {
        service: `service-${i % 5}`,
        deployment: `service-${i % 5}-prod`,
        mode: i % 10 === 0 ? 'auto' : 'manual',
        requestedAt: new Date(Date.now() - (N - i) * 60_000).toISOString(),
      });
      const { assessment, approvals, decision, undo, verification, report, ...base } = full;
      let r: Rollback = { ...base, state: 'requested', version: 1, approvals: [] };
      const ev = (type: RollbackEvent['type'], from: State | undefined, to: State): RollbackEvent => ({
        id: r.id,
        type,
        from,
        to,
        actor: r.requestedBy,
        at: new Date().toISOString(),
        ...(type === 'assessed' ? { data: { summary: assessment!.findings.slice(0, 3).join('; ') } } : {}),
      });
      await store.create(r, ev('created', undefined, 'requested'), { lockDeployment: false });
      const path: [RollbackEvent['type'], State, Partial<Rollback>][] = [
        ['start', 'assessing', {}],
        ['assessed', 'awaiting_approval', { assessment: assessment! }],
        ['approve', 'notifying', { approvals, decision: decision! }],
        ['notified', 'undoing', {}],
        ['undone', 'verifying', { undo: undo! }],
        ['verified', 'reporting', { verification: verification! }],
        ['reported', 'completed', { report: report! }],
      ];
      for (const [type, to, changes] of path) {
        r = await store.commit(r, { ...r, ...changes, state: to }, ev(type, r.state, to), undefined);
      }
      if (i === 0) payload = JSON.stringify(r).length;
    }

    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < N; i = next++) await one(i);
      }),
    );
    const used = (await memory(srv)) - before;
    const per = Math.round(used / N);
    console.log(
      `[store] ${N} finished rollbacks: used_memory +${(used / 1024 / 1024).toFixed(1)} MB, ${per} bytes each ` +
        `(record JSON ${payload} bytes before deflate), in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(per).toBeLessThan(MAX_BYTES_PER_ROLLBACK);
    // The lists are bounded by count as well as by age.
    expect(await redis.zcard(k.recent())).toBe(N);
    expect(await redis.zcard(k.recentOf('service-0'))).toBe(1000);
    expect(await redis.zcard(k.autoOf('production', 'service-0-prod'))).toBe(200);
    expect(await redis.zcard(k.undoneOf('production', 'service-0-prod'))).toBe(200);
    expect(await redis.scard(k.active())).toBe(0);
    // Everything finished expires: no key without a TTL but the (empty-able) bookkeeping.
    let persistent = 0;
    let cursor = '0';
    do {
      const [c, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = c;
      const ttls = await Promise.all(keys.map((key) => redis.pttl(key)));
      persistent += ttls.filter((t) => t === -1).length;
    } while (cursor !== '0');
    expect(persistent).toBe(0);
  });
});
