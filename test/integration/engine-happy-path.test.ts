// The procedure end to end on the real world: bad release → assess → approve → notify → migrate →
// undo → wait → verify → report.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import {
  databaseHead,
  errorRatioAbove,
  generationOf,
  imageOf,
  NAME,
  setDatabaseHead,
  shipReleases,
} from '../support/releases.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const SRE = { kind: 'user' as const, id: 'U0SRE00001', name: 'alice' };

describe('rollback engine: happy path', () => {
  let ns: string;
  let engine: ReturnType<typeof createTestEngine>;

  beforeAll(async () => {
    ns = await freshNamespace(world, 'happy');
    engine = createTestEngine(world, { catalog: worldCatalog(world, ns) });
    await shipReleases(world, ns, [
      { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' },
      { image: BAD, cause: 'Release v2024.01.15', head: 'bbb222' },
    ]);
    // The bad release migrated the database forward.
    await setDatabaseHead(world, 'bbb222');
    await eventually('crash-looping pods', async () =>
      (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
    );
    await errorRatioAbove(world, ns, 0.05);
  });
  afterAll(async () => {
    await deleteNamespaces(world);
    await engine.runner.idle();
    await engine.close();
  });

  it('assesses, rolls back on approval, verifies and reports', async () => {
    const { runner, notifier, store } = engine;
    const generationBefore = await generationOf(world, ns);
    const requested = await runner.request({
      service: 'release-manager',
      reason: 'error rate 8% since v2024.01.15',
      actor: SRE,
    });
    const r = await runner.waitFor(requested.id, ['awaiting_approval'], 60_000);
    expect(r.state).toBe('awaiting_approval');

    const a = r.assessment!;
    expect(a.target).toMatchObject({ revision: 1, images: [GOOD], changeCause: 'Release v2024.01.14' });
    expect(a.from).toMatchObject({ revision: 2, images: [BAD] });
    expect(a.target?.reason).toMatch(/second|highest revision below/);
    expect(a.pods.ok && a.pods.value.some((p) => p.containers[0]?.waitingReason === 'CrashLoopBackOff')).toBe(
      true,
    );
    expect(a.errorLogs.ok && a.errorLogs.value.flatMap((l) => l.lines).some((l) => l.includes('ERROR'))).toBe(
      true,
    );
    expect(a.events.ok && a.events.value.some((e) => e.reason === 'BackOff')).toBe(true);
    expect(a.metrics.ok && (a.metrics.value.errorRatio ?? 0) > 0.05).toBe(true);
    expect(a.health.ok && a.health.value.status).toBe(503);
    // The current revision crash-loops: no container of it runs to ask, and an old pod's image does
    // not know the newer head. The assessment says so instead of asking the wrong pod.
    expect(a.migration.ok).toBe(false);
    expect(!a.migration.ok && a.migration.unavailable).toMatch(
      /no running container of the current revision/,
    );
    expect(a.findings.join('\n')).toMatch(/CrashLoopBackOff/);
    // The assessment is posted right after the state is committed.
    await eventually('assessment posted', async () =>
      notifier.notices.some((n) => n.kind === 'assessed' && n.state === 'awaiting_approval'),
    );
    // Nothing has been touched yet.
    expect(await generationOf(world, ns)).toBe(generationBefore);

    await runner.approve(r.id, { kind: 'user', id: 'U0SRE00002', name: 'bob' });
    // The database is ahead of the target: the rollback stops for the downgrade's own approval,
    // having notified people and changed nothing.
    const gated = await runner.waitFor(r.id, ['awaiting_migration_approval'], 90_000);
    // Read with the current (newer) image, in a Job, since a kubelet refuses exec into a crash loop.
    // Offered only once the current image's history was confirmed to know the target's head.
    expect(gated.migrationGate).toMatchObject({
      kind: 'downgrade',
      current: 'bbb222',
      target: 'aaa111',
      checks: [{ name: 'migration history', passed: true }],
    });
    await eventually('downgrade approval asked for', async () =>
      notifier.notices.some((n) => n.kind === 'migrationApprovalNeeded'),
    );
    expect(await generationOf(world, ns)).toBe(generationBefore);
    expect(await databaseHead(world)).toBe('bbb222');
    await expect(
      runner.approveMigration(r.id, { kind: 'user', id: 'U0INTRUDER', name: 'mallory' }),
    ).rejects.toThrow(/is not an approver/);
    await expect(runner.approve(r.id, { kind: 'user', id: 'U0SRE00002', name: 'bob' })).rejects.toThrow(
      /already awaiting migration approval/,
    );
    await runner.approveMigration(r.id, { kind: 'user', id: 'U0SRE00001', name: 'alice' });
    const done = await runner.waitFor(r.id, ['completed', 'failed'], 120_000);
    expect(done.migrationApproval?.by.id).toBe('U0SRE00001');
    expect(done.migration?.started.via).toBe('job');
    expect(done.migration?.finished?.head).toBe('aaa111');
    // The Job's output is in the audit trail, and the Job is gone.
    const trail = await store.events(r.id);
    expect(
      trail.some((x) => typeof x.data?.output === 'string' && /aaa111/.test(String(x.data.output))),
    ).toBe(true);
    expect(await kubectlOk(world, ['get', 'jobs', '-n', ns, '-o', 'name'])).toBe('');
    expect(done.failure).toBeUndefined();
    expect(done.state).toBe('completed');
    expect(done.undo?.outcome).toBe('patched');
    expect(await imageOf(world, ns)).toBe(GOOD);
    expect(await generationOf(world, ns)).toBe(generationBefore + 1);
    expect(await databaseHead(world)).toBe('aaa111');

    const v = done.verification!;
    expect(v.passed).toBe(true);
    const names = v.checks.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'pods running and ready',
        'no restarts',
        '/health',
        'error rate',
        'p99 latency',
        'migrations at the target revision',
        'smoke: api responds',
        'smoke: database reachable',
      ]),
    );
    const er = v.checks.find((c) => c.name === 'error rate')!;
    expect(er.evidence.source).toContain(`namespace="${ns}"`);
    expect(er.evidence.threshold).toBe('< 1.00%');

    // The report goes out right after the final state is committed.
    const kinds = await eventually('report sent', async () => {
      const k = notifier.notices.map((n) => n.kind);
      return k.includes('finished') ? k : undefined;
    });
    expect(kinds).toEqual(expect.arrayContaining(['starting', 'progress', 'finished']));
    expect(kinds.indexOf('starting')).toBeLessThan(kinds.indexOf('finished'));

    const events = await store.events(r.id);
    const types = events.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'created',
        'start',
        'assessed',
        'approve',
        'migration_needed',
        'approve_migration',
        'migrated',
        'undone',
        'verified',
        'reported',
      ]),
    );
    const states = events.filter((e) => e.to && e.type !== 'progress' && e.type !== 'note').map((e) => e.to);
    expect(states).toEqual([
      'requested',
      'assessing',
      'awaiting_approval',
      'notifying',
      'awaiting_migration_approval',
      'migrating',
      'undoing',
      'verifying',
      'reporting',
      'completed',
    ]);

    const report = done.report!;
    if (process.env.PRINT_REPORT) console.log(report);
    expect(report).toContain(`# Incident Report: Rollback of release-manager revision 2 (${BAD})`);
    expect(report).toMatch(/## Timeline\n(- \*\*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\*\*: .+\n){6,}/);
    expect(report).toContain('Approved by <@U0SRE00002> (bob)');
    expect(report).toContain('Database downgrade approved by <@U0SRE00001> (alice)');
    expect(report).toContain('| error rate | pass |');
    expect(report).toContain('P2 - Deployment failed but successfully rolled back');
    expect(report).toContain('[To be completed by the owning team');
  });

  it('left the Deployment lock free for the next rollback', async () => {
    expect(await engine.store.holderOf(ns, NAME)).toBeUndefined();
  });
});
