// What goes wrong: a rollback onto a revision that is bad too, bad input, and sources that are down.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isCodedError } from '../../src/errors.js';
import { assess } from '../../src/rollback/assess.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { deploymentYaml, eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { errorRatioAbove, generationOf, NAME, setDatabaseHead, shipReleases } from '../support/releases.js';

const world = inject('world');
const ALICE = { kind: 'user' as const, id: 'U0SRE00001', name: 'alice' };
const BOB = { kind: 'user' as const, id: 'U0SRE00002', name: 'bob' };

describe('rollback engine: failures', () => {
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

  it('ends failed, with the failing checks and their evidence in the report, when the target is bad too', async () => {
    const ns = await freshNamespace(world, 'alsobad');
    await setDatabaseHead(world, 'aaa111');
    await shipReleases(world, ns, [
      { image: 'registry.test/release-manager:v1', cause: 'Release v1', head: 'aaa111' },
      { image: 'registry.test/release-manager:v2-degraded', cause: 'Release v2', head: 'aaa111' },
      { image: 'registry.test/release-manager:v3-bad', cause: 'Release v3', head: 'aaa111' },
    ]);
    // Enough traffic history that the error ratio is a measurement, not noise from a brand-new series.
    await errorRatioAbove(world, ns, 0.05);
    const e = engine(world, { catalog: worldCatalog(world, ns, (svc) => (svc.verify.settleSeconds = 20)) });
    const r = await e.runner.request({ service: 'release-manager', reason: 'v3 crash-loops', actor: ALICE });
    const waiting = await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    expect(waiting.assessment?.target?.images).toEqual(['registry.test/release-manager:v2-degraded']);
    await e.runner.approve(r.id, BOB);
    const done = await e.runner.waitFor(
      r.id,
      ['completed', 'failed', 'awaiting_migration_approval'],
      120_000,
    );
    expect(done.state, JSON.stringify(done.migrationGate)).toBe('failed');
    const failed = done.verification!.checks.filter((c) => !c.passed);
    expect(failed.map((c) => c.name)).toEqual(
      expect.arrayContaining(['/health', 'error rate', 'smoke: api responds']),
    );
    const health = failed.find((c) => c.name === '/health')!;
    expect(health.evidence.value).toMatch(/HTTP 503/);
    const er = failed.find((c) => c.name === 'error rate')!;
    expect(Number.parseFloat(er.evidence.value)).toBeGreaterThan(1);
    expect(done.report).toContain('Verification FAILED');
    expect(done.report).toContain('| /health | **FAIL** | HTTP 503');
    expect(done.report).toContain('P1 - Rollback did not restore service health');
    expect(
      await eventually('failure reported', async () =>
        e.notifier.notices.some((n) => n.kind === 'finished' && n.state === 'failed'),
      ),
    ).toBe(true);
  }, 180_000);

  it('refuses bad input with coded errors and writes nothing', async () => {
    const ns = await freshNamespace(world, 'input');
    await shipReleases(world, ns, [
      { image: 'registry.test/release-manager:v1', cause: 'Release v1', head: 'aaa111' },
      { image: 'registry.test/release-manager:v2', cause: 'Release v2', head: 'aaa111' },
    ]);
    const e = engine(world, { catalog: worldCatalog(world, ns) });
    const gen = await generationOf(world, ns);
    const attempt = (input: Partial<Parameters<typeof e.runner.request>[0]>) =>
      e.runner.request({ service: 'release-manager', reason: 'test', actor: ALICE, ...input }).then(
        () => undefined,
        (err: unknown) => err,
      );

    const unknown = await attempt({ service: 'release-manger' });
    expect(isCodedError(unknown, 'rollback_unknown_service')).toBe(true);
    expect((unknown as { remedy: string }).remedy).toContain('`release-manager`');

    const text = await attempt({ toRevision: Number('eight') });
    expect(isCodedError(text, 'rollback_bad_revision')).toBe(true);
    const negative = await attempt({ toRevision: -1 });
    expect(isCodedError(negative, 'rollback_bad_revision')).toBe(true);

    const missing = await attempt({ toRevision: 99 });
    expect(isCodedError(missing, 'rollback_revision_not_found')).toBe(true);
    expect((missing as Error).message).toBe('unable to find specified revision 99 in history');

    expect(await e.store.listRecent(10)).toEqual([]);
    expect(await e.store.holderOf(ns, NAME)).toBeUndefined();
    expect(await generationOf(world, ns)).toBe(gen);
  });

  it('completes the assessment with Prometheus down, marking metrics unavailable', async () => {
    const ns = await freshNamespace(world, 'promdown');
    await shipReleases(world, ns, [
      { image: 'registry.test/release-manager:v1', cause: 'Release v1', head: 'aaa111' },
      { image: 'registry.test/release-manager:v2-bad', cause: 'Release v2', head: 'aaa111' },
    ]);
    const e = engine(world, { catalog: worldCatalog(world, ns), prometheusUrl: 'http://127.0.0.1:9' });
    const svc = e.deps.catalog.services.get('release-manager')!;
    const a = await assess(
      { kube: e.kube, observe: e.deps.observe, now: () => new Date(), sourceTimeoutMs: 5000 },
      svc,
      0,
    );
    expect(a.metrics.ok).toBe(false);
    expect(!a.metrics.ok && a.metrics.unavailable).toMatch(/Prometheus unreachable/);
    expect(a.findings.join('\n')).toMatch(/metrics unavailable: Prometheus unreachable/);
    expect(a.target?.revision).toBe(1);
    expect(a.pods.ok && a.deployment.ok && a.history.ok).toBe(true);
  });

  it('completes the assessment of a Deployment with no ReplicaSets, marking the target unavailable', async () => {
    const ns = await freshNamespace(world, 'nors');
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      deploymentYaml({
        namespace: ns,
        name: NAME,
        app: 'release-manager',
        image: 'registry.test/release-manager:v1',
        paused: true,
      }),
    );
    const e = engine(world, { catalog: worldCatalog(world, ns) });
    const svc = e.deps.catalog.services.get('release-manager')!;
    const a = await eventually('assessment', () =>
      assess({ kube: e.kube, observe: e.deps.observe, now: () => new Date(), sourceTimeoutMs: 5000 }, svc, 0),
    );
    expect(a.deployment.ok).toBe(true);
    expect(a.history.ok && a.history.value).toEqual([]);
    expect(a.target).toBeUndefined();
    expect(a.targetError?.code).toBe('rollback_no_history');
    expect(a.findings.join('\n')).toMatch(/no target: no rollout history found/);
    expect(a.pods.ok && a.pods.value).toEqual([]);
  });

  it('measures the error ratio for the assessment while a bad release is live', async () => {
    const ns = await freshNamespace(world, 'ratio');
    await shipReleases(world, ns, [
      { image: 'registry.test/release-manager:v1', cause: 'Release v1', head: 'aaa111' },
    ]);
    // Let v1 serve for longer than the 15 s rate window, so there is a baseline to read.
    await new Promise((r) => setTimeout(r, 20_000));
    await kubectlOk(world, [
      'set',
      'image',
      `deployment/${NAME}`,
      '-n',
      ns,
      'app=registry.test/release-manager:v2-bad',
    ]);
    const live = await errorRatioAbove(world, ns, 0.05);
    const e = engine(world, { catalog: worldCatalog(world, ns) });
    const svc = e.deps.catalog.services.get('release-manager')!;
    const a = await assess(
      { kube: e.kube, observe: e.deps.observe, now: () => new Date(), sourceTimeoutMs: 5000 },
      svc,
      0,
    );
    expect(a.metrics.ok && a.metrics.value.errorRatio).toBeGreaterThan(0.05);
    expect(a.metrics.ok && a.metrics.value.errorRatio).toBeLessThan(live + 0.05);
    // The baseline is read from just before revision 2 existed, when v1 served no errors.
    expect(a.metrics.ok && a.metrics.value.baselineErrorRatio).toBe(0);
    expect(a.metrics.ok && a.metrics.value.baselineP99Seconds).toBeLessThan(0.2);
    expect(a.findings.join('\n')).toMatch(
      /error rate \d+\.\d% \(baseline 0\.0%\) — above the 5\.0% threshold/,
    );
  });
});
