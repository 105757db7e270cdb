// The outbox on a real (throwaway) Redis: the root message's updates are delivered beside the
// thread's notices, so a root update waiting for Slack's workspace update budget does not hold the
// thread's next post; the thread's notices stay in order, and a stateChanged is acknowledged only
// after an update as new as it reached Slack.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rollback, RollbackEvent } from '../../../src/rollback/model.js';
import { createOutbox } from '../../../src/rollback/outbox.js';
import type { NotifierPort } from '../../../src/rollback/ports.js';
import { silentLogger, systemClock } from '../../../src/rollback/ports.js';
import { createRedisStore, type RedisStore } from '../../../src/store/create-redis-store.js';
import { startTestRedis, type TestRedis } from '../../integration/store-redis.js';
import { buildRollback } from '../store/rollback-fixture.js';

let redis: TestRedis;
let store: RedisStore;
beforeAll(async () => {
  redis = await startTestRedis();
  store = createRedisStore(redis.client(), `t-${randomBytes(3).toString('hex')}:`);
});
afterAll(async () => {
  await redis?.stop();
});

const event = (r: Rollback, type: RollbackEvent['type']): RollbackEvent => ({
  id: r.id,
  type,
  from: r.state,
  to: r.state,
  actor: { kind: 'system', id: 'test' },
  at: new Date().toISOString(),
});

async function requested(): Promise<Rollback> {
  const now = new Date().toISOString();
  const {
    assessment: _a,
    undo: _u,
    verification: _v,
    report: _r,
    decision: _d,
    ...base
  } = buildRollback(`o-${randomBytes(4).toString('hex')}`, {
    state: 'requested',
    version: 1,
    requestedAt: now,
    updatedAt: now,
    approvals: [],
  });
  const r = { ...base, thread: { channel: 'C0INC', ts: '1.1' } } as Rollback;
  await store.create(r, { ...event(r, 'created'), from: undefined }, { lockDeployment: false });
  return r;
}

describe('outbox delivery lines', () => {
  it("delivers the thread's notices while a root update still waits, in order, and acks the root after it", async () => {
    const said: string[] = [];
    let releaseRoot = () => {};
    const rootHeld = new Promise<void>((r) => (releaseRoot = r));
    const rootStates: number[] = [];
    const notifier = {
      stateChanged: async (r: Rollback) => {
        await rootHeld; // Slack's update budget is spent: the root waits
        rootStates.push(r.version);
      },
      say: async (_t: unknown, text: string) => void said.push(text),
    } as unknown as NotifierPort;
    const running: Promise<void>[] = [];
    const outbox = createOutbox({
      store,
      notifier,
      clock: systemClock,
      logger: silentLogger,
      owner: 'test',
      leaseMs: 5000,
      background: (p) => void running.push(p),
    });
    let r = await requested();
    for (const text of ['one', 'two', 'three']) {
      r = await store.commit(
        { state: r.state, version: r.version },
        { ...r },
        event(r, 'progress'),
        undefined,
        [{ kind: 'stateChanged' }, { kind: 'say', text }],
      );
      outbox.kick(r.id);
    }
    // Without the root's own line, "one" would wait behind the first held root update forever.
    for (let i = 0; i < 100 && said.length < 3; i++) await new Promise((x) => setTimeout(x, 50));
    expect(said).toEqual(['one', 'two', 'three']);
    expect(rootStates).toEqual([]);
    expect((await store.outbox(r.id, 50)).map((x) => x.kind)).toEqual([
      'stateChanged',
      'stateChanged',
      'stateChanged',
    ]);

    releaseRoot();
    for (let i = 0; i < 100 && (await store.outbox(r.id, 50)).length; i++)
      await new Promise((x) => setTimeout(x, 50));
    await Promise.all(running);
    expect(await store.outbox(r.id, 50)).toEqual([]);
    // Every stateChanged listed before the record was read is covered by the one update of the latest.
    expect(rootStates.at(-1)).toBe(r.version);
    expect(rootStates.length).toBeLessThanOrEqual(2);
    outbox.close();
  });
});

describe('outbox wake-ups', () => {
  // A notice committed just as the thread's line finds nothing left must still be delivered by this
  // process: test engines run no reaper, and in production the sweep would only deliver it a lease
  // later. The commit's kick can land at any point around the line's end, so try each of them.
  for (const hops of [0, 1, 2, 3, 4, 5, 6, 8]) {
    it(`delivers a notice committed as the thread's line ends (kick ${hops} microtasks later)`, async () => {
      const said: string[] = [];
      let armed = false;
      let r = await requested();
      /** Commits a progress event that says `text` in the thread. */
      const say = (text: string) =>
        store.commit({ state: r.state, version: r.version }, { ...r }, event(r, 'progress'), undefined, [
          { kind: 'say', text },
        ]);
      const running: Promise<void>[] = [];
      // Late-bound: the wrapped store kicks the outbox it serves.
      let kick = (_id: string) => {};
      const racing = new Proxy(store, {
        get(target, key, receiver) {
          if (key !== 'outbox') return Reflect.get(target, key, receiver);
          return async (id: string, n: number) => {
            const items = await target.outbox(id, n);
            if (!armed || items.some((x) => x.kind !== 'stateChanged')) return items;
            armed = false;
            // The read found nothing; "b" is committed right after it, and its kick follows.
            r = await say('b');
            let p = Promise.resolve();
            for (let i = 0; i < hops; i++) p = p.then(() => undefined);
            void p.then(() => kick(id));
            return items;
          };
        },
      });
      const notifier = {
        stateChanged: async () => undefined,
        say: async (_t: unknown, text: string) => {
          said.push(text);
          if (text === 'a') armed = true;
        },
      } as unknown as NotifierPort;
      const outbox = createOutbox({
        store: racing,
        notifier,
        clock: systemClock,
        logger: silentLogger,
        owner: 'test',
        leaseMs: 5000,
        background: (p) => void running.push(p),
      });
      kick = outbox.kick;
      r = await say('a');
      outbox.kick(r.id);
      for (let i = 0; i < 40 && said.length < 2; i++) await new Promise((x) => setTimeout(x, 25));
      outbox.close();
      await Promise.all(running);
      expect(said).toEqual(['a', 'b']);
    });
  }
});
