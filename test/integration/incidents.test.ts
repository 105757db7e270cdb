// Signals → incidents on the real world (kube + Redis), with the guard rails of automatic rollback,
// and the watch triggers on pods whose status the tests write through the status subresource.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createWatchTriggers } from '../../src/alerts/watch-triggers.js';
import type { CatalogEntry } from '../../src/config/catalog-schema.js';
import { createIncidents } from '../../src/rollback/incidents.js';
import type { MetricsPort } from '../../src/rollback/metrics-port.js';
import type { Rollback } from '../../src/rollback/model.js';
import { createPauses, PAUSE_MS } from '../../src/rollback/pauses.js';
import type { NotifierPort } from '../../src/rollback/ports.js';
import type { Signal } from '../../src/rollback/signal.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { errorRatioAbove, generationOf, NAME, setDatabaseHead, shipReleases } from '../support/releases.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v1';
const BAD = 'registry.test/release-manager:v2-bad';

/** After the current release was rolled out (an alert from before it is context only). */
let since = new Date().toISOString();

const signal = (o: Partial<Signal> = {}): Signal => ({
  service: 'release-manager',
  source: 'alert',
  name: 'HighErrorRate',
  status: 'firing',
  key: 'fp-1',
  summary: 'Error ratio 8.3% (threshold 5%)',
  why: { query: 'errors/requests > 0.05', threshold: '0.05', since },
  kind: 'error_ratio',
  ...o,
});

const HEALTHY = [
  { image: GOOD, cause: 'v1', head: 'aaa111' },
  { image: `${GOOD}.1`, cause: 'v1.1', head: 'aaa111' },
];

