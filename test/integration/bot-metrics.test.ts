// The bot's own metrics, read off the store's transitions against a real Redis: a rollback that
// finishes counts once by service, mode and outcome; each state it left records how long it was in
// it; a rollback resumed by a process that never saw it enter its state still measures that step,
// from the audit trail. The text is what a Prometheus scrape of /metrics gets.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBotMetrics } from '../../src/observe/create-bot-metrics.js';
import { withStoreMetrics } from '../../src/observe/with-store-metrics.js';
import type { Rollback, RollbackEvent } from '../../src/rollback/model.js';
import { silentLogger } from '../../src/rollback/ports.js';
import type { State } from '../../src/rollback/states.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { buildRollback } from '../unit/store/rollback-fixture.js';
import { startTestRedis, type TestRedis } from './store-redis.js';

const uid = () => randomBytes(6).toString('hex');
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const event = (r: Rollback, from: State | undefined, to: State, at: string): RollbackEvent => ({
  id: r.id,
  type: from === undefined ? 'created' : 'start',
  from,
  to,
  actor: r.requestedBy,
  at,
});

/** The value of one series in Prometheus' text format, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Walks a rollback through states, `ms` apart on the record's clock, as the runner commits them. */
async function walk(store: ReturnType<typeof createRedisStore>, r: Rollback, states: State[], ms: number[]) {
  let cur = r;
  let t = Date.parse(r.updatedAt);
  for (const [i, to] of states.entries()) {
    t += ms[i] ?? 0;
    const at = new Date(t).toISOString();
    cur = await store.commit(
      cur,
      { ...cur, state: to, updatedAt: at },
      event(cur, cur.state, to, at),
      undefined,
    );
  }
  return cur;
}

describe('the bot metrics from store transitions', () => {
  it('counts a finished rollback once and times each step it left', async () => {
    const metrics = createBotMetrics();
    const prefix = `m${uid()}:`;
    const store = withStoreMetrics(createRedisStore(redis.client(), prefix), metrics, silentLogger);
    const start = new Date(Date.now() - 60_000).toISOString();
    const r = buildRollback(`t-${uid()}`, {
      state: 'requested',
      service: 'ledger',
      mode: 'auto',
      requestedAt: start,
      updatedAt: start,
      deployment: `d-${uid()}`,
    });
    await store.create(r, event(r, undefined, 'requested', start), { lockDeployment: true });
    const done = await walk(
      store,
      r,
      ['assessing', 'notifying', 'undoing', 'verifying', 'reporting', 'completed'],
      [100, 2000, 500, 3000, 12_000, 400],
    );
    expect(done.state).toBe('completed');
    await expect
      .poll(async () =>
        sample(
          await metrics.render(),
          'rollback_bot_rollbacks_total{service="ledger",mode="auto",outcome="completed"}',
        ),
      )
      .toBe(1);
    const text = await metrics.render();
    expect(sample(text, 'rollback_bot_step_duration_seconds_sum{step="verifying"}')).toBeCloseTo(12, 3);
    expect(sample(text, 'rollback_bot_step_duration_seconds_sum{step="undoing"}')).toBeCloseTo(3, 3);
    expect(sample(text, 'rollback_bot_step_duration_seconds_count{step="assessing"}')).toBe(1);
    expect(sample(text, 'rollback_bot_step_duration_seconds_count{step="completed"}')).toBeUndefined();
    // Default process metrics are there too.
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('measures the step a resumed rollback finishes from the audit trail', async () => {
    const prefix = `m${uid()}:`;
    const plain = createRedisStore(redis.client(), prefix);
    const start = new Date(Date.now() - 60_000).toISOString();
    const r = buildRollback(`t-${uid()}`, {
      state: 'requested',
      mode: 'manual',
      dryRun: true,
      requestedAt: start,
      updatedAt: start,
      deployment: `d-${uid()}`,
    });
    // The first process moves it into verifying and dies.
    await plain.create(r, event(r, undefined, 'requested', start), { lockDeployment: false });
    const verifying = await walk(plain, r, ['assessing', 'verifying'], [100, 200]);
    // The one that takes over never saw it enter verifying.
    const metrics = createBotMetrics();
    const store = withStoreMetrics(plain, metrics, silentLogger);
    await walk(store, verifying, ['reporting', 'failed'], [7000, 100]);
    // Observations run in commit order, so once the outcome is counted every step before it is too.
    await expect
      .poll(async () =>
        sample(
          await metrics.render(),
          'rollback_bot_rollbacks_total{service="release-manager",mode="dry_run",outcome="failed"}',
        ),
      )
      .toBe(1);
    const text = await metrics.render();
    expect(sample(text, 'rollback_bot_step_duration_seconds_sum{step="verifying"}')).toBeCloseTo(7, 3);
    expect(sample(text, 'rollback_bot_step_duration_seconds_sum{step="reporting"}')).toBeCloseTo(0.1, 3);
    expect(sample(text, 'rollback_bot_step_duration_seconds_count{step="assessing"}')).toBeUndefined();
  });

  it('reports the outbox depth at each scrape, and NaN when it cannot be read', async () => {
    const metrics = createBotMetrics();
    let depth: number | undefined = 3;
    metrics.setOutboxDepth(async () => {
      if (depth === undefined) throw new Error('redis down');
      return depth;
    });
    expect(sample(await metrics.render(), 'rollback_bot_outbox_depth')).toBe(3);
    depth = undefined;
    expect(sample(await metrics.render(), 'rollback_bot_outbox_depth')).toBeNaN();
  });
});
