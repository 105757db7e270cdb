// kubectl equivalence: the same history on twin Deployments (same name, two namespaces); kubectl rolls
// one back, the engine's planUndo + patchUndo the other; target, template and annotations must match.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isCodedError } from '../../src/errors.js';
import { createKube } from '../../src/kube/create-kube.js';
import { buildHistory, planUndo } from '../../src/rollback/revisions.js';
import { deploymentYaml, eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';

const world = inject('world');
const NAME = 'twin';

// biome-ignore lint/suspicious/noExplicitAny: raw JSON from kubectl
type Raw = any;

describe('undo matches kubectl rollout undo', () => {
  afterAll(() => deleteNamespaces(world));
  const kc = new KubeConfig();
  kc.loadFromFile(world.kubeconfig);
  const kube = createKube(kc);
  let viaKubectl: string;
  let viaEngine: string;

  async function both(fn: (ns: string) => Promise<unknown>): Promise<void> {
    await Promise.all([fn(viaKubectl), fn(viaEngine)]);
  }

  /** Waits until the controller has observed the spec and stamped the revision. */
  async function settled(ns: string): Promise<Raw> {
    return eventually(`${ns}/${NAME} observed`, async () => {
      const d = JSON.parse(await kubectlOk(world, ['get', 'deployment', NAME, '-n', ns, '-o', 'json']));
      const rsList = JSON.parse(
        await kubectlOk(world, ['get', 'rs', '-n', ns, '-l', 'app=twin', '-o', 'json']),
      );
      const rev = d.metadata.annotations['deployment.kubernetes.io/revision'];
      const hasRs = rsList.items.some(
        (rs: Raw) => rs.metadata.annotations['deployment.kubernetes.io/revision'] === rev,
      );
      return d.status.observedGeneration >= d.metadata.generation && hasRs ? d : undefined;
    });
  }

  async function release(ns: string, image: string, cause: string): Promise<void> {
    await kubectlOk(world, ['set', 'image', `deployment/${NAME}`, '-n', ns, `app=${image}`]);
    await kubectlOk(world, [
      'annotate',
      `deployment/${NAME}`,
      '-n',
      ns,
      '--overwrite',
      `kubernetes.io/change-cause=${cause}`,
    ]);
    await settled(ns);
  }

  async function engineUndo(ns: string, toRevision = 0): Promise<string> {
    const d = await kube.readWorkload('Deployment', ns, NAME);
    const plan = planUndo(d, await kube.listRevisions(d), toRevision);
    if (plan.kind === 'skip') return plan.message;
    await kube.patchUndo(d, plan.patch);
    return `rolled back to ${plan.target.revision}`;
  }

  async function expectTwinsEqual(): Promise<void> {
    const [a, b] = await Promise.all([settled(viaKubectl), settled(viaEngine)]);
    // The twins differ only in their namespace, which kubectl apply wrote into last-applied-configuration.
    const norm = (x: unknown, ns: string) => JSON.parse(JSON.stringify(x).replaceAll(ns, 'NS'));
    expect(norm(b.spec.template, viaEngine)).toEqual(norm(a.spec.template, viaKubectl));
    // The gitops annotation was added late; whether the controller copied it onto a ReplicaSet depends on
    // its timing in each namespace (checked per twin in the first test), not on the undo.
    const late = (x: Record<string, string>) =>
      Object.fromEntries(Object.entries(x).filter(([k]) => !k.startsWith('gitops.')));
    expect(norm(late(b.metadata.annotations), viaEngine)).toEqual(
      norm(late(a.metadata.annotations), viaKubectl),
    );
    const [ha, hb] = await Promise.all(
      [viaKubectl, viaEngine].map(async (ns) => {
        const d = await kube.readWorkload('Deployment', ns, NAME);
        return buildHistory(d, await kube.listRevisions(d)).map((h) => [
          h.revision,
          h.images.join(','),
          h.changeCause,
          h.current,
        ]);
      }),
    );
    expect(hb).toEqual(ha);
  }

  beforeAll(async () => {
    [viaKubectl, viaEngine] = await Promise.all([
      freshNamespace(world, 'twin-kubectl'),
      freshNamespace(world, 'twin-engine'),
    ]);
    await both(async (ns) => {
      await kubectlOk(
        world,
        ['apply', '-f', '-'],
        deploymentYaml({
          namespace: ns,
          name: NAME,
          app: 'twin',
          image: 'registry.test/twin:v1',
          replicas: 2,
          changeCause: 'Release v1',
        }),
      );
      await settled(ns);
      await release(ns, 'registry.test/twin:v2', 'Release v2');
      await kubectlOk(world, [
        'annotate',
        `deployment/${NAME}`,
        '-n',
        ns,
        'gitops.example.com/synced-at=2026-01-15T14:00:00Z',
      ]);
      await release(ns, 'registry.test/twin:v3-bad', 'Release v3');
    });
  });

  it('chooses the second-highest revision, copies its template and replaces the annotations', async () => {
    // Each twin's revision 2, as it stands before the undo: the controller copies Deployment annotations
    // onto the current ReplicaSet at its own pace, so the twins' ReplicaSets may differ in the late
    // gitops annotation; the rule (annotations := target's + the kept keys) must hold for each.
    const rev2Of = async (ns: string) => {
      const d = await kube.readWorkload('Deployment', ns, NAME);
      const rs = (await kube.listRevisions(d)).find(
        (x) => x.annotations['deployment.kubernetes.io/revision'] === '2',
      );
      return { d, rs: rs! };
    };
    const [k2, e2] = await Promise.all([rev2Of(viaKubectl), rev2Of(viaEngine)]);
    const out = await kubectlOk(world, ['rollout', 'undo', `deployment/${NAME}`, '-n', viaKubectl]);
    expect(out).toContain('rolled back');
    expect(await engineUndo(viaEngine)).toBe('rolled back to 2');
    await expectTwinsEqual();
    const kept = ['kubectl.kubernetes.io/last-applied-configuration', 'deployment.kubernetes.io/revision'];
    for (const [ns, before] of [
      [viaKubectl, k2],
      [viaEngine, e2],
    ] as const) {
      const d = await kube.readWorkload('Deployment', ns, NAME);
      expect(d.annotations['kubernetes.io/change-cause']).toBe('Release v2');
      const expected = Object.fromEntries(
        Object.entries(before.rs.annotations).filter(([k]) => !k.startsWith('deployment.kubernetes.io/')),
      );
      const actual = Object.fromEntries(Object.entries(d.annotations).filter(([k]) => !kept.includes(k)));
      expect(actual, ns).toEqual(expected);
      expect(d.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe(
        before.d.annotations['kubectl.kubernetes.io/last-applied-configuration'],
      );
      const labels = (d.template.metadata as { labels: Record<string, string> }).labels;
      expect(labels['pod-template-hash']).toBeUndefined();
    }
  });

  it('after the renumbering, a default undo again picks by number (the bad revision 3), like kubectl', async () => {
    await kubectlOk(world, ['rollout', 'undo', `deployment/${NAME}`, '-n', viaKubectl]);
    expect(await engineUndo(viaEngine)).toBe('rolled back to 3');
    await expectTwinsEqual();
  });

  it('refuses a revision that was renumbered away, as kubectl does', async () => {
    const k = await kubectl(world, [
      'rollout',
      'undo',
      `deployment/${NAME}`,
      '-n',
      viaKubectl,
      '--to-revision=2',
    ]);
    expect(k.code).toBe(1);
    expect(k.stderr).toContain('unable to find specified revision 2 in history');
    const err = await engineUndo(viaEngine, 2).catch((e: unknown) => e);
    expect(isCodedError(err, 'rollback_revision_not_found')).toBe(true);
    expect((err as Error).message).toBe('unable to find specified revision 2 in history');
    await expectTwinsEqual();
  });

  it('skips when the template already matches the requested revision', async () => {
    const current = (await kube.readWorkload('Deployment', viaEngine, NAME)).annotations[
      'deployment.kubernetes.io/revision'
    ];
    const k = await kubectlOk(world, [
      'rollout',
      'undo',
      `deployment/${NAME}`,
      '-n',
      viaKubectl,
      `--to-revision=${current}`,
    ]);
    const before = await kube.readWorkload('Deployment', viaEngine, NAME);
    const msg = await engineUndo(viaEngine, Number(current));
    expect(k.trim()).toBe(`deployment.apps/${NAME} ${msg}`);
    const after = await kube.readWorkload('Deployment', viaEngine, NAME);
    expect(after.resourceVersion === before.resourceVersion || after.generation === before.generation).toBe(
      true,
    );
    expect(after.generation).toBe(before.generation);
  });

  it("refuses a paused Deployment with kubectl's message", async () => {
    await both((ns) => kubectlOk(world, ['rollout', 'pause', `deployment/${NAME}`, '-n', ns]));
    const k = await kubectl(world, ['rollout', 'undo', `deployment/${NAME}`, '-n', viaKubectl]);
    expect(k.code).toBe(1);
    const err = await engineUndo(viaEngine).catch((e: unknown) => e);
    expect(isCodedError(err, 'rollback_paused')).toBe(true);
    expect(k.stderr).toContain((err as Error).message);
    await both((ns) => kubectlOk(world, ['rollout', 'resume', `deployment/${NAME}`, '-n', ns]));
    await expectTwinsEqual();
  });

  it('does not overwrite a change made between read and patch', async () => {
    const d = await kube.readWorkload('Deployment', viaEngine, NAME);
    const plan = planUndo(d, await kube.listRevisions(d));
    if (plan.kind !== 'patch') throw new Error('expected a patch plan');
    await kubectlOk(world, [
      'set',
      'image',
      `deployment/${NAME}`,
      '-n',
      viaEngine,
      'app=registry.test/twin:v9',
    ]);
    const err = await kube.patchUndo(d, plan.patch).catch((e: unknown) => e);
    expect(isCodedError(err, 'rollback_concurrent_change')).toBe(true);
    const now = await kube.readWorkload('Deployment', viaEngine, NAME);
    const images = (now.template.spec as { containers: { image: string }[] }).containers.map((c) => c.image);
    expect(images).toEqual(['registry.test/twin:v9']);
  });

  it('reports no history for a fresh Deployment, like kubectl', async () => {
    const ns = await freshNamespace(world, 'fresh');
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      deploymentYaml({ namespace: ns, name: NAME, app: 'twin', image: 'registry.test/twin:v1', replicas: 1 }),
    );
    await settled(ns);
    const k = await kubectl(world, ['rollout', 'undo', `deployment/${NAME}`, '-n', ns]);
    const err = await engineUndo(ns).catch((e: unknown) => e);
    expect(isCodedError(err, 'rollback_no_history')).toBe(true);
    expect(k.stderr).toContain((err as Error).message);
  });
});