async function setup(
  prefix: string,
  tweak: (svc: CatalogEntry) => void,
  opts: {
    storePrefix?: string;
    releases?: typeof HEALTHY;
    notifier?: (n: NotifierPort) => NotifierPort;
    metrics?: MetricsPort;
  } = {},
) {
  const ns = await freshNamespace(world, prefix);
  await setDatabaseHead(world, 'aaa111');
  const releases = opts.releases ?? [
    { image: GOOD, cause: 'v1', head: 'aaa111' },
    { image: BAD, cause: 'v2', head: 'aaa111' },
  ];
  await shipReleases(world, ns, releases);
  if (!opts.releases)
    await eventually('crash loop', async () =>
      (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
    );
  since = new Date().toISOString();
  const e = createTestEngine(world, {
    catalog: worldCatalog(world, ns, tweak),
    ...(opts.storePrefix ? { prefix: opts.storePrefix } : {}),
  });
  const incidents = createIncidents({
    store: e.store,
    kube: e.kube,
    runner: e.runner,
    notifier: opts.notifier ? opts.notifier(e.deps.notifier) : e.deps.notifier,
    pager: e.deps.pager!,
    observe: e.deps.observe,
    catalog: e.deps.catalog,
    clock: e.deps.clock,
    logger: e.deps.logger,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
  return { ns, e, incidents };
}

const autoPolicy = (svc: CatalogEntry) =>
  (svc.policy = { mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 2, windowMinutes: 60 });

/** Pods of the Deployment, as the apiserver has them. */
async function podsOf(ns: string): Promise<{ metadata: { name: string; labels: Record<string, string> } }[]> {
  return JSON.parse(
    await kubectlOk(world, ['get', 'pods', '-n', ns, '-l', 'app=release-manager', '-o', 'json']),
  ).items;
}

/** Writes pod status as a kubelet would (KWOK leaves a Ready pod alone afterwards). */
async function patchStatus(ns: string, pod: string, ops: unknown[]): Promise<void> {
  await kubectlOk(world, [
    'patch',
    'pod',
    pod,
    '-n',
    ns,
    '--subresource=status',
    '--type=json',
    '-p',
    JSON.stringify(ops),
  ]);
}

/** Starts a watcher as the bot does, feeding the incidents. */
async function watch(e: ReturnType<typeof createTestEngine>, incidents: ReturnType<typeof createIncidents>) {
  const seen: Signal[] = [];
  const w = createWatchTriggers({
    kc: e.kc,
    kube: e.kube,
    catalog: e.deps.catalog,
    logger: e.deps.logger,
    onSignals: (s) => {
      seen.push(...s);
      void incidents.signal(s);
    },
  });
  await w.start();
  return { seen, stop: () => w.stop() };
}

/** An automatic rollback asked for directly, as an alert's would be, with a thread to say things in. */
const autoRequest = (e: ReturnType<typeof createTestEngine>, key: string) =>
  e.runner.request({
    service: 'release-manager',
    reason: 'HighErrorRate: error ratio 8.3%',
    actor: { kind: 'alert', id: key, name: 'HighErrorRate' },
    mode: 'auto',
    thread: { channel: 'C0INCIDENTS', ts: `1796600000.${key.length}00100` },
  });

/** Waits for the rollback's end; it must be cancelled, before anything was undone. */
async function endedCancelled(e: ReturnType<typeof createTestEngine>, id: string) {
  const done = await e.runner.waitFor(id, ['cancelled', 'completed', 'failed'], 60_000);
  expect(done.state).toBe('cancelled');
  expect(done.undo).toBeUndefined();
  return done;
}

const threads = (e: ReturnType<typeof createTestEngine>) =>
  e.notifier.notices.filter((n) => n.kind === 'openThread');
const board = (e: ReturnType<typeof createTestEngine>) =>
  e.notifier.notices.filter((n) => n.kind === 'upsertSignals').at(-1)?.message ?? '';

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
    // Alert text is escaped for mrkdwn (Slack shows &gt; as >).
    expect(threads[0]?.message).toContain('query `errors/requests &gt; 0.05`');
    // fp-0, fp-1 and fp-2 share one Signals message, edited in place, instead of a reply each.
    expect(e.notifier.notices.filter((n) => n.kind === 'say')).toEqual([]);
    const posted = e.notifier.notices.filter((n) => n.kind === 'upsertSignals');
    expect(posted[0]?.state).toBe(''); // posted once, then updated by its ts
    expect(posted.slice(1).every((n) => n.state !== '')).toBe(true);
    expect(board(e)).toMatch(/\*Signals\* \(3 firing/);
    const recent = await e.store.listRecent(10);
    expect(recent).toHaveLength(1);
    expect(recent[0]?.requestedBy).toMatchObject({ kind: 'alert', name: 'HighErrorRate' });
    await e.runner.waitFor(recent[0]!.id, ['awaiting_approval'], 60_000);
    await incidents.signal([signal({ key: 'fp-1', status: 'resolved' })]);
    expect(board(e)).toMatch(/:large_green_circle: \*HighErrorRate\* resolved/);
    console.log(`[incidents] 2000 signals handled in ${ms} ms`);
  });

  const guardCases: {
    name: string;
    tweak: (svc: CatalogEntry) => void;
    before: (ns: string, e: ReturnType<typeof createTestEngine>) => Promise<void>;
    expect: RegExp;
    /** The guard label the bot's metrics count it under. */
    guard: string;
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
      guard: 'in_progress',
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
      guard: 'cooldown',
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
      guard: 'limit',
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
      guard: 'rolled_back_from',
    },
  ];

  for (const g of guardCases) {
    it(`holds back an automatic rollback for ${g.name}, says so and pages, patching nothing`, async () => {
      const counted: string[] = [];
      const { ns, e, incidents } = await setup('guard', g.tweak, {
        metrics: {
          signal: () => undefined,
          suppressed: (x) => counted.push(x),
          leaseTakeover: () => undefined,
        },
      });
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
      expect(counted).toEqual([g.guard]);
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
    const after = await setup('repoint-b', propose, { storePrefix: before.e.prefix });
    engines.push(after.e);
    await after.incidents.signal([signal()]);
    expect(after.e.notifier.notices.filter((n) => n.kind === 'openThread')).toHaveLength(1);
    expect(after.e.notifier.notices.filter((n) => n.kind === 'upsertSignals')).toHaveLength(1);
    const proposals = (await after.e.store.listRecent(10)).filter((r) => r.namespace === after.ns);
    expect(proposals).toHaveLength(1);
  });

  it('rolls back at once under the auto policy when no guard applies, and pages', async () => {
    const { ns, e, incidents } = await setup(
      'auto',
      (svc) => (svc.policy = { mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 2, windowMinutes: 60 }),
    );
    engines.push(e);
    await incidents.signal([
      signal({ source: 'watch', name: 'CrashLoopBackOff', key: 'watch:x', kind: 'crash_loop' }),
    ]);
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

  it('under auto, proposes while an approver paused automatic rollbacks, and pages nothing', async () => {
    const counted: string[] = [];
    const { ns, e, incidents } = await setup('paused', autoPolicy, {
      metrics: {
        signal: () => undefined,
        suppressed: (g) => counted.push(g),
        leaseTakeover: () => undefined,
      },
    });
    engines.push(e);
    const svc = e.deps.catalog.services.get('release-manager')!;
    const approver = { kind: 'user' as const, id: svc.approvers.users[0]!, name: 'alice' };
    const p = await createPauses({ store: e.store, catalog: e.deps.catalog, clock: e.deps.clock }).pause(
      'release-manager',
      approver,
    );
    const gen = await generationOf(world, ns);
    await incidents.signal([signal()]);
    const r = (await e.store.listRecent(1))[0]!;
    expect(r.mode).toBe('manual');
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    expect(threads(e)[0]?.message).toContain(
      `automatic rollbacks are paused by alice until ${p.until.slice(0, 19).replace('T', ' ')} UTC`,
    );
    // The thread offers Resume instead of Pause.
    expect(threads(e)[0]?.offer).toEqual({ service: 'release-manager', paused: true });
    expect(counted).toEqual(['paused']);
    expect(e.notifier.notices.some((n) => n.kind.startsWith('page'))).toBe(false);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await generationOf(world, ns)).toBe(gen);
  });

  it('stops an automatic rollback before the patch when an approver paused the service after it started', async () => {
    const { ns, e } = await setup('paused-late', autoPolicy);
    engines.push(e);
    const svc = e.deps.catalog.services.get('release-manager')!;
    const gen = await generationOf(world, ns);
    // Paused after the guard let it through: the rollback was already asked for, alone.
    await createPauses({ store: e.store, catalog: e.deps.catalog, clock: e.deps.clock }).pause(
      'release-manager',
      {
        kind: 'user',
        id: svc.approvers.users[0]!,
        name: 'alice',
      },
    );
    const r = await autoRequest(e, 'fp-late');
    const done = await endedCancelled(e, r.id);
    expect(done.decision).toMatchObject({ event: 'cancel', by: { name: 'alice' } });
    const said = await eventually('said in the thread', async () =>
      e.notifier.notices.find((n) => n.kind === 'say' && n.message?.includes('Stopped before the patch')),
    );
    expect(said.message).toContain('alice paused automatic rollbacks of `release-manager`');
    expect(await generationOf(world, ns)).toBe(gen);
    expect(await e.store.holderOf(svc.namespace, svc.deployment)).toBeUndefined();
  });

  it('cancels an automatic rollback before the patch when an approver cancels while it is assessed', async () => {
    const { ns, e } = await setup('cancel-early', autoPolicy);
    engines.push(e);
    const svc = e.deps.catalog.services.get('release-manager')!;
    const approver = { kind: 'user' as const, id: svc.approvers.users[0]!, name: 'alice' };
    const gen = await generationOf(world, ns);
    const r = await autoRequest(e, 'fp-early');
    // A step holds it (requested or assessing): the cancel is left for the steps, not refused.
    const asked = await e.runner.cancel(r.id, approver);
    expect(['requested', 'assessing']).toContain(asked.state);
    const done = await endedCancelled(e, r.id);
    expect(done.decision).toMatchObject({ event: 'cancel', by: { id: approver.id } });
    await eventually('said in the thread', async () =>
      e.notifier.notices.some(
        (n) => n.kind === 'say' && n.message?.includes('Cancelled by alice before the patch'),
      ),
    );
    expect(
      (await e.store.events(r.id)).some((x) => x.type === 'note' && x.data?.kind === 'cancel_requested'),
    ).toBe(true);
    expect(await generationOf(world, ns)).toBe(gen);
    expect(await e.store.holderOf(svc.namespace, svc.deployment)).toBeUndefined();
  });

  it('rolls back alone once a pause has lapsed, with nobody lifting it', async () => {
    const { e, incidents } = await setup('lapsed', autoPolicy);
    engines.push(e);
    const svc = e.deps.catalog.services.get('release-manager')!;
    // Paused 4 h minus 2 s ago: it lapses (Redis expiry) 2 s from now.
    const pauses = createPauses({
      store: e.store,
      catalog: e.deps.catalog,
      clock: { now: () => new Date(Date.now() - PAUSE_MS + 2000), sleep: e.deps.clock.sleep },
    });
    await pauses.pause('release-manager', { kind: 'user', id: svc.approvers.users[0]!, name: 'alice' });
    expect(await pauses.of(svc)).toBeDefined();
    await eventually('the pause lapses', async () => (await pauses.of(svc)) === undefined, 10_000);
    await incidents.signal([
      signal({ source: 'watch', name: 'CrashLoopBackOff', key: 'watch:x', kind: 'crash_loop' }),
    ]);
    const r = (await e.store.listRecent(1))[0]!;
    expect(r.mode).toBe('auto');
    expect(threads(e)[0]?.offer).toEqual({ service: 'release-manager', paused: false });
    await e.runner.waitFor(r.id, ['completed', 'failed'], 120_000);
  });

  it('under auto, proposes instead when a fresh Prometheus read is under the service trigger, and says why', async () => {
    const { ns, e, incidents } = await setup('confirm-metric', (svc) => {
      autoPolicy(svc);
      svc.metrics.triggerErrorRatio = 0.5; // the bad release fails 8.3% of requests
    });
    engines.push(e);
    await errorRatioAbove(world, ns, 0.05);
    await incidents.signal([signal()]);
    const r = (await e.store.listRecent(1))[0]!;
    expect(r.mode).toBe('manual');
    const said = e.notifier.notices.find((n) => n.kind === 'say' && n.message?.includes('did not confirm'));
    expect(said?.message).toMatch(
      /a fresh read did not confirm \*HighErrorRate\* \(`.+` is 0\.0\d+ now \(trigger 0\.5\)\)/,
    );
    expect(threads(e)[0]?.message).toContain('a fresh read did not confirm the signal');
    expect(e.notifier.notices.some((n) => n.kind === 'page-start')).toBe(false);
  });

  it('opens the incident for a firing alert that comes after a stale resolved one', async () => {
    const { e, incidents } = await setup('resolved-first', (svc) => (svc.policy.mode = 'propose'));
    engines.push(e);
    const old = new Date(Date.now() + 1000).toISOString();
    await incidents.signal([signal({ status: 'resolved', why: { since: old } })]);
    expect(threads(e)).toHaveLength(0);
    await incidents.signal([signal({ why: { since: new Date(Date.now() + 2000).toISOString() } })]);
    expect(threads(e)).toHaveLength(1);
    expect((await e.store.listRecent(5)).filter((r) => r.service === 'release-manager')).toHaveLength(1);
  });

  it('keeps an alert that started before the current release as context, never as a trigger', async () => {
    const { e, incidents } = await setup('pre-release', (svc) => (svc.policy.mode = 'propose'));
    engines.push(e);
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    await incidents.signal([signal({ key: 'fp-old', why: { since: hourAgo } })]);
    expect(threads(e)).toHaveLength(0);
    expect(await e.store.listRecent(5)).toHaveLength(0);
    // A current alert opens the incident; the old one shows in its Signals message as context.
    await incidents.signal([
      signal({ source: 'watch', name: 'CrashLoopBackOff', key: 'watch:y', kind: 'crash_loop' }),
    ]);
    expect(threads(e)).toHaveLength(1);
    expect(board(e)).toMatch(
      /:white_circle: \*HighErrorRate\* context .*started before the current revision/,
    );
    expect(board(e)).toMatch(/:red_circle: \*CrashLoopBackOff\* firing/);
  });

  it('retries opening when Slack fails, then pages and lets the next signal open it', async () => {
    let failures = 4;
    const { e, incidents } = await setup('open-retry', (svc) => (svc.policy.mode = 'propose'), {
      notifier: (n) => ({
        ...n,
        async openThread(channel, text) {
          if (failures-- > 0) throw new Error('slack_webapi_platform_error: internal_error');
          return n.openThread(channel, text);
        },
      }),
    });
    engines.push(e);
    await incidents.signal([signal()]); // 3 tries, all failing
    expect(threads(e)).toHaveLength(0);
    expect(e.notifier.notices.find((n) => n.kind === 'page-suppressed')?.message).toMatch(
      /could not open the incident for release-manager after 3 tries/,
    );
    // The next firing signal (here: the same alert re-sent) opens it: one failure, then a thread.
    await incidents.signal([signal()]);
    expect(threads(e)).toHaveLength(1);
    expect((await e.store.listRecent(5)).filter((r) => r.service === 'release-manager')).toHaveLength(1);
  });
});

describe('watch triggers you can trust', () => {
  const engines: ReturnType<typeof createTestEngine>[] = [];
  const watchers: { stop(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const w of watchers) await w.stop();
    for (const e of engines) {
      await e.runner.idle();
      await e.close();
    }
    await deleteNamespaces(world);
  });

  it('never rolls back a healthy release with restart history, nor after a watcher restart', async () => {
    const { ns, e, incidents } = await setup('restart-history', autoPolicy, { releases: HEALTHY });
    engines.push(e);
    // The last release has rolled out (its pods, not the previous release's, are the ones to count).
    await kubectlOk(world, ['rollout', 'status', `deployment/${NAME}`, '-n', ns, '--timeout=90s']);
    const hash = await eventually('current pods ready', async () => {
      const pods = await podsOf(ns);
      const out = await kubectlOk(world, ['get', 'pods', '-n', ns, '--no-headers']);
      return pods.length === 3 && !out.includes('Terminating') && !/0\/1/.test(out)
        ? pods[0]?.metadata.labels['pod-template-hash']
        : undefined;
    });
    // Each pod restarted once over its life before the bot (re)started: today's code summed 3 ≥ 3.
    for (const p of await podsOf(ns))
      await patchStatus(ns, p.metadata.name, [
        { op: 'replace', path: '/status/containerStatuses/0/restartCount', value: 1 },
      ]);
    const first = await watch(e, incidents);
    watchers.push(first);
    await new Promise((r) => setTimeout(r, 6000));
    await first.stop();
    // The bot restarts: a fresh watcher sees the same lifetime counts, plus one more restart each.
    for (const p of await podsOf(ns))
      await patchStatus(ns, p.metadata.name, [
        { op: 'replace', path: '/status/containerStatuses/0/restartCount', value: 2 },
      ]);
    const second = await watch(e, incidents);
    watchers.push(second);
    await new Promise((r) => setTimeout(r, 6000));
    expect(threads(e)).toHaveLength(0);
    expect(await e.store.listRecent(5)).toHaveLength(0);
    // The watcher is alive: three restarts of one container within the window do fire, but a fresh
    // read finds every pod ready, so under `auto` it only proposes, and says why.
    const one = (await podsOf(ns)).find((p) => p.metadata.labels['pod-template-hash'] === hash)!;
    for (const n of [3, 4, 5]) {
      await patchStatus(ns, one.metadata.name, [
        { op: 'replace', path: '/status/containerStatuses/0/restartCount', value: n },
      ]);
      await new Promise((r) => setTimeout(r, 700));
    }
    await eventually(
      'RestartsClimbing',
      async () => second.seen.some((s) => s.name === 'RestartsClimbing'),
      // Generous: on a loaded machine the watch and the world take their time; this waits, it does not pass early.
      45_000,
    );
    const r = await eventually('a proposal', async () => (await e.store.listRecent(1))[0], 45_000);
    expect(r.mode).toBe('manual');
    expect(
      e.notifier.notices.some((n) => n.message?.includes('a fresh read did not confirm *RestartsClimbing*')),
    ).toBe(true);
  });

  it('does not fire for a slow-starting release inside its readiness budget, fires once past it', async () => {
    const { ns, e, incidents } = await setup('slow-ready', autoPolicy, { releases: HEALTHY });
    engines.push(e);
    await eventually('pods of the current revision', async () =>
      (await podsOf(ns)).length === 3 ? true : undefined,
    );
    // The release's readiness probe allows 30 + 2 × 5 = 40 s; its pods are not ready yet.
    await kubectlOk(world, [
      'patch',
      'deployment',
      NAME,
      '-n',
      ns,
      '--type=json',
      '-p',
      JSON.stringify([
        {
          op: 'add',
          path: '/spec/template/spec/containers/0/readinessProbe/initialDelaySeconds',
          value: 30,
        },
        // The procedure's deadline: the world's 15 s would (rightly) call a 40 s start a stuck rollout.
        { op: 'replace', path: '/spec/progressDeadlineSeconds', value: 600 },
      ]),
    ]);
    const hash = await eventually('the slow revision', async () => {
      const d = JSON.parse(await kubectlOk(world, ['get', 'rs', '-n', ns, '-o', 'json'])).items as {
        metadata: { labels: Record<string, string> };
        spec: { template: { spec: { containers: { readinessProbe?: { initialDelaySeconds?: number } }[] } } };
      }[];
      return d.find((rs) => rs.spec.template.spec.containers[0]?.readinessProbe?.initialDelaySeconds === 30)
        ?.metadata.labels['pod-template-hash'];
    });
    const slowPod = await eventually('a pod of the slow revision', async () =>
      (await podsOf(ns)).find((p) => p.metadata.labels['pod-template-hash'] === hash),
    );
    const startedMs = Date.now();
    const notReady = [
      { op: 'replace', path: '/status/startTime', value: new Date(startedMs).toISOString() },
      {
        op: 'replace',
        path: '/status/conditions',
        value: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'ContainersNotReady',
            lastTransitionTime: new Date(startedMs).toISOString(),
          },
        ],
      },
      { op: 'replace', path: '/status/containerStatuses/0/ready', value: false },
    ];
    await patchStatus(ns, slowPod.metadata.name, notReady);
    const w = await watch(e, incidents);
    watchers.push(w);
    // Past the old 10 s and the procedure's 20 s: still starting, nothing fires.
    await new Promise((r) => setTimeout(r, 25_000));
    expect(w.seen.filter((s) => s.status === 'firing')).toEqual([]);
    expect(threads(e)).toHaveLength(0);
    // Past its own 40 s, with no event since: the timer notices.
    const fired = await eventually(
      'ReadinessFailing',
      async () => w.seen.find((s) => s.name === 'ReadinessFailing' && s.status === 'firing'),
      30_000,
    );
    const ms = Date.now() - startedMs;
    console.log(
      `[watch] readiness: pod unready → ReadinessFailing in ${(ms / 1000).toFixed(1)} s (budget 40 s)`,
    );
    expect(ms).toBeGreaterThanOrEqual(40_000);
    expect(ms).toBeLessThan(46_000);
    expect(fired.why.since).toBe(new Date(Math.floor(startedMs / 1000) * 1000 + 40_000).toISOString());
  });

  it('rolls back a crash-looping bad release mid-rollout (one new pod beside three old ones)', async () => {
    const { ns, e, incidents } = await setup('crashloop-watch', autoPolicy, { releases: [HEALTHY[0]!] });
    engines.push(e);
    const w = await watch(e, incidents);
    watchers.push(w);
    const shipped = Date.now();
    await shipReleases(world, ns, [HEALTHY[0]!, { image: BAD, cause: 'v2', head: 'aaa111' }]);
    const r = await eventually('an automatic rollback', async () => (await e.store.listRecent(1))[0], 60_000);
    const ms = Date.now() - shipped;
    expect(r.mode).toBe('auto');
    expect(r.requestedBy.name).toMatch(/CrashLoopBackOff|RestartsClimbing/);
    const crash = w.seen.find((s) => s.name === 'CrashLoopBackOff' && s.status === 'firing');
    if (crash) expect(crash.why.value).toBe('1/1'); // one new pod; the three old ones do not count
    console.log(
      `[watch] crash loop: bad release applied → automatic rollback requested in ${(ms / 1000).toFixed(1)} s (${r.requestedBy.name})`,
    );
    // Mid-rollout: the old ReplicaSet still had its three pods when the trigger fired.
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 120_000);
    expect(done.state).toBe('completed');
  });

  it('measures readiness on the world: a running pod turning unready fires after 2 × 5 s and rolls back', async () => {
    const { ns, e, incidents } = await setup('ready-budget', autoPolicy, { releases: HEALTHY });
    engines.push(e);
    const pod = await eventually('rolled out', async () => {
      const out = await kubectlOk(world, ['get', 'pods', '-n', ns, '--no-headers']);
      const pods = await podsOf(ns);
      return pods.length === 3 && !out.includes('Terminating') && !/0\/1/.test(out) ? pods[0] : undefined;
    });
    const w = await watch(e, incidents);
    watchers.push(w);
    await new Promise((r) => setTimeout(r, 2500)); // the watcher has its caches
    const unreadyMs = Date.now();
    await patchStatus(ns, pod.metadata.name, [
      {
        op: 'replace',
        path: '/status/conditions',
        value: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'ContainersNotReady',
            lastTransitionTime: new Date(unreadyMs).toISOString(),
          },
        ],
      },
      { op: 'replace', path: '/status/containerStatuses/0/ready', value: false },
    ]);
    const r = await eventually('an automatic rollback', async () => (await e.store.listRecent(1))[0], 30_000);
    const ms = Date.now() - unreadyMs;
    console.log(
      `[watch] readiness: running pod unready → automatic rollback requested in ${(ms / 1000).toFixed(1)} s (probe: 2 × 5 s)`,
    );
    expect(r.mode).toBe('auto');
    expect(r.requestedBy.name).toBe('ReadinessFailing');
    expect(ms).toBeGreaterThanOrEqual(8500); // lastTransitionTime is whole seconds
    expect(ms).toBeLessThan(14_000);
  });

  it('measures a crash loop on the world: CrashLoopBackOff, then RestartsClimbing, in one proposal', async () => {
    const { ns, e, incidents } = await setup('crashloop-propose', (svc) => (svc.policy.mode = 'propose'), {
      releases: [HEALTHY[0]!],
    });
    engines.push(e);
    const w = await watch(e, incidents);
    watchers.push(w);
    const shipped = Date.now();
    await shipReleases(world, ns, [HEALTHY[0]!, { image: BAD, cause: 'v2', head: 'aaa111' }]);
    const crash = await eventually(
      'CrashLoopBackOff',
      async () => w.seen.find((s) => s.name === 'CrashLoopBackOff' && s.status === 'firing'),
      30_000,
    );
    const crashMs = Date.now() - shipped;
    expect(crash.why.value).toBe('1/1'); // one new pod; the three old ones do not count
    await eventually(
      'RestartsClimbing',
      async () => w.seen.some((s) => s.name === 'RestartsClimbing'),
      40_000,
    );
    const restartsMs = Date.now() - shipped;
    console.log(
      `[watch] crash loop: bad release applied → CrashLoopBackOff ${(crashMs / 1000).toFixed(1)} s, RestartsClimbing (3 restarts) ${(restartsMs / 1000).toFixed(1)} s`,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(threads(e)).toHaveLength(1);
    expect(board(e)).toMatch(/:red_circle: \*RestartsClimbing\* firing/);
  });
});
