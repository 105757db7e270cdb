// Fail closed on the real world: an unknown database state stops the rollback before anything
// changes and only a person goes on; the re-check refuses a changed template but never a scaled one;
// a replica that stops hands its rollback over; a wait nobody answers ends.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isCodedError } from '../../src/errors.js';
import type { Logger } from '../../src/rollback/ports.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import {
  databaseHead,
  generationOf,
  imageOf,
  NAME,
  setDatabaseHead,
  shipReleases,
} from '../support/releases.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v2024.01.14';
const NEWER = 'registry.test/release-manager:v2024.01.16';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const ALICE = { kind: 'user' as const, id: 'U0SRE00001', name: 'alice' };
const BOB = { kind: 'user' as const, id: 'U0SRE00002', name: 'bob' };
const MALLORY = { kind: 'user' as const, id: 'U0MALLORY1', name: 'mallory' };
const SYSTEM = { kind: 'system' as const, id: 'alertmanager', name: 'alert' };

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

/**
 * A fresh namespace with the good release (expected head `firstHead`), then `image` (expected head
 * `head`) as the current one, and the shared database at `dbHead`.
 */
async function releases(prefix: string, dbHead: string, image: string, head: string, firstHead = 'aaa111') {
  const ns = await freshNamespace(world, prefix);
  await setDatabaseHead(world, dbHead);
  await shipReleases(world, ns, [
    { image: GOOD, cause: 'Release v2024.01.14', head: firstHead },
    { image, cause: `Release ${image.split(':')[1]}`, head },
  ]);
  return ns;
}

