// Pausing automatic rollbacks, against a real Redis: only an approver may pause or resume; the pause
// lapses by itself at its end (Redis expiry, no process involved); lifting it early says who did;
// both land in the audit stream; resuming what is not paused is a clear error that changes nothing.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/load-catalog.js';
import { isCodedError } from '../../src/errors.js';
import type { Actor } from '../../src/rollback/model.js';
import { createPauses, PAUSE_MS } from '../../src/rollback/pauses.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { createKeys } from '../../src/store/keys.js';
import { startTestRedis, type TestRedis } from './store-redis.js';

const uid = () => randomBytes(6).toString('hex');
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const catalog = parseCatalog(readFileSync('manifests/catalog.yaml', 'utf8'), 'manifests/catalog.yaml');
const svc = catalog.services.get('release-manager')!;
const approver: Actor = { kind: 'user', id: svc.approvers.users[0] ?? 'U-none', name: 'alice' };
const stranger: Actor = { kind: 'user', id: 'U0STRANGER', name: 'mallory' };

function setup(now: () => Date = () => new Date(), pauseMs?: number, prefix = `p${uid()}:`) {
  const client = redis.client();
  const store = createRedisStore(client, prefix);
  const pauses = createPauses({
    store,
    catalog,
    clock: { now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    ...(pauseMs ? { pauseMs } : {}),
  });
  const audit = async () =>
    (await client.xrange(createKeys(prefix).audit(), '-', '+')).map(
      ([, f]) => JSON.parse(f[1] ?? '{}') as Record<string, unknown>,
    );
  return { store, pauses, audit, prefix };
}

describe('pausing automatic rollbacks', () => {
  it('lets an approver pause for 4 hours and resume early, both audited', async () => {
    expect(svc.approvers.users.length).toBeGreaterThan(0);
    const { pauses, audit } = setup();
    const p = await pauses.pause('release-manager', approver);
    expect(Date.parse(p.until) - Date.parse(p.at)).toBe(PAUSE_MS);
    expect(await pauses.of(svc)).toEqual(p);
    const lifted = await pauses.resume('release-manager', approver);
    expect(lifted).toEqual(p);
    expect(await pauses.of(svc)).toBeUndefined();
    const trail = await audit();
    expect(trail.map((e) => e.action)).toEqual(['pause', 'resume']);
    expect(trail[1]).toMatchObject({ by: { id: approver.id }, pause: { until: p.until } });
  });

  it('refuses a non-approver, and resuming what is not paused, changing nothing', async () => {
    const { pauses, audit } = setup();
    const refused = await pauses.pause('release-manager', stranger).catch((e: unknown) => e);
    expect(isCodedError(refused, 'rollback_unauthorized')).toBe(true);
    expect(await pauses.of(svc)).toBeUndefined();
    const none = await pauses.resume('release-manager', approver).catch((e: unknown) => e);
    expect(isCodedError(none, 'rollback_not_paused')).toBe(true);
    await pauses.pause('release-manager', approver);
    expect(
      isCodedError(
        await pauses.resume('release-manager', stranger).catch((e: unknown) => e),
        'rollback_unauthorized',
      ),
    ).toBe(true);
    expect(await pauses.of(svc)).toBeDefined();
    expect((await audit()).map((e) => e.action)).toEqual(['pause']);
  });

  it('lapses by itself at its end, with no process to lift it', async () => {
    // A clock 4 h minus 1.5 s in the past: the pause ends 1.5 s from now.
    const { pauses, store } = setup(() => new Date(Date.now() - PAUSE_MS + 1500));
    await pauses.pause('release-manager', approver);
    expect(await store.pauseOf(svc.namespace, svc.deployment)).toBeDefined();
    await new Promise((r) => setTimeout(r, 2000));
    expect(await store.pauseOf(svc.namespace, svc.deployment)).toBeUndefined();
  });

  it('lasts as configured, and a lapse is handed to one replica once, audited', async () => {
    const one = setup(undefined, 1500);
    // A second replica: the same Redis and prefix, its own client.
    const two = setup(undefined, 1500, one.prefix);
    expect(one.pauses.lasts).toBe('2 s');
    const p = await one.pauses.pause('release-manager', approver);
    expect(Date.parse(p.until) - Date.parse(p.at)).toBe(1500);
    expect(await one.pauses.lapsed()).toEqual([]); // not yet
    await new Promise((r) => setTimeout(r, 1700));
    const claims = await Promise.all([one.pauses.lapsed(), two.pauses.lapsed(), one.pauses.lapsed()]);
    expect(claims.flat()).toEqual([p]);
    expect(await one.pauses.lapsed()).toEqual([]);
    const trail = await one.audit();
    expect(trail.map((e) => e.action)).toEqual(['pause', 'pause_lapsed']);
    expect(trail[1]).toMatchObject({ pause: { by: { id: approver.id }, until: p.until } });
  });

  it('never lapses once lifted early, and a pause made again lapses at its new end only', async () => {
    const { pauses, audit } = setup(undefined, 1500);
    await pauses.pause('release-manager', approver);
    await pauses.resume('release-manager', approver);
    await new Promise((r) => setTimeout(r, 1700));
    expect(await pauses.lapsed()).toEqual([]);
    await pauses.pause('release-manager', approver);
    await new Promise((r) => setTimeout(r, 1000));
    const again = await pauses.pause('release-manager', approver); // replaces it, ends 1.5 s from now
    await new Promise((r) => setTimeout(r, 700)); // the first one's end has passed
    expect(await pauses.lapsed()).toEqual([]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await pauses.lapsed()).toEqual([again]);
    expect((await audit()).map((e) => e.action)).toEqual([
      'pause',
      'resume',
      'pause',
      'pause',
      'pause_lapsed',
    ]);
  });
});
