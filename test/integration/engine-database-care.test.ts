// Database care on the real world (issue 13): before a downgrade, the current image's migration
// history must know the target's head and the schema check must pass, or the gate fails closed (skip
// or cancel only), and both are checked again right before the downgrade; after verification, the
// procedure's integrity scripts run and a failed one fails the rollback; the data cleanup runs only
// when an approver asks, once, in order, stopping at the first failure, never on its own.
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { CatalogEntry } from '../../src/config/catalog-schema.js';
import { isCodedError } from '../../src/errors.js';
import { databaseLines } from '../../src/report/database-section.js';
import { cleanupFingerprint } from '../../src/rollback/data-cleanup.js';
import type { Rollback } from '../../src/rollback/model.js';
import { shipDatabasePod, sql, tableExists } from '../support/database.js';
import { createTestEngine, exampleDatabaseCare, worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { databaseHead, generationOf, imageOf, setDatabaseHead, shipReleases } from '../support/releases.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v2024.01.14';
const NEWER = 'registry.test/release-manager:v2024.01.16';
/** A release whose migrations were squashed into one: its history knows only its own head. */
const SQUASHED = 'registry.test/release-manager:v2024.02.01-squashed';
const ALICE = { kind: 'user' as const, id: 'U0SRE00001', name: 'alice' };
const BOB = { kind: 'user' as const, id: 'U0SRE00002', name: 'bob' };
const MALLORY = { kind: 'user' as const, id: 'U0MALLORY1', name: 'mallory' };
const ALERT = { kind: 'alert' as const, id: 'alertmanager', name: 'HighErrorRate' };

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

const PSQL = ['psql', '-U', 'postgres', '-d', 'release_manager', '-v', 'ON_ERROR_STOP=1', '-c'];

/** A namespace with the good release, then `image` (expected head `head`) as the current one. */
async function releases(prefix: string, image: string, head: string): Promise<string> {
  const ns = await freshNamespace(world, prefix);
  await shipReleases(world, ns, [
    { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' },
    { image, cause: `Release ${image.split(':')[1]}`, head },
  ]);
  return ns;
}

function reasonsOf(r: Rollback): string {
  return r.migrationGate?.kind === 'unknown'
    ? r.migrationGate.reasons.join(' | ')
    : `(gate ${r.migrationGate?.kind})`;
}

describe('rollback engine: database care', () => {
  const engines: ReturnType<typeof createTestEngine>[] = [];
  const engine = (...a: Parameters<typeof createTestEngine>) => {
    const e = createTestEngine(...a);
    engines.push(e);
    return e;
  };
  const dropTables = () =>
    sql(
      world,
      'drop table if exists release_deployments, releases, audit_log, schema_migrations_temp, cleanup_marker_a, cleanup_marker_b',
    );
  beforeEach(() => dropTables());
  afterAll(async () => {
    dropTables();
    await deleteNamespaces(world);
    for (const e of engines) {
      await e.runner.idle();
      await e.close();
    }
  });

  it("refuses a downgrade the current image's history does not know: only skip or cancel, nothing changed", async () => {
    const ns = await releases('dbhist', SQUASHED, 'ccc333');
    await setDatabaseHead(world, 'ccc333');
    const e = engine(world, { catalog: worldCatalog(world, ns) });
    const gen = await generationOf(world, ns);
    const r = await e.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    await e.runner.approve(r.id, BOB);
    const gate = await e.runner.waitFor(r.id, ['awaiting_migration_approval', 'undoing'], 90_000);
    expect(gate.state).toBe('awaiting_migration_approval');
    // Without the history check this gate is a downgrade, offered for approval, that cannot work.
    expect(gate.migrationGate?.kind, reasonsOf(gate)).toBe('unknown');
    expect(reasonsOf(gate)).toMatch(
      /before the downgrade ccc333 → aaa111: `alembic history` in pod \S+ does not list the target's head aaa111 as a revision \(it lists ccc333\): the current image cannot migrate down to it/,
    );
    expect(isCodedError(await refusal(e.runner.approveMigration(r.id, BOB)), 'rollback_wrong_state')).toBe(
      true,
    );
    await eventually('the reasons are said in the thread', async () =>
      e.notifier.notices.some((n) => n.kind === 'migrationApprovalNeeded'),
    );
    expect(await generationOf(world, ns)).toBe(gen);
    expect(await databaseHead(world)).toBe('ccc333');
    await e.runner.cancel(r.id, BOB);
  }, 240_000);

  it('refuses a downgrade when the schema check fails, at the gate and again right before the downgrade', async () => {
    const ns = await releases('dbschema', NEWER, 'bbb222');
    await shipDatabasePod(world, ns);
    await setDatabaseHead(world, 'bbb222');
    // The previous release's schema: its releases table must still be there to go back to.
    const e = engine(world, {
      catalog: worldCatalog(world, ns, (svc) => {
        svc.migrations!.schemaCheck = {
          command: [...PSQL, 'SELECT count(*) FROM releases'],
          podSelector: 'app=db',
          timeoutSeconds: 30,
        };
      }),
    });
    const gen = await generationOf(world, ns);

    const first = await e.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await e.runner.waitFor(first.id, ['awaiting_approval'], 60_000);
    await e.runner.approve(first.id, BOB);
    const refused = await e.runner.waitFor(first.id, ['awaiting_migration_approval', 'undoing'], 90_000);
    // Without the schema check this gate is a downgrade onto a schema that is not there.
    expect(refused.migrationGate?.kind, reasonsOf(refused)).toBe('unknown');
    expect(reasonsOf(refused)).toMatch(
      /the schema check `psql .* SELECT count\(\*\) FROM releases` exited 1 in pod db-\S+: .*relation "releases" does not exist/,
    );
    expect(
      isCodedError(await refusal(e.runner.approveMigration(first.id, BOB)), 'rollback_wrong_state'),
    ).toBe(true);
    await e.runner.cancel(first.id, BOB);

    // With the table there the downgrade is offered; when it goes before the approval, the check
    // right before the downgrade catches it and the decision goes back to a person.
    sql(world, 'create table releases (id int primary key, name text)');
    const second = await e.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await e.runner.waitFor(second.id, ['awaiting_approval'], 60_000);
    await e.runner.approve(second.id, BOB);
    const offered = await e.runner.waitFor(second.id, ['awaiting_migration_approval', 'undoing'], 90_000);
    expect(offered.migrationGate).toMatchObject({
      kind: 'downgrade',
      checks: [
        { name: 'migration history', passed: true },
        { name: 'schema check', passed: true, where: expect.stringMatching(/^pod db-/) },
      ],
    });
    sql(world, 'drop table releases');
    await e.runner.approveMigration(second.id, ALICE);
    const back = await eventually(
      'back to a person',
      async () => {
        const now = await e.store.get(second.id);
        return now?.state === 'awaiting_migration_approval' && now.migrationGate?.kind === 'unknown'
          ? now
          : undefined;
      },
      90_000,
    );
    expect(reasonsOf(back)).toMatch(
      /right before the downgrade bbb222 → aaa111: the schema check .* exited 1/,
    );
    expect(back.migration).toBeUndefined();
    expect(await databaseHead(world)).toBe('bbb222');
    expect(await generationOf(world, ns)).toBe(gen);
    await e.runner.cancel(second.id, BOB);
  }, 300_000);

  it("runs the worked example's care: checks, downgrade, integrity scripts; cleanup only on an approver's click, once", async () => {
    const ns = await releases('dbcare', NEWER, 'bbb222');
    const dbPod = await shipDatabasePod(world, ns);
    await setDatabaseHead(world, 'bbb222');
    sql(
      world,
      `create table releases (id int primary key, name text);
       create table release_deployments (id int primary key, release_id int references releases, at text);
       insert into releases values (1, 'v2024.01.14'), (2, 'v2024.01.16');
       insert into release_deployments values (10, 1, '2024-01-14'), (11, 2, '2024-01-16');
       create table schema_migrations_temp (id int)`,
    );
    const care = exampleDatabaseCare();
    const catalog = worldCatalog(world, ns, (svc) => {
      svc.migrations!.schemaCheck = care.schemaCheck;
      svc.cleanup = care.cleanup;
      svc.integrityChecks = care.integrityChecks;
    });
    const e = engine(world, { catalog });
    const started = Date.now();
    // In a thread, as from Slack: what is said there is delivered to the (recording) notifier.
    const r = await e.runner.request({
      service: 'release-manager',
      reason: 'test',
      actor: ALICE,
      thread: { channel: 'C0INC', ts: '1700000000.000100' },
    });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    await e.runner.approve(r.id, BOB);
    const gate = await e.runner.waitFor(r.id, ['awaiting_migration_approval'], 90_000);
    expect(gate.migrationGate).toMatchObject({
      kind: 'downgrade',
      checks: [
        { name: 'migration history', passed: true },
        {
          name: 'schema check',
          passed: true,
          where: `pod ${dbPod}`,
          output: expect.stringContaining('alembic_version'),
        },
      ],
    });
    await e.runner.approveMigration(r.id, ALICE);
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 180_000);
    const checks = done.verification?.checks ?? [];
    expect(done.state, JSON.stringify(checks.filter((c) => !c.passed))).toBe('completed');
    expect(await databaseHead(world)).toBe('aaa111');
    expect(await imageOf(world, ns)).toBe(GOOD);
    // The procedure's three integrity scripts ran in the rolled-back release, before the held checks.
    const names = checks.map((c) => c.name);
    expect(names.filter((n) => n.startsWith('data integrity: '))).toEqual([
      'data integrity: data consistency',
      'data integrity: orphaned records',
      'data integrity: audit log consistency',
    ]);
    expect(names.indexOf('data integrity: audit log consistency')).toBeLessThan(
      names.indexOf('still on the target revision'),
    );
    expect(checks.find((c) => c.name === 'data integrity: data consistency')?.detail).toMatch(
      /OK: the database is at aaa111, a revision this release ships/,
    );
    const tookMs = Date.now() - started;

    // Never on its own: the rollback ended a while ago and nothing was cleaned.
    await new Promise((res) => setTimeout(res, 2000));
    expect((await e.store.get(r.id))?.cleanup).toBeUndefined();
    expect(tableExists(world, 'schema_migrations_temp')).toBe(true);

    // Not an approver: refused and audited. A button listing other commands: refused, nothing run.
    expect(isCodedError(await refusal(e.runner.runCleanup(r.id, MALLORY)), 'rollback_unauthorized')).toBe(
      true,
    );
    expect(
      (await e.store.events(r.id)).some(
        (x) => x.data?.kind === 'unauthorized' && x.data.decision === 'run_cleanup',
      ),
    ).toBe(true);
    const stale = await refusal(e.runner.runCleanup(r.id, BOB, 'fingerprint-of-other-commands'));
    expect(isCodedError(stale, 'rollback_wrong_state') && stale.message).toMatch(
      /changed since this button was posted/,
    );
    expect((await e.store.get(r.id))?.cleanup).toBeUndefined();

    // Two approvers click at once (two replicas, or a double click): it runs once.
    const shown = cleanupFingerprint(care.cleanup!.commands);
    const clicks = await Promise.allSettled([
      e.runner.runCleanup(r.id, BOB, shown),
      e.runner.runCleanup(r.id, ALICE, shown),
    ]);
    expect(clicks.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
    const lost = clicks.find((c) => c.status === 'rejected') as PromiseRejectedResult;
    expect(isCodedError(lost.reason, 'rollback_wrong_state')).toBe(true);
    const cleanStarted = Date.now();
    const cleaned = await eventually('cleanup finished', async () => {
      const now = await e.store.get(r.id);
      return now?.cleanup?.finished ? now : undefined;
    });
    const cleanupMs = Date.now() - cleanStarted;
    const c = cleaned.cleanup!;
    expect(c.finished?.outcome).toBe('passed');
    expect(c.results.map((x) => [x.name, x.passed, x.exitCode, x.where])).toEqual([
      ['drop temporary migration tables', true, 0, `pod ${dbPod}`],
      ['vacuum', true, 0, `pod ${dbPod}`],
      ['data consistency', true, 0, `pod ${dbPod}`],
    ]);
    expect(tableExists(world, 'schema_migrations_temp')).toBe(false);
    expect(c.results[2]?.output).toMatch(/11 \|\s+2 \| 2024-01-16/);
    // The audit trail has each command's output; the thread had each result; the report was re-rendered.
    const trail = await e.store.events(r.id);
    const steps = trail.filter((x) => x.data?.kind === 'cleanup_step');
    expect(steps.map((x) => x.data?.name)).toEqual([
      'drop temporary migration tables',
      'vacuum',
      'data consistency',
    ]);
    expect(String(steps[0]?.data?.output)).toContain('DROP TABLE');
    expect(trail.filter((x) => x.data?.kind === 'cleanup_started')).toHaveLength(1);
    // The finish's notice leaves through the outbox after its commit, so it may trail the record.
    const saidNow = () => e.notifier.notices.filter((n) => n.kind === 'say').map((n) => n.message ?? '');
    const finishedNotice = (m: string) =>
      m.startsWith(':broom: Data cleanup finished: all 3 commands passed');
    const said = await eventually('the finish said in the thread', async () =>
      saidNow().some(finishedNotice) ? saidNow() : undefined,
    );
    expect(said.filter((m) => /^:white_check_mark: Cleanup \d\/3/.test(m))).toHaveLength(3);
    expect(said.filter(finishedNotice)).toHaveLength(1);
    expect(cleaned.report).toContain('data cleanup finished: all 3 commands passed');
    const section = databaseLines(cleaned, trail).join('\n');
    expect(section).toMatch(/Before the downgrade, schema check .*: passed/);
    expect(section).toMatch(
      /3\. pass data consistency: `psql .*SELECT \* FROM release_deployments LIMIT 5` in pod db-/,
    );
    expect(section).toContain('Finished at');

    // A second click, however late, runs nothing.
    const again = await refusal(e.runner.runCleanup(r.id, BOB, shown));
    expect(isCodedError(again, 'rollback_wrong_state') && again.message).toMatch(/already ran/);
    expect((await e.store.events(r.id)).filter((x) => x.data?.kind === 'cleanup_started')).toHaveLength(1);
    console.log(
      `[database care] approve → completed with checks and integrity scripts ${tookMs} ms; cleanup of 3 commands ${cleanupMs} ms`,
    );
  }, 300_000);

  it('never cleans up after an automatic rollback on its own; a clicked cleanup stops at its first failure and keeps no secret', async () => {
    const ns = await releases('dbauto', NEWER, 'bbb222');
    await shipDatabasePod(world, ns);
    // Already at the target's head: the gate lets an automatic rollback through without a person.
    await setDatabaseHead(world, 'aaa111');
    const care = exampleDatabaseCare();
    const cleanup: CatalogEntry['cleanup'] = {
      commands: [
        {
          name: 'mark a',
          command: [...PSQL, 'CREATE TABLE cleanup_marker_a (x int)'],
          podSelector: 'app=db',
          timeoutSeconds: 30,
        },
        {
          name: 'leaky',
          command: [...PSQL, "SELECT 'PGPASSWORD=hunter2hunter2' AS leaked"],
          podSelector: 'app=db',
          timeoutSeconds: 30,
        },
        {
          name: 'missing',
          command: [...PSQL, 'SELECT * FROM release_deployments LIMIT 5'],
          podSelector: 'app=db',
          timeoutSeconds: 30,
        },
        {
          name: 'mark b',
          command: [...PSQL, 'CREATE TABLE cleanup_marker_b (x int)'],
          podSelector: 'app=db',
          timeoutSeconds: 30,
        },
      ],
    };
    const e = engine(world, {
      catalog: worldCatalog(world, ns, (svc) => {
        svc.policy.mode = 'auto';
        svc.cleanup = cleanup;
        svc.integrityChecks = care.integrityChecks;
      }),
    });
    const r = await e.runner.request({
      service: 'release-manager',
      reason: 'alert',
      actor: ALERT,
      mode: 'auto',
    });
    const done = await e.runner.waitFor(
      r.id,
      ['completed', 'failed', 'awaiting_migration_approval'],
      180_000,
    );
    expect(done.state, JSON.stringify(done.verification?.checks.filter((c) => !c.passed))).toBe('completed');
    expect(done.migrationGate?.kind).toBe('none');
    await new Promise((res) => setTimeout(res, 2000));
    expect((await e.store.get(r.id))?.cleanup).toBeUndefined();
    expect(tableExists(world, 'cleanup_marker_a')).toBe(false);
    // Nor may the alert (or any system actor) click it.
    expect(isCodedError(await refusal(e.runner.runCleanup(r.id, ALERT)), 'rollback_unauthorized')).toBe(true);

    await e.runner.runCleanup(r.id, BOB);
    const stopped = await eventually('cleanup stopped', async () => {
      const now = await e.store.get(r.id);
      return now?.cleanup?.finished ? now : undefined;
    });
    const c = stopped.cleanup!;
    expect(c.finished?.outcome).toBe('failed');
    expect(c.results.map((x) => [x.name, x.passed])).toEqual([
      ['mark a', true],
      ['leaky', true],
      ['missing', false],
    ]);
    expect(c.results[2]?.output).toMatch(/relation "release_deployments" does not exist/);
    expect(tableExists(world, 'cleanup_marker_a')).toBe(true);
    expect(tableExists(world, 'cleanup_marker_b')).toBe(false);
    // What the command printed is redacted in the record, the audit trail and the thread.
    const everything = JSON.stringify([stopped, await e.store.events(r.id), e.notifier.notices]);
    expect(everything).not.toContain('hunter2hunter2');
    expect(c.results[1]?.output).toContain('PGPASSWORD=[redacted]');
    expect(stopped.report).toContain('data cleanup stopped at its first failure: 3 of 4 commands ran');
    expect(databaseLines(stopped, []).join('\n')).toContain('not run: mark b');
  }, 300_000);

  it('fails the rollback when a data integrity check fails, and then offers no cleanup', async () => {
    const ns = await releases('dbint', NEWER, 'bbb222');
    await shipDatabasePod(world, ns);
    await setDatabaseHead(world, 'aaa111');
    // A row pointing at a release that is not there: what check-orphaned-records.sh is for.
    sql(
      world,
      `create table releases (id int primary key, name text);
       create table release_deployments (id int primary key, release_id int, at text);
       insert into releases values (1, 'v2024.01.14');
       insert into release_deployments values (10, 1, '2024-01-14'), (11, 2, '2024-01-16')`,
    );
    const care = exampleDatabaseCare();
    const e = engine(world, {
      catalog: worldCatalog(world, ns, (svc) => {
        svc.cleanup = care.cleanup;
        svc.integrityChecks = care.integrityChecks;
      }),
    });
    const r = await e.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    await e.runner.approve(r.id, BOB);
    const done = await e.runner.waitFor(
      r.id,
      ['completed', 'failed', 'awaiting_migration_approval'],
      180_000,
    );
    const failed = done.verification?.checks.filter((c) => !c.passed) ?? [];
    // Without the integrity checks this rollback is completed and verified.
    expect(done.state).toBe('failed');
    expect(failed.map((c) => c.name)).toEqual(['data integrity: orphaned records']);
    expect(failed[0]?.evidence.value).toMatch(
      /exited 1: FAILED: release_deployments rows with no release: 11/,
    );
    expect(done.report).toMatch(/\| data integrity: orphaned records \| \*\*FAIL\*\* \|/);
    expect(done.report).toContain('P1 - Rollback did not restore service health');
    const trail = await e.store.events(r.id);
    expect(trail.filter((x) => x.data?.kind === 'integrity_check').map((x) => x.data?.passed)).toEqual([
      true,
      false,
      true,
    ]);
    const no = await refusal(e.runner.runCleanup(r.id, BOB));
    expect(isCodedError(no, 'rollback_wrong_state') && no.message).toMatch(
      /only after a verified rollback, and this one is failed/,
    );
  }, 300_000);
});
