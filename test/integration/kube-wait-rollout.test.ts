// The rollout wait with `act` (the undo's patch): the watch is open on the apiserver before the patch
// is sent, nothing from before the patch is evaluated (a ProgressDeadlineExceeded the undo clears does
// not fail it), and a failed patch ends the wait with its error and closes the watch. Then the engine's
// undoing step: its patch goes out with the rollout watch already open.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CodedError } from '../../src/errors.js';
import { createKube } from '../../src/kube/create-kube.js';
import { rawRequest } from '../../src/kube/raw-request.js';
import { planUndo } from '../../src/rollback/revisions.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES, NAME, setDatabaseHead, shipReleases } from '../support/releases.js';

const world = inject('world');
const RELEASES = [
  { image: IMAGES.good, cause: 'Release v2024.01.14', head: 'aaa111' },
  { image: IMAGES.bad, cause: 'Release v2024.01.15', head: 'aaa111' },
];

const kc = new KubeConfig();
kc.loadFromFile(world.kubeconfig);

/**
 * WATCH requests on one named Deployment being served now (the apiserver's own metrics; a watch with
 * `metadata.name=` counts as scope "resource"). The world's other watchers (controllers, the
 * stand-in) watch cluster-wide, and test files run one at a time.
 */
async function namedDeploymentWatches(): Promise<number> {
  const res = await rawRequest(kc, 'GET', '/metrics');
  const line = res.body
    .split('\n')
    .find(
      (l) =>
        l.startsWith('apiserver_longrunning_requests{') &&
        l.includes('resource="deployments"') &&
        l.includes('scope="resource"') &&
        l.includes('verb="WATCH"'),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('waitForRollout with act', () => {
  const kube = createKube(kc);

  let ns: string;
  beforeAll(async () => {
    ns = await freshNamespace(world, 'wait-act');
    await shipReleases(world, ns, RELEASES, { baseline: false });
    // The bad release past its progress deadline (15 s): a wait that evaluated the workload as it was
    // before the patch would fail at once.
    await eventually(
      'ProgressDeadlineExceeded',
      async () =>
        (
          await kubectlOk(world, [
            'get',
            'deployment',
            NAME,
            '-n',
            ns,
            '-o',
            'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}',
          ])
        ).includes('ProgressDeadlineExceeded'),
      60_000,
    );
  }, 120_000);
  afterAll(() => deleteNamespaces(world));

  it('opens the watch before the patch, and evaluates only what the patch caused', async () => {
    const before = await namedDeploymentWatches();
    const d = await kube.readWorkload('Deployment', ns, NAME);
    const plan = planUndo(d, await kube.listRevisions(d));
    if (plan.kind !== 'patch') throw new Error('expected an undo to patch');
    let watchingWhenActing: number | undefined;
    let patchedGeneration = 0;
    const seen: { state: string; generation: number }[] = [];
    const { status, deployment } = await kube.waitForRollout('Deployment', ns, NAME, {
      timeoutMs: 60_000,
      act: async () => {
        watchingWhenActing = await namedDeploymentWatches();
        const patched = await kube.patchUndo(d, plan.patch);
        patchedGeneration = patched.generation;
        return { generation: patched.generation, staleDeadlineBefore: new Date() };
      },
      onProgress: (s, w) => seen.push({ state: s.state, generation: w.generation }),
    });
    expect(watchingWhenActing, 'the wait had its watch open when it ran act').toBeGreaterThan(before);
    expect(status.state).toBe('done');
    expect(deployment.generation).toBe(patchedGeneration);
    expect(deployment.generation).toBeGreaterThan(d.generation);
    // Nothing of the crash-looping generation reached the caller, the expired deadline included.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((x) => x.generation >= patchedGeneration && x.state !== 'failed')).toBe(true);
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
    ).toBe(IMAGES.good);
  });

  it('ends with the error of a failed act, even one slower than the timeout, and closes its watch', async () => {
    const before = await namedDeploymentWatches();
    const refused = new CodedError(
      'rollback_concurrent_change',
      'changed by someone else; nothing was patched',
    );
    await expect(
      kube.waitForRollout('Deployment', ns, NAME, {
        // The rollout's timeout starts after act: a slow patch is never cut off by it.
        timeoutMs: 200,
        act: async () => {
          await new Promise((r) => setTimeout(r, 1000));
          throw refused;
        },
      }),
    ).rejects.toBe(refused);
    await eventually('the watch closed', async () => (await namedDeploymentWatches()) <= before, 10_000);
  });
});

describe('the undoing step', () => {
  afterAll(() => deleteNamespaces(world));
  it('sends the patch with the rollout watch already open', async () => {
    await setDatabaseHead(world, 'aaa111');
    const ns = await freshNamespace(world, 'undo-watch');
    await shipReleases(world, ns, RELEASES, { baseline: false });
    const e = createTestEngine(world, { catalog: worldCatalog(world, ns) });
    try {
      const watchesAtPatch: number[] = [];
      const patchUndo = e.kube.patchUndo.bind(e.kube);
      e.kube.patchUndo = async (d, patch, opts) => {
        if (!opts?.dryRun) watchesAtPatch.push(await namedDeploymentWatches());
        return patchUndo(d, patch, opts);
      };
      const r = await e.runner.request({
        service: 'release-manager',
        reason: 'bad release',
        actor: { kind: 'user', id: 'U0SRE00001', name: 'alice' },
      });
      await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
      const before = await namedDeploymentWatches();
      await e.runner.approve(r.id, { kind: 'user', id: 'U0SRE00002', name: 'bob' });
      const past = await e.runner.waitFor(r.id, ['verifying'], 60_000);
      expect(past.state, past.failure?.message).toBe('verifying');
      expect(watchesAtPatch).toHaveLength(1);
      expect(watchesAtPatch[0], 'a watch on the Deployment was open when the patch went out').toBeGreaterThan(
        before,
      );
      await e.runner.idle();
    } finally {
      await e.close();
    }
  });
});
