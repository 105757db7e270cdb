// The world's database side, proven before the engine relies on it: a pod of a PostgreSQL image (the
// procedure's `app=db` pod) whose `psql` reaches the world's PostgreSQL by exec; the release image's
// `alembic history` naming exactly the revisions it ships; and the image's ./scripts integrity checks,
// real SQL that passes on a consistent database and fails, saying why, on an inconsistent one.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { shipDatabasePod, sql } from '../support/database.js';
import { kubectl, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES, setDatabaseHead, shipReleases } from '../support/releases.js';

const world = inject('world');
const SQUASHED = 'registry.test/release-manager:v2024.02.01-squashed';

async function podOf(ns: string, selector: string): Promise<string> {
  const out = await kubectlOk(world, ['get', 'pods', '-n', ns, '-l', selector, '-o', 'name']);
  return out.trim().split('\n')[0]!.replace('pod/', '');
}

const exec = (ns: string, pod: string, argv: string[]) =>
  kubectl(world, ['exec', '-n', ns, pod, '-c', 'app', '--', ...argv]);

describe('the world: database pod, alembic history, integrity scripts', () => {
  afterAll(async () => {
    sql(world, 'drop table if exists release_deployments, releases, audit_log');
    await deleteNamespaces(world);
  });

  it("runs psql in the db pod against the world's PostgreSQL", async () => {
    const ns = await freshNamespace(world, 'wdb');
    const pod = await shipDatabasePod(world, ns);
    await setDatabaseHead(world, 'aaa111');
    const r = await exec(ns, pod, ['psql', '-U', 'postgres', '-d', 'release_manager', '-c', '\\dt']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/public \| alembic_version \| table/);
    // A failing statement fails the command, as a schema check or a cleanup command must see it.
    const bad = await exec(ns, pod, [
      'psql',
      '-U',
      'postgres',
      '-d',
      'release_manager',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      'SELECT * FROM no_such_table',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/relation "no_such_table" does not exist/);
  });

  it('prints the revisions an image ships in alembic history, and a squashed image only its own head', async () => {
    const ns = await freshNamespace(world, 'whist');
    await shipReleases(world, ns, [
      { image: IMAGES.good, cause: 'Release v2024.01.14', head: 'aaa111' },
      { image: IMAGES.next, cause: 'Release v2024.01.15', head: 'bbb222' },
    ]);
    const pod = await podOf(ns, 'app=release-manager');
    const h = await exec(ns, pod, ['alembic', 'history']);
    expect(h.stdout.trim().split('\n')).toEqual([
      'aaa111 -> bbb222 (head), add deployment_window to releases',
      '<base> -> aaa111, create releases',
    ]);
    const ns2 = await freshNamespace(world, 'wsq');
    await shipReleases(world, ns2, [{ image: SQUASHED, cause: 'Release v2024.02.01', head: 'ccc333' }]);
    const sq = await exec(ns2, await podOf(ns2, 'app=release-manager'), ['alembic', 'history']);
    expect(sq.stdout.trim()).toBe('<base> -> ccc333 (head), release head');
  });

  it("runs the image's integrity scripts: they pass on a consistent database and say what is wrong otherwise", async () => {
    const ns = await freshNamespace(world, 'wint');
    await shipReleases(world, ns, [{ image: IMAGES.good, cause: 'Release v2024.01.14', head: 'aaa111' }]);
    const pod = await podOf(ns, `app=release-manager`);
    sql(world, 'drop table if exists release_deployments, releases, audit_log');
    await setDatabaseHead(world, 'aaa111');
    const run = (script: string) => exec(ns, pod, [`./scripts/${script}.sh`]);

    expect((await run('verify-data-integrity')).stdout).toMatch(/^OK: the database is at aaa111/);
    expect((await run('check-orphaned-records')).stdout).toMatch(/^OK: no releases/);
    expect((await run('audit-log-consistency')).stdout).toMatch(/^OK: no audit_log table/);

    // The database ahead of what this release ships: what a rollback without its downgrade leaves.
    await setDatabaseHead(world, 'bbb222');
    const ahead = await run('verify-data-integrity');
    expect(ahead.code).toBe(1);
    expect(ahead.stdout).toMatch(
      /FAILED: the database is at bbb222, which this release \(.*v2024\.01\.14\) does not ship/,
    );

    sql(
      world,
      `create table releases (id int primary key, name text);
       create table release_deployments (id int primary key, release_id int);
       create table audit_log (id int primary key, at timestamptz not null, entry text);
       insert into releases values (1, 'v2024.01.14');
       insert into release_deployments values (10, 1), (11, 2);
       insert into audit_log values (1, '2024-01-15T14:30:00Z', 'deploy'), (2, '2024-01-15T14:20:00Z', 'rollback')`,
    );
    const orphans = await run('check-orphaned-records');
    expect(orphans.code).toBe(1);
    expect(orphans.stdout).toMatch(/FAILED: release_deployments rows with no release: 11/);
    const audit = await run('audit-log-consistency');
    expect(audit.code).toBe(1);
    expect(audit.stdout).toMatch(/FAILED: audit_log entries out of time order: 2/);
  });
});