describe('rollback engine: fail closed', () => {
  const engines: ReturnType<typeof createTestEngine>[] = [];
  const engine = (...a: Parameters<typeof createTestEngine>) => {
    const e = createTestEngine(...a);
    engines.push(e);
    return e;
  };
  afterAll(async () => {
    await deleteNamespaces(world);
    for (const e of engines) {
      await e.runner.idle();
      await e.close();
    }
  });

  it('stops at the database gate when the head cannot be read, and only an approver goes on without the downgrade', async () => {
    const ns = await releases('gate', 'bbb222', NEWER, 'bbb222');
    const e = engine(world, {
      catalog: worldCatalog(world, ns, (svc) => {
        // A wrong command: `alembic` answers with its usage and exit 2, as a typo in the catalog would.
        svc.migrations!.currentCommand = ['alembic', 'currant'];
      }),
    });
    const gen = await generationOf(world, ns);
    const r = await e.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    await e.runner.approve(r.id, BOB);
    const gate = await e.runner.waitFor(r.id, ['awaiting_migration_approval', 'undoing'], 90_000);
    expect(gate.state).toBe('awaiting_migration_approval');
    expect(gate.migrationGate?.kind).toBe('unknown');
    expect(gate.migrationGate?.kind === 'unknown' && gate.migrationGate.reasons.join(' ')).toMatch(
      /database head is unknown: `alembic currant` exited 2 in pod/,
    );
    // Nothing changed: not the Deployment, not the database.
    expect(await generationOf(world, ns)).toBe(gen);
    expect(await databaseHead(world)).toBe('bbb222');
    // There is no downgrade to approve, a non-approver cannot skip it, and the system never does.
    expect(isCodedError(await refusal(e.runner.approveMigration(r.id, BOB)), 'rollback_wrong_state')).toBe(
      true,
    );
    expect(isCodedError(await refusal(e.runner.skipMigration(r.id, MALLORY)), 'rollback_unauthorized')).toBe(
      true,
    );
    expect(isCodedError(await refusal(e.runner.skipMigration(r.id, SYSTEM)), 'rollback_unauthorized')).toBe(
      true,
    );
    await eventually('database decision asked for', async () =>
      e.notifier.notices.some((n) => n.kind === 'migrationApprovalNeeded'),
    );

    await e.runner.skipMigration(r.id, BOB);
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 120_000);
    expect(done.undo?.outcome).toBe('patched');
    expect(done.migrationSkipped?.by.id).toBe(BOB.id);
    expect(await imageOf(world, ns)).toBe(GOOD);
    expect(await databaseHead(world)).toBe('bbb222');
    expect(done.report).toContain('Rolled back without the database downgrade, decided by');
    // Verification does not call an unreadable head a pass.
    expect(
      done.verification?.checks.find((c) => c.name === 'migrations at the target revision')?.passed,
    ).toBe(false);
  }, 240_000);

  it('never lets an automatic rollback past a missing expected head', async () => {
    const ns = await releases('gateauto', 'bbb222', NEWER, 'bbb222', '');
    const e = engine(world, { catalog: worldCatalog(world, ns) });
    const gen = await generationOf(world, ns);
    const r = await e.runner.request({
      service: 'release-manager',
      reason: 'alert',
      actor: SYSTEM,
      mode: 'auto',
    });
    const gate = await e.runner.waitFor(r.id, ['awaiting_migration_approval', 'undoing'], 90_000);
    expect(gate.state).toBe('awaiting_migration_approval');
    expect(gate.migrationGate?.kind === 'unknown' && gate.migrationGate.reasons.join(' ')).toMatch(
      /expected head \(pod-template annotation [^)]+\) is empty/,
    );
    await new Promise((res) => setTimeout(res, 2000));
    expect((await e.store.get(r.id))?.state).toBe('awaiting_migration_approval');
    expect(await generationOf(world, ns)).toBe(gen);
    await e.runner.cancel(r.id, BOB);
  }, 180_000);

  it('runs the downgrade with the current revision, never in a pod of the old one', async () => {
    const ns = await releases('down', 'bbb222', NEWER, 'bbb222');
    const e = engine(world, { catalog: worldCatalog(world, ns) });
    const r = await e.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    const waiting = await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    const currentRs = waiting.assessment?.from?.replicaSet ?? '?';
    await e.runner.approve(r.id, BOB);
    const gate = await e.runner.waitFor(r.id, ['awaiting_migration_approval'], 90_000);
    // Offered only once the current image's history was confirmed to know the target's head.
    expect(gate.migrationGate).toMatchObject({
      kind: 'downgrade',
      current: 'bbb222',
      target: 'aaa111',
      checks: [{ name: 'migration history', passed: true }],
    });
    await e.runner.approveMigration(r.id, ALICE);
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 120_000);
    expect(done.migration?.started.via).toBe('exec');
    expect(done.migration?.started.pod?.startsWith(`${currentRs}-`)).toBe(true);
    expect(done.migration?.finished?.head).toBe('aaa111');
    expect(await databaseHead(world)).toBe('aaa111');
    expect(done.state).toBe('completed');
  }, 240_000);

  it('never starts a second downgrade when the replica running one stops: the successor awaits its Job', async () => {
    const ns = await releases('resumejob', 'bbb222', BAD, 'bbb222');
    const catalog = worldCatalog(world, ns);
    const resumed: string[] = [];
    const first = engine(world, { catalog, owner: 'replica-a', leaseMs: 15_000 });
    const second = engine(world, {
      catalog,
      owner: 'replica-b',
      leaseMs: 15_000,
      prefix: first.prefix,
      logger: { info: (m) => void resumed.push(m), warn() {}, error() {} },
    });
    const r = await first.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await first.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    await first.runner.approve(r.id, BOB);
    const gate = await first.runner.waitFor(r.id, ['awaiting_migration_approval'], 120_000);
    expect(gate.migrationGate?.kind).toBe('downgrade');
    await first.runner.approveMigration(r.id, ALICE);
    // The crash-looping release has no running container: the downgrade runs as a Job.
    const started = await eventually(
      'downgrade started',
      async () => (await first.store.get(r.id))?.migration?.started,
      60_000,
    );
    expect(started.via).toBe('job');
    await first.runner.close(); // the replica is rolled mid-downgrade
    second.runner.start();
    const done = await second.runner.waitFor(r.id, ['completed', 'failed'], 180_000);
    expect(resumed.some((m) => m.startsWith(`resuming rollback ${r.id} in migrating`))).toBe(true);
    expect(done.state).toBe('completed');
    expect(await databaseHead(world)).toBe('aaa111');
    const trail = await second.store.events(r.id);
    const starts = trail.filter((x) =>
      /^database downgrade .* started in/.test(String(x.data?.milestone ?? '')),
    );
    expect(starts).toHaveLength(1);
    expect(done.migration?.started.job).toBe(started.job);
  }, 300_000);

  it('goes on when only the replicas changed, and refuses a changed template naming what changed', async () => {
    const scaled = await releases('scaled', 'aaa111', BAD, 'aaa111');
    const changed = await releases('changed', 'aaa111', BAD, 'aaa111');
    const a = engine(world, { catalog: worldCatalog(world, scaled) });
    const b = engine(world, { catalog: worldCatalog(world, changed) });
    const ra = await a.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    const rb = await b.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await a.runner.waitFor(ra.id, ['awaiting_approval'], 60_000);
    await b.runner.waitFor(rb.id, ['awaiting_approval'], 60_000);
    // As an HPA does: the scale subresource, which bumps metadata.generation.
    const genBefore = await generationOf(world, scaled);
    await kubectlOk(world, ['scale', `deployment/${NAME}`, '-n', scaled, '--replicas=4']);
    expect(await generationOf(world, scaled)).toBe(genBefore + 1);
    await kubectlOk(world, ['set', 'image', `deployment/${NAME}`, '-n', changed, `app=${NEWER}`]);
    await a.runner.approve(ra.id, BOB);
    await b.runner.approve(rb.id, BOB);
    const doneA = await a.runner.waitFor(ra.id, ['verifying', 'completed', 'failed'], 120_000);
    expect(doneA.failure).toBeUndefined();
    expect(doneA.undo?.outcome).toBe('patched');
    expect(await imageOf(world, scaled)).toBe(GOOD);
    const doneB = await b.runner.waitFor(rb.id, ['completed', 'failed'], 120_000);
    expect(doneB.state).toBe('failed');
    expect(doneB.failure?.code).toBe('rollback_concurrent_change');
    expect(doneB.failure?.message).toContain(`template.spec.containers[0].image: ${BAD} → ${NEWER}`);
    expect(await imageOf(world, changed)).toBe(NEWER);
  }, 240_000);

  it('hands a rollback over when its replica stops: the other replica finishes it within about a second', async () => {
    const ns = await releases('handover', 'aaa111', BAD, 'aaa111');
    const catalog = worldCatalog(world, ns, (svc) => (svc.verify.restartWindowSeconds = 8));
    const resumedAt: number[] = [];
    const logger: Logger = {
      info: (msg) => {
        if (msg.startsWith('resuming rollback')) resumedAt.push(Date.now());
      },
      warn() {},
      error() {},
    };
    const first = engine(world, { catalog, owner: 'replica-a', leaseMs: 15_000 });
    const second = engine(world, {
      catalog,
      owner: 'replica-b',
      leaseMs: 15_000,
      prefix: first.prefix,
      logger,
    });
    second.runner.start();
    const r = await first.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await first.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    await first.runner.approve(r.id, BOB);
    await first.runner.waitFor(r.id, ['verifying'], 120_000);
    const stoppedAt = Date.now();
    await first.runner.close(); // what SIGTERM does
    const done = await second.runner.waitFor(r.id, ['completed', 'failed'], 120_000);
    expect(done.state).toBe('completed');
    const takeoverMs = (resumedAt[0] ?? Number.POSITIVE_INFINITY) - stoppedAt;
    console.log(`[handover] SIGTERM → takeover in ${takeoverMs} ms (lease TTL 15000 ms)`);
    expect(takeoverMs).toBeLessThan(2500);
    expect(await e2eLockFree(second, ns)).toBe(true);
  }, 240_000);

  it('expires a proposal nobody answers, says so, and frees the lock; the requester can cancel by service', async () => {
    const ns = await releases('expire', 'aaa111', BAD, 'aaa111');
    const e = engine(world, {
      catalog: worldCatalog(world, ns, (svc) => (svc.approvers.expireMinutes = 0.05)),
      reapIntervalMs: 250,
    });
    e.runner.start();
    const r = await e.runner.request({
      service: 'release-manager',
      reason: 'test',
      actor: ALICE,
      thread: { channel: 'C0INCIDENTS', ts: '1700000000.000100' },
    });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    const ended = await e.runner.waitFor(r.id, ['cancelled'], 30_000);
    expect(ended.state).toBe('cancelled');
    expect(ended.decision?.by.kind).toBe('system');
    const events = await e.store.events(r.id);
    expect(events.some((x) => x.type === 'cancel' && x.data?.expired === true)).toBe(true);
    await eventually('expiry said', async () =>
      e.notifier.notices.some(
        (n) => n.kind === 'say' && /Expired: nobody decided within 0.05 min/.test(n.message ?? ''),
      ),
    );
    expect(await e.store.holderOf(ns, NAME)).toBeUndefined();

    const again = await e.runner.request({ service: 'release-manager', reason: 'again', actor: ALICE });
    await e.runner.waitFor(again.id, ['awaiting_approval'], 60_000);
    expect(
      isCodedError(
        await refusal(e.runner.cancelService('release-manager', MALLORY)),
        'rollback_unauthorized',
      ),
    ).toBe(true);
    const cancelled = await e.runner.cancelService('release-manager', ALICE);
    expect(cancelled.state).toBe('cancelled');
    expect(
      isCodedError(await refusal(e.runner.cancelService('release-manager', ALICE)), 'rollback_not_found'),
    ).toBe(true);
  }, 180_000);
  it('starts even with a rollback of a service no longer in the catalog: that one fails, saying why', async () => {
    let takeovers = 0;
    const e = engine(world, {
      catalog: worldCatalog(world, 'unused'),
      metrics: {
        signal: () => undefined,
        suppressed: () => undefined,
        leaseTakeover: () => void takeovers++,
      },
    });
    const now = new Date().toISOString();
    const orphan = {
      id: `orphan-${Date.now()}`,
      service: 'rm-removed',
      namespace: 'gone',
      deployment: 'gone',
      state: 'assessing' as const,
      version: 1,
      mode: 'manual' as const,
      dryRun: false,
      toRevision: 0,
      reason: 'left by an earlier catalog',
      requestedBy: ALICE,
      requestedAt: now,
      updatedAt: now,
      approvals: [],
    };
    await e.store.create(
      orphan,
      { id: orphan.id, type: 'created', from: undefined, to: 'assessing', actor: ALICE, at: now },
      { lockDeployment: true },
    );
    // What a replica does at start: a pass of the reaper. It must not throw.
    await expect(e.runner.resume()).resolves.toBeGreaterThanOrEqual(1);
    // Left by another process, taken over by this one: counted for the bot's /metrics.
    expect(takeovers).toBeGreaterThanOrEqual(1);
    const ended = await e.runner.waitFor(orphan.id, ['failed'], 30_000);
    expect(ended.state).toBe('failed');
    expect(ended.failure?.code).toBe('rollback_unknown_service');
    expect(await e.store.holderOf('gone', 'gone')).toBeUndefined();
  });
});

async function e2eLockFree(e: ReturnType<typeof createTestEngine>, ns: string): Promise<boolean> {
  return (await e.store.holderOf(ns, NAME)) === undefined;
}
