// Signals → incidents on the real world (kube + Redis), with the guard rails of automatic rollback.
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CatalogEntry } from '../../src/config/catalog-schema.js';
import { createIncidents } from '../../src/rollback/incidents.js';
import type { Rollback } from '../../src/rollback/model.js';
import type { Signal } from '../../src/rollback/signal.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { generationOf, NAME, setDatabaseHead, shipReleases } from '../support/releases.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v1';
const BAD = 'registry.test/release-manager:v2-bad';

const signal = (o: Partial<Signal> = {}): Signal => ({
  service: 'release-manager',
  source: 'alert',
  name: 'HighErrorRate',
  status: 'firing',
  key: 'fp-1',
  summary: 'Error ratio 8.3% (threshold 5%)',
  why: { query: 'errors/requests > 0.05', threshold: '0.05', since: '2026-11-27T12:00:00Z' },
  ...o,
});

async function setup(prefix: string, tweak: (svc: CatalogEntry) => void, storePrefix?: string) {
  const ns = await freshNamespace(world, prefix);
  await setDatabaseHead(world, 'a');
  await shipReleases(world, ns, [
    { image: GOOD, cause: 'v1', head: 'a' },
    { image: BAD, cause: 'v2', head: 'a' },
  ]);
  await eventually('crash loop', async () =>
    (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
  );
  const e = createTestEngine(world, {
    catalog: worldCatalog(world, ns, tweak),
    ...(storePrefix ? { prefix: storePrefix } : {}),
  });
  const incidents = createIncidents({
    store: e.store,
    kube: e.kube,
    runner: e.runner,
    notifier: e.deps.notifier,
    pager: e.deps.pager!,
    catalog: e.deps.catalog,
    clock: e.deps.clock,
    logger: e.deps.logger,
  });
  return { ns, e, incidents };
}

/** A finished automatic rollback record, as an earlier incident would have left it. */
function pastAuto(ns: string, minutesAgo: number, fromImages: string[]): Rollback {
  const at = new Date(Date.now() - minutesAgo * 60_000).toISOString();
  return {
    id: `past-${Math.random().toString(16).slice(2)}`,
    service: 'release-manager',
    namespace: ns,
    deployment: NAME,
    state: 'completed',
    version: 9,
    mode: 'auto',
    dryRun: false,
    toRevision: 0,
    reason: 'earlier incident',
    requestedBy: { kind: 'alert', id: 'fp-old', name: 'HighErrorRate' },
    requestedAt: at,
    updatedAt: at,
    approvals: [],
    undo: { outcome: 'patched', at, generation: 1 },
    assessment: {
      from: { revision: 1, replicaSet: 'x', images: fromImages, changeCause: undefined, createdAt: at },
    } as Rollback['assessment'],
  };
}

/** Stores a past rollback the way the runner would have. */
function remember(e: ReturnType<typeof createTestEngine>, past: Rollback): Promise<void> {
  const created = {
    id: past.id,
    type: 'created' as const,
    from: undefined,
    to: past.state,
    actor: past.requestedBy,
    at: past.requestedAt,
  };
  return e.store.create(past, created, { lockDeployment: false });
}

describe('incidents and guard rails', () => {
  const engines: ReturnType<typeof createTestEngine>[] = [];
  afterAll(async () => {
    for (const e of engines) {
      await e.runner.idle();
      await e.close();
    }
    await deleteNamespaces(world);
  });

  it('collapses a storm of signals for one revision into one incident and one proposal', async () => {
    const { e, incidents } = await setup('storm', (svc) => (svc.policy.mode = 'propose'));
    engines.push(e);
    const storm = Array.from({ length: 2000 }, (_, i) => signal({ key: `fp-${i % 3}` }));
    const t = Date.now();
    await Promise.all([incidents.signal(storm.slice(0, 1000)), incidents.signal(storm.slice(1000))]);
    const ms = Date.now() - t;
    const threads = e.notifier.notices.filter((n) => n.kind === 'openThread');
    expect(threads).toHaveLength(1);
    expect(threads[0]?.message).toContain('Policy `propose`');
    expect(threads[0]?.message).toContain('query `errors/requests > 0.05`');
    const also = e.notifier.notices.filter((n) => n.kind === 'say' && n.message?.includes('Also firing'));
    expect(also).toHaveLength(2); // fp-1 and fp-2 joined the thread once each
    const recent = await e.store.listRecent(10);
    expect(recent).toHaveLength(1);
    expect(recent[0]?.requestedBy).toMatchObject({ kind: 'alert', name: 'HighErrorRate' });
    await e.runner.waitFor(recent[0]!.id, ['awaiting_approval'], 60_000);
    await incidents.signal([signal({ key: 'fp-1', status: 'resolved' })]);
    expect(
      e.notifier.notices.some(
        (n) => n.kind === 'say' && n.message?.startsWith(':white_check_mark: Resolved'),
      ),
    ).toBe(true);
    console.log(`[incidents] 2000 signals handled in ${ms} ms`);
  });

  const guardCases: {
    name: string;
    tweak: (svc: CatalogEntry) => void;
    before: (ns: string, e: ReturnType<typeof createTestEngine>) => Promise<void>;
    expect: RegExp;
  }[] = [
    {
      name: 'a human rollback in progress',
      tweak: (svc) =>
        (svc.policy = { mode: 'auto', cooldownMinutes: 0, maxAutoRollbacks: 5, windowMinutes: 60 }),
      before: async (_ns, e) => {
        const r = await e.runner.request({
          service: 'release-manager',
          reason: 'by hand',
          actor: { kind: 'user', id: 'U0SRE00001', name: 'alice' },
        });
        await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
      },
      expect: /a rollback requested by alice is in progress/,
    },
    {
      name: 'the cooldown',
      tweak: (svc) =>
        (svc.policy = { mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 5, windowMinutes: 60 }),
      before: async (ns, e) => {
        const past = pastAuto(ns, 10, ['registry.test/release-manager:v0']);
        await remember(e, past);
      },
      expect: /cooldown: the last automatic rollback was 10 min ago \(cooldown 30 min\)/,
    },
    {
      name: 'the limit per window',
      tweak: (svc) =>
        (svc.policy = { mode: 'auto', cooldownMinutes: 0, maxAutoRollbacks: 1, windowMinutes: 60 }),
      before: async (ns, e) => {
        const past = pastAuto(ns, 40, ['registry.test/release-manager:v0']);
        await remember(e, past);
      },
      expect: /limit: 1 automatic rollbacks in the last 60 min \(max 1\)/,
    },
    {
      name: 'a target the bot already rolled back from',
      tweak: (svc) =>
        (svc.policy = { mode: 'auto', cooldownMinutes: 0, maxAutoRollbacks: 5, windowMinutes: 60 }),
      before: async (ns, e) => {
        const past = { ...pastAuto(ns, 120, [GOOD]), mode: 'manual' as const };
        await remember(e, past);
      },
      expect: /is a revision the bot already rolled back from/,
    },
  ];

  for (const g of guardCases) {
    it(`holds back an automatic rollback for ${g.name}, says so and pages, patching nothing`, async () => {
      const { ns, e, incidents } = await setup('guard', g.tweak);
      engines.push(e);
      await g.before(ns, e);
      const gen = await generationOf(world, ns);
      await incidents.signal([signal()]);
      const said = e.notifier.notices.find(
        (n) => n.kind === 'say' && n.message?.includes('Automatic rollback suppressed'),
      );
      expect(said?.message).toMatch(g.expect);
      const paged = e.notifier.notices.find((n) => n.kind === 'page-suppressed');
      expect(paged?.message).toMatch(g.expect);
      expect(e.notifier.notices.some((n) => n.kind === 'page-start')).toBe(false);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await generationOf(world, ns)).toBe(gen);
    });
  }

  it('opens a new incident when the service now names another Deployment, whose revisions count afresh', async () => {
    const propose = (svc: CatalogEntry) => {
      svc.policy.mode = 'propose';
    };
    const before = await setup('repoint-a', propose);
    engines.push(before.e);
    await before.incidents.signal([signal()]);
    expect(before.e.notifier.notices.filter((n) => n.kind === 'openThread')).toHaveLength(1);
    // Same Redis, same service name, now pointed at a new Deployment: its bad release is revision 2 too.
    const after = await setup('repoint-b', propose, before.e.prefix);
    engines.push(after.e);
    await after.incidents.signal([signal()]);
    expect(after.e.notifier.notices.filter((n) => n.kind === 'openThread')).toHaveLength(1);
    expect(after.e.notifier.notices.some((n) => n.message?.includes('Also firing'))).toBe(false);
    const proposals = (await after.e.store.listRecent(10)).filter((r) => r.namespace === after.ns);
    expect(proposals).toHaveLength(1);
  });

  it('rolls back at once under the auto policy when no guard applies, and pages', async () => {
    const { ns, e, incidents } = await setup(
      'auto',
      (svc) => (svc.policy = { mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 2, windowMinutes: 60 }),
    );
    engines.push(e);
    await incidents.signal([signal({ source: 'watch', name: 'CrashLoopBackOff', key: 'watch:x' })]);
    const r = (await e.store.listRecent(1))[0]!;
    expect(r.mode).toBe('auto');
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 120_000);
    expect(
      done.state,
      JSON.stringify({ failure: done.failure, failed: done.verification?.checks.filter((c) => !c.passed) }),
    ).toBe('completed');
    expect(done.approvals).toEqual([]);
    // The page that closes it goes out right after the final state is committed.
    const kinds = await eventually('page-end', async () => {
      const k = e.notifier.notices.map((n) => n.kind);
      return k.includes('page-end') ? k : undefined;
    });
    expect(kinds.indexOf('page-start')).toBeGreaterThan(-1);
    expect(kinds.indexOf('page-end')).toBeGreaterThan(kinds.indexOf('page-start'));
    expect(
      await kubectlOk(world, [
        'get',
        'deployment',
        NAME,
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ]),
    ).toBe(GOOD);
  });
});
