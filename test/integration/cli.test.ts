// The operator CLI as a person runs it (a separate process, env vars and the catalog file).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import type { CatalogEntry } from '../../src/config/catalog-schema.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { generationOf, IMAGES, shipReleases } from '../support/releases.js';
import { LEDGER, ledgerCatalog, shipStatefulSet } from '../support/workloads.js';

const world = inject('world');

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('rollback-bot CLI', () => {
  afterAll(() => deleteNamespaces(world));
  let ns: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    ns = await freshNamespace(world, 'cli');
    await shipReleases(world, ns, [
      { image: 'registry.test/release-manager:v2024.01.14', cause: 'Release v2024.01.14', head: 'aaa111' },
      {
        image: 'registry.test/release-manager:v2024.01.15-bad',
        cause: 'Release v2024.01.15',
        head: 'aaa111',
      },
    ]);
    await eventually('crash loop', async () =>
      (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
    );
    await shipStatefulSet(world, ns, [{ image: IMAGES.good }, { image: IMAGES.bad }]);
    // Both entries in the catalog's own form: kind and name as `workload:`.
    const asWritten = ({ name: _n, kind, deployment, ...entry }: CatalogEntry) => ({
      ...entry,
      workload: { kind, name: deployment },
    });
    const file = join(world.root, `catalog-${ns}.yaml`);
    writeFileSync(
      file,
      stringify({
        services: {
          'release-manager': asWritten(worldCatalog(world, ns).services.get('release-manager')!),
          ledger: asWritten(ledgerCatalog(world, ns).services.get(LEDGER)!),
        },
      }),
    );
    env = {
      KUBECONFIG: world.kubeconfig,
      PROMETHEUS_URL: world.prometheusUrl,
      REDIS_URL: world.redisUrl,
      CATALOG_PATH: file,
    };
  });

  it('assess prints findings, the history with the target marked, pods and error lines', async () => {
    const r = await cli(['assess', 'release-manager'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/CrashLoopBackOff/);
    expect(r.stdout).toMatch(
      /1\s+Release v2024\.01\.14\s+registry\.test\/release-manager:v2024\.01\.14\s+\S+\s+\d\/\d\s+← rollback target/,
    );
    expect(r.stdout).toMatch(/2\s+Release v2024\.01\.15\s+.*← current/);
    expect(r.stdout).toMatch(/ERROR unhandled exception/);
    expect(r.stdout).toMatch(/Target: revision 1 \(registry\.test\/release-manager:v2024\.01\.14\)/);
  });

  it('history prints the rollout history', async () => {
    const r = await cli(['history', 'release-manager'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`deployment.apps/release-manager-prod (${ns})`);
    expect(r.stdout).toMatch(/REVISION\s+CHANGE-CAUSE\s+IMAGE/);
  });

  it('undo --dry-run shows the change the apiserver accepted, and changes nothing', async () => {
    const before = await generationOf(world, ns);
    const r = await cli(['undo', 'release-manager', '--dry-run'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would be rolled back to revision 1 (server dry run)');
    expect(r.stdout).toContain(
      'registry.test/release-manager:v2024.01.15-bad → registry.test/release-manager:v2024.01.14',
    );
    expect(r.stdout).toContain('kubernetes.io/change-cause: Release v2024.01.15 → Release v2024.01.14');
    expect(await generationOf(world, ns)).toBe(before);
  });

  it('history and undo --dry-run of a StatefulSet use its ControllerRevisions and a strategic merge patch', async () => {
    const history = await cli(['history', LEDGER], env);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain(`statefulset.apps/${LEDGER} (${ns})`);
    expect(history.stdout).toMatch(
      /^1\s+Release v2024\.01\.14\s+registry\.test\/release-manager:v2024\.01\.14/m,
    );
    expect(history.stdout).toMatch(/^2\s+Release v2024\.01\.15-bad\s+\S+-bad\s.*← current/m);
    const generation = async () =>
      Number(
        await kubectlOk(world, [
          'get',
          'statefulset',
          LEDGER,
          '-n',
          ns,
          '-o',
          'jsonpath={.metadata.generation}',
        ]),
      );
    const before = await generation();
    const undo = await cli(['undo', LEDGER, '--dry-run'], env);
    expect(undo.code, undo.stderr).toBe(0);
    expect(undo.stdout).toContain(
      `statefulset.apps/${LEDGER} would be rolled back to revision 1 (server dry run)`,
    );
    expect(undo.stdout).toContain(`${IMAGES.bad} → ${IMAGES.good}`);
    // A StatefulSet's undo leaves its annotations alone (kubectl's StatefulSetRollbacker).
    expect(undo.stdout).toContain('annotations: unchanged');
    expect(await generation()).toBe(before);
  });

  it('refuses bad input with one clear line and exit code 1', async () => {
    const unknown = await cli(['assess', 'release-manger'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      'error: unknown service "release-manger" Did you mean `release-manager`?',
    );
    const badRev = await cli(['undo', 'release-manager', '--dry-run', '--to-revision=abc'], env);
    expect(badRev.stderr).toContain('error: "abc" is not a revision number');
    const real = await cli(['undo', 'release-manager'], env);
    expect(real.stderr).toContain('only previews an undo');
    const noRedis = await cli(['status'], { ...env, REDIS_URL: '' });
    expect(noRedis.stderr).toContain('env.REDIS_URL: required');
  });

  it("status lists recorded rollbacks from the bot's store", async () => {
    // A dry-run rollback recorded under the bot's default key prefix, as the running bot would.
    const e = createTestEngine(world, { catalog: worldCatalog(world, ns), prefix: 'rb:' });
    const req = await e.runner.request({
      service: 'release-manager',
      dryRun: true,
      reason: 'cli status check',
      actor: { kind: 'user', id: 'U0SRE00001', name: 'alice' },
    });
    await e.runner.waitFor(req.id, ['completed'], 60_000);
    await e.runner.idle();
    await e.close();
    const r = await cli(['status', 'release-manager'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `${req.id.slice(0, 8)}\\s+release-manager\\s+completed\\s+alice\\s+\\d+s\\s+rev 1\\s+cli status check`,
      ),
    );
  });

  it('unlock refuses a live rollback, frees a lock whose record is gone, and audits who did it', async () => {
    const e = createTestEngine(world, { catalog: worldCatalog(world, ns), prefix: 'rb:' });
    try {
      const live = await e.runner.request({
        service: 'release-manager',
        reason: 'hold the lock',
        actor: { kind: 'user', id: 'U0SRE00001', name: 'alice' },
      });
      await e.runner.waitFor(live.id, ['awaiting_approval'], 60_000);
      const refused = await cli(['unlock', 'release-manager'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`held by rollback ${live.id}, which is awaiting approval`);
      expect(await e.store.holderOf(ns, 'release-manager-prod')).toBe(live.id);

      // The record is lost (a flushed Redis, a retention gone wrong): nothing would ever free the lock.
      await e.redis.del(`rb:r:${live.id}`);
      const freed = await cli(['unlock', 'release-manager', '--by=carol'], env);
      expect(freed.code, freed.stderr).toBe(0);
      expect(freed.stdout).toContain(`its rollback record ${live.id} is gone`);
      expect(await e.store.holderOf(ns, 'release-manager-prod')).toBeUndefined();
      const audit = await e.redis.xrevrange('rb:audit', '+', '-', 'COUNT', 1);
      expect(JSON.parse(audit[0]?.[1][1] ?? '{}')).toMatchObject({
        action: 'unlock',
        lock: `${ns}/release-manager-prod`,
        holder: live.id,
        by: 'carol',
      });
      const again = await cli(['unlock', 'release-manager'], env);
      expect(again.stdout).toContain('is not locked; nothing to do');
    } finally {
      await e.runner.idle();
      await e.close();
    }
  });
});
