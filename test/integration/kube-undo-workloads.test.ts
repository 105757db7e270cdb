// kubectl equivalence for StatefulSets and DaemonSets: twin workloads (same name, same release history,
// two namespaces); the world's kubectl rolls one back, planUndo + patchUndo the other. Their templates,
// annotations and ControllerRevisions (names, numbers, annotations; `kubectl rollout history`) must
// match, and so must the messages. rolloutStatus must say what `kubectl rollout status` says, and be
// done exactly when it exits 0, whenever both looked at the same resourceVersion.
//
// One StatefulSet and one DaemonSet share a namespace and a selector (app=twin): each one's history is
// only the revisions it controls. Their templates have labels out of order, a quantity the apiserver
// rewrites (0.5 → 500m), characters Go's encoder escapes and fields the apiserver defaults, so that
// the skip check (kubectl compares bytes) is tried where a naive comparison would go wrong.
import { isDeepStrictEqual } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isCodedError } from '../../src/errors.js';
import { createKube } from '../../src/kube/create-kube.js';
import { buildHistory, jsonEqual, planUndo } from '../../src/rollback/revisions.js';
import { type RolloutStatus, rolloutStatus } from '../../src/rollback/rollout-status.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';

const world = inject('world');
const NAME = 'twin';

// biome-ignore lint/suspicious/noExplicitAny: raw JSON from kubectl
type Raw = any;
type Kind = 'StatefulSet' | 'DaemonSet';

const RESOURCE: Record<Kind, string> = { StatefulSet: 'statefulset', DaemonSet: 'daemonset' };

interface WorkloadSpec {
  kind: Kind;
  namespace: string;
  name: string;
  image: string;
  changeCause: string;
  /** StatefulSet only (default 2). */
  replicas?: number;
  /** A partition, `bare` (type RollingUpdate without rollingUpdate), OnDelete, or the API's default. */
  strategy?: { partition: number } | 'bare' | 'OnDelete';
}

/** The world's StatefulSets and DaemonSets (local on purpose: shared helpers are being added elsewhere). */
function workloadYaml(o: WorkloadSpec): string {
  const app = o.name === NAME ? 'twin' : o.name;
  const role = o.kind === 'StatefulSet' ? 'db' : 'agent';
  const strategy =
    o.strategy === 'OnDelete'
      ? '\n  updateStrategy: {type: OnDelete}'
      : o.strategy === 'bare'
        ? '\n  updateStrategy: {type: RollingUpdate}'
        : o.strategy
          ? `\n  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {partition: ${o.strategy.partition}}`
          : '';
  const stsOnly =
    o.kind === 'StatefulSet'
      ? `\n  replicas: ${o.replicas ?? 2}\n  serviceName: ${o.name}\n  podManagementPolicy: Parallel`
      : '';
  // No tolerations: the world's one KWOK node has no taints (cluster.ts waits until it is untainted).
  return `apiVersion: apps/v1
kind: ${o.kind}
metadata:
  name: ${o.name}
  namespace: ${o.namespace}
  labels: {app: ${app}}
  annotations:
    kubernetes.io/change-cause: ${JSON.stringify(o.changeCause)}
spec:${stsOnly}
  revisionHistoryLimit: 10
  selector:
    matchLabels: {app: ${app}}${strategy}
  template:
    metadata:
      labels: {role: ${role}, app: ${app}}
      annotations: {note: "café <b> & ✓"}
    spec:
      containers:
      - name: app
        image: ${o.image}
        ports: [{containerPort: 8080}]
        env: [{name: GREETING, value: "a<b&c>"}]
        resources: {requests: {cpu: "0.5", memory: 64Mi}}
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 5
          failureThreshold: 2
`;
}

const getJson = async (args: string[]): Promise<Raw> =>
  JSON.parse(await kubectlOk(world, [...args, '-o', 'json']));

interface Settled {
  w: Raw;
  /** The ControllerRevisions the workload controls, by revision. */
  revisions: Raw[];
}

/**
 * Waits until the controller has observed the spec and its newest revision is the template's (it has
 * created or renumbered it); a StatefulSet's status must also name it. Read with kubectl only.
 */
function settled(kind: Kind, ns: string, name: string): Promise<Settled> {
  return eventually(`${kind} ${ns}/${name} settled`, async () => {
    const w = await getJson(['get', RESOURCE[kind], name, '-n', ns]);
    const list = await getJson(['get', 'controllerrevisions', '-n', ns]);
    const revisions = list.items
      .filter((cr: Raw) =>
        (cr.metadata.ownerReferences ?? []).some((o: Raw) => o.controller && o.uid === w.metadata.uid),
      )
      .sort((a: Raw, b: Raw) => a.revision - b.revision);
    const top = revisions.at(-1);
    if (!top || !w.status?.observedGeneration || w.status.observedGeneration < w.metadata.generation) return;
    const { $patch: _replace, ...template } = top.data.spec.template;
    if (!isDeepStrictEqual(template, w.spec.template)) return;
    if (kind === 'StatefulSet' && w.status.updateRevision !== top.metadata.name) return;
    return { w, revisions };
  });
}

async function rolledOut(kind: Kind, ns: string, name: string): Promise<void> {
  await kubectlOk(world, ['rollout', 'status', `${RESOURCE[kind]}/${name}`, '-n', ns, '--timeout=120s']);
}

async function release(o: WorkloadSpec): Promise<Settled> {
  await kubectlOk(world, ['apply', '-f', '-'], workloadYaml(o));
  return settled(o.kind, o.namespace, o.name);
}

const revisionNumbers = (s: Settled): number[] => s.revisions.map((r: Raw) => r.revision);

describe('StatefulSet and DaemonSet undo match kubectl rollout undo', () => {
  afterAll(() => deleteNamespaces(world));
  const kc = new KubeConfig();
  kc.loadFromFile(world.kubeconfig);
  const kube = createKube(kc);
  let viaKubectl: string;
  let viaEngine: string;

  async function engineUndo(kind: Kind, ns: string, toRevision = 0, name = NAME): Promise<string> {
    const w = await kube.readWorkload(kind, ns, name);
    const plan = planUndo(w, await kube.listRevisions(w), toRevision);
    if (plan.kind === 'skip') return plan.message;
    await kube.patchUndo(w, plan.patch);
    return `rolled back to ${plan.target.revision}`;
  }

  async function kubectlUndo(kind: Kind, ns: string, toRevision = 0, name = NAME) {
    const args = ['rollout', 'undo', `${RESOURCE[kind]}/${name}`, '-n', ns];
    return kubectl(world, toRevision ? [...args, `--to-revision=${toRevision}`] : args);
  }

  /** Both twins settled and equal; returns the engine twin's state. */
  async function expectTwinsEqual(kind: Kind, name = NAME): Promise<Settled> {
    const [a, b] = await Promise.all([settled(kind, viaKubectl, name), settled(kind, viaEngine, name)]);
    // The twins differ only in their namespace, which kubectl apply wrote into last-applied-configuration.
    const norm = (x: unknown, ns: string) => JSON.parse(JSON.stringify(x ?? null).replaceAll(ns, 'NS'));
    expect(norm(b.w.spec.template, viaEngine)).toEqual(norm(a.w.spec.template, viaKubectl));
    expect(norm(b.w.metadata.annotations, viaEngine)).toEqual(norm(a.w.metadata.annotations, viaKubectl));
    const crs = (s: Settled, ns: string) =>
      s.revisions.map((r: Raw) => [r.metadata.name, r.revision, norm(r.metadata.annotations, ns)]);
    expect(crs(b, viaEngine)).toEqual(crs(a, viaKubectl));
    if (kind === 'StatefulSet') {
      expect(b.w.status.updateRevision).toBe(a.w.status.updateRevision);
    }
    const res = `${RESOURCE[kind]}/${name}`;
    const [ha, hb] = await Promise.all(
      [viaKubectl, viaEngine].map((ns) => kubectlOk(world, ['rollout', 'history', res, '-n', ns])),
    );
    expect(hb).toBe(ha);
    // Our history over the engine twin is kubectl's table: revision and change-cause, ascending.
    const table = (hb ?? '')
      .split('\n')
      .map((l) => /^(\d+)\s+(.*?)\s*$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [Number(m[1]), m[2]]);
    const w = await kube.readWorkload(kind, viaEngine, name);
    const ours = buildHistory(w, await kube.listRevisions(w));
    expect(ours.map((h) => [h.revision, h.changeCause ?? '<none>'])).toEqual(table);
    expect(ours.filter((h) => h.current).map((h) => h.revision)).toEqual([revisionNumbers(b).at(-1)]);
    return b;
  }

  /**
   * rolloutStatus against `kubectl rollout status` at one resourceVersion: the same message as
   * `--watch=false`, and done exactly when a watching kubectl with a 1 s timeout exits 0. A read
   * before and after both kubectl calls proves nothing moved in between; otherwise try again.
   */
  async function statusAgrees(kind: Kind, ns: string, name: string): Promise<RolloutStatus> {
    const res = `${RESOURCE[kind]}/${name}`;
    for (let attempt = 0; attempt < 30; attempt++) {
      const before = await kube.readWorkload(kind, ns, name);
      const once = await kubectl(world, ['rollout', 'status', res, '-n', ns, '--watch=false']);
      const watched = await kubectl(world, ['rollout', 'status', res, '-n', ns, '--timeout=1s']);
      const after = await kube.readWorkload(kind, ns, name);
      if (before.resourceVersion !== after.resourceVersion) continue;
      const ours = rolloutStatus(before);
      expect(once.code, once.stderr).toBe(0);
      expect(ours.message).toBe(once.stdout.trim());
      expect(watched.code === 0, `${watched.stdout}${watched.stderr}`).toBe(ours.state === 'done');
      return ours;
    }
    throw new Error(`${ns}/${name} never held still for two kubectl calls`);
  }

  /** Waits until our status says `state`, then checks kubectl agrees. */
  async function statusSettlesAt(
    kind: Kind,
    ns: string,
    name: string,
    state: RolloutStatus['state'],
    message: string | RegExp,
  ): Promise<RolloutStatus> {
    await eventually(`${ns}/${name} ${state}`, async () => {
      const s = rolloutStatus(await kube.readWorkload(kind, ns, name));
      return (
        s.state === state && (typeof message === 'string' ? s.message === message : message.test(s.message))
      );
    });
    const s = await statusAgrees(kind, ns, name);
    expect(s.state).toBe(state);
    return s;
  }

  const podHashes = async (ns: string, app: string): Promise<Record<string, string>> => {
    const pods = await getJson(['get', 'pods', '-n', ns, '-l', `app=${app}`]);
    return Object.fromEntries(
      pods.items
        .filter((p: Raw) => !p.metadata.deletionTimestamp)
        .map((p: Raw) => [p.metadata.name, p.metadata.labels['controller-revision-hash']]),
    );
  };

  beforeAll(async () => {
    [viaKubectl, viaEngine] = await Promise.all([
      freshNamespace(world, 'wl-kubectl'),
      freshNamespace(world, 'wl-engine'),
    ]);
    // The same three releases (the third bad) of both kinds, in both namespaces.
    await Promise.all(
      [viaKubectl, viaEngine].flatMap((namespace) =>
        (['StatefulSet', 'DaemonSet'] as const).map(async (kind) => {
          for (const [image, changeCause] of [
            ['registry.test/twin:v1', 'Release v1'],
            ['registry.test/twin:v2', 'Release v2'],
            ['registry.test/twin:v3-bad', 'Release v3'],
          ] as const) {
            await release({ kind, namespace, name: NAME, image, changeCause });
          }
        }),
      ),
    );
  });

  describe.each(['StatefulSet', 'DaemonSet'] as const)('%s twins', (kind) => {
    const res = RESOURCE[kind];

    it('a default undo restores the second-highest revision, as kubectl, and leaves annotations alone', async () => {
      expect(revisionNumbers(await expectTwinsEqual(kind))).toEqual([1, 2, 3]);
      const k = await kubectlUndo(kind, viaKubectl);
      expect(k.stdout.trim(), k.stderr).toBe(`${res}.apps/${NAME} rolled back`);
      expect(await engineUndo(kind, viaEngine)).toBe('rolled back to 2');
      await Promise.all([rolledOut(kind, viaKubectl, NAME), rolledOut(kind, viaEngine, NAME)]);
      const after = await expectTwinsEqual(kind);
      // Revision 2 was renumbered to the top; unlike a Deployment's undo, the workload's own
      // annotations are not replaced by the revision's.
      expect(revisionNumbers(after)).toEqual([1, 3, 4]);
      expect(after.w.metadata.annotations['kubernetes.io/change-cause']).toBe('Release v3');
      expect(after.revisions.at(-1).metadata.annotations['kubernetes.io/change-cause']).toBe('Release v2');
    });

    it('a second default undo goes back to the bad revision: its number 3 disappears and reappears as 5', async () => {
      const before = await expectTwinsEqual(kind);
      const three = before.revisions.find((r: Raw) => r.revision === 3).metadata.name;
      const k = await kubectlUndo(kind, viaKubectl);
      expect(k.code, k.stderr).toBe(0);
      expect(await engineUndo(kind, viaEngine)).toBe('rolled back to 3');
      const after = await expectTwinsEqual(kind);
      expect(revisionNumbers(after)).toEqual([1, 4, 5]);
      expect(after.revisions.at(-1).metadata.name).toBe(three);
    });

    it('--to-revision restores that revision', async () => {
      const k = await kubectlUndo(kind, viaKubectl, 4);
      expect(k.stdout.trim(), k.stderr).toBe(`${res}.apps/${NAME} rolled back`);
      expect(await engineUndo(kind, viaEngine, 4)).toBe('rolled back to 4');
      await Promise.all([rolledOut(kind, viaKubectl, NAME), rolledOut(kind, viaEngine, NAME)]);
      expect(revisionNumbers(await expectTwinsEqual(kind))).toEqual([1, 5, 6]);
    });

    it('refuses a revision renumbered away, or a negative one, with kubectl’s message', async () => {
      for (const toRevision of [4, -1]) {
        const k = await kubectlUndo(kind, viaKubectl, toRevision);
        expect(k.code).toBe(1);
        const err = await engineUndo(kind, viaEngine, toRevision).catch((e: unknown) => e);
        expect(isCodedError(err, 'rollback_revision_not_found')).toBe(true);
        expect((err as Error).message).toBe(`unable to find specified revision ${toRevision} in history`);
        expect(k.stderr).toContain(`error: ${(err as Error).message}\n`);
      }
      expect(revisionNumbers(await expectTwinsEqual(kind))).toEqual([1, 5, 6]);
    });

    it('skips the current revision with kubectl’s message, the template as the apiserver defaulted it', async () => {
      const before = await kube.readWorkload(kind, viaEngine, NAME);
      const k = await kubectlUndo(kind, viaKubectl, 6);
      const msg = await engineUndo(kind, viaEngine, 6);
      expect(msg).toBe('skipped rollback (current template already matches revision 6)');
      expect(k.stdout.trim(), k.stderr).toBe(`${res}.apps/${NAME} ${msg}`);
      const after = await kube.readWorkload(kind, viaEngine, NAME);
      expect(after.generation).toBe(before.generation);
      expect(revisionNumbers(await expectTwinsEqual(kind))).toEqual([1, 5, 6]);
    });

    it('a server dry run patches nothing', async () => {
      const k = await kubectl(world, [
        'rollout',
        'undo',
        `${res}/${NAME}`,
        '-n',
        viaKubectl,
        '--dry-run=server',
      ]);
      expect(k.stdout.trim(), k.stderr).toBe(`${res}.apps/${NAME} rolled back (server dry run)`);
      const before = await settled(kind, viaEngine, NAME);
      const w = await kube.readWorkload(kind, viaEngine, NAME);
      const plan = planUndo(w, await kube.listRevisions(w));
      if (plan.kind !== 'patch') throw new Error('expected a patch plan');
      expect(plan.target.revision).toBe(5);
      const answer = await kube.patchUndo(w, plan.patch, { dryRun: true });
      // The server did evaluate the patch: its answer carries the target's template…
      expect(jsonEqual(answer.template, plan.target.replicaSet.template)).toBe(true);
      // …and stored nothing.
      const after = await settled(kind, viaEngine, NAME);
      expect(after.w.metadata.generation).toBe(before.w.metadata.generation);
      expect(after.w.spec.template).toEqual(before.w.spec.template);
      expect(after.revisions.map((r: Raw) => [r.metadata.name, r.revision])).toEqual(
        before.revisions.map((r: Raw) => [r.metadata.name, r.revision]),
      );
      expect(revisionNumbers(await expectTwinsEqual(kind))).toEqual([1, 5, 6]);
    });

    it('does not overwrite a change made between plan and patch', async () => {
      const w = await kube.readWorkload(kind, viaEngine, NAME);
      const plan = planUndo(w, await kube.listRevisions(w));
      if (plan.kind !== 'patch') throw new Error('expected a patch plan');
      await kubectlOk(world, [
        'set',
        'image',
        `${res}/${NAME}`,
        '-n',
        viaEngine,
        'app=registry.test/twin:v9',
      ]);
      const err = await kube.patchUndo(w, plan.patch).catch((e: unknown) => e);
      expect(isCodedError(err, 'rollback_concurrent_change'), String(err)).toBe(true);
      const now = await settled(kind, viaEngine, NAME);
      expect(now.w.metadata.generation).toBe(w.generation + 1);
      expect(now.w.spec.template.spec.containers.map((c: Raw) => c.image)).toEqual(['registry.test/twin:v9']);
      expect(revisionNumbers(now)).toEqual([1, 5, 6, 7]);
    });
  });

  it('reports no last revision for a workload with one revision, as kubectl does', async () => {
    const ns = await freshNamespace(world, 'wl-fresh');
    for (const kind of ['StatefulSet', 'DaemonSet'] as const) {
      const one = await release({
        kind,
        namespace: ns,
        name: NAME,
        image: 'registry.test/twin:v1',
        changeCause: 'v1',
      });
      expect(revisionNumbers(one)).toEqual([1]);
      const k = await kubectlUndo(kind, ns);
      expect(k.code).toBe(1);
      const err = await engineUndo(kind, ns).catch((e: unknown) => e);
      expect(isCodedError(err, 'rollback_no_history')).toBe(true);
      expect((err as Error).message).toBe('no last revision to roll back to');
      expect(k.stderr).toContain(`error: ${(err as Error).message}\n`);
    }
  });

  it('our one deviation in the skip check: data in another key order is skipped, where kubectl sends a no-op patch', async () => {
    // kubectl compares bytes; the controllers always write Go's canonical encoding (sorted keys), so
    // only a revision written by hand can differ from the template in bytes but not in value.
    const ns = await freshNamespace(world, 'wl-handmade');
    const one = await release({
      kind: 'StatefulSet',
      namespace: ns,
      name: 'hm',
      replicas: 1,
      image: 'registry.test/twin:v1',
      changeCause: 'v1',
    });
    const reversed = (o: Raw): Raw =>
      o && typeof o === 'object' && !Array.isArray(o)
        ? Object.fromEntries(
            Object.entries(o)
              .reverse()
              .map(([k, v]) => [k, reversed(v)]),
          )
        : o;
    const handmade = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name: 'hm-handmade',
        namespace: ns,
        labels: { app: 'hm' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'StatefulSet',
            name: 'hm',
            uid: one.w.metadata.uid,
            controller: true,
          },
        ],
      },
      revision: 50,
      data: reversed(one.revisions[0].data),
    };
    const path = `/apis/apps/v1/namespaces/${ns}/controllerrevisions`;
    await kubectlOk(world, ['create', '--raw', path, '-f', '-'], JSON.stringify(handmade));
    const stored = await kubectlOk(world, ['get', '--raw', `${path}/hm-handmade`]);
    expect(stored).toContain('"data":{"spec":{"template":{"spec":'); // the apiserver kept our key order
    const before = await kube.readWorkload('StatefulSet', ns, 'hm');
    const k = await kubectlUndo('StatefulSet', ns, 50, 'hm');
    expect(k.stdout.trim(), k.stderr).toBe('statefulset.apps/hm rolled back');
    expect(await engineUndo('StatefulSet', ns, 50, 'hm')).toBe(
      'skipped rollback (current template already matches revision 50)',
    );
    // kubectl's patch changed nothing: the same generation and template either way.
    const after = await kube.readWorkload('StatefulSet', ns, 'hm');
    expect(after.generation).toBe(before.generation);
    expect(jsonEqual(after.template, before.template)).toBe(true);
  });

  it('a partition holds back low ordinals; status is done exactly when kubectl rollout status exits 0', async () => {
    const part = (namespace: string, image: string, changeCause: string, partition: number) =>
      release({
        kind: 'StatefulSet',
        namespace,
        name: 'part',
        replicas: 3,
        image,
        changeCause,
        strategy: { partition },
      });
    const both = (fn: (ns: string) => Promise<unknown>) => Promise.all([viaKubectl, viaEngine].map(fn));
    const complete = (n: number) => `partitioned roll out complete: ${n} new pods have been updated...`;

    await both((ns) => part(ns, 'registry.test/twin:v1', 'Release v1', 0));
    await both((ns) => statusSettlesAt('StatefulSet', ns, 'part', 'done', complete(3)));
    // Partition 2: only ordinal 2 takes v2; 0 and 1 stay on revision 1, and the roll out is complete.
    await both((ns) => part(ns, 'registry.test/twin:v2', 'Release v2', 2));
    await both((ns) => statusSettlesAt('StatefulSet', ns, 'part', 'done', complete(1)));
    const s = await expectTwinsEqual('StatefulSet', 'part');
    const [r1, r2] = s.revisions.map((r: Raw) => r.metadata.name);
    expect(await podHashes(viaEngine, 'part')).toEqual({ 'part-0': r1, 'part-1': r1, 'part-2': r2 });
    // A bad v3 on ordinal 2: waiting, and kubectl's watch times out.
    await both((ns) => part(ns, 'registry.test/twin:v3-bad', 'Release v3', 2));
    await both((ns) =>
      statusSettlesAt('StatefulSet', ns, 'part', 'waiting', 'Waiting for 1 pods to be ready...'),
    );
    // The undo puts ordinal 2 back on v2; the partition still holds 0 and 1 on revision 1.
    const k = await kubectlUndo('StatefulSet', viaKubectl, 0, 'part');
    expect(k.code, k.stderr).toBe(0);
    expect(await engineUndo('StatefulSet', viaEngine, 0, 'part')).toBe('rolled back to 2');
    await both((ns) => statusSettlesAt('StatefulSet', ns, 'part', 'done', complete(1)));
    const after = await expectTwinsEqual('StatefulSet', 'part');
    expect(revisionNumbers(after)).toEqual([1, 3, 4]);
    expect(await podHashes(viaEngine, 'part')).toEqual({ 'part-0': r1, 'part-1': r1, 'part-2': r2 });
  });

  it('without rollingUpdate, status waits for updateRevision to become currentRevision, as kubectl', async () => {
    const bare = (image: string) =>
      release({
        kind: 'StatefulSet',
        namespace: viaEngine,
        name: 'bare',
        image,
        changeCause: image,
        strategy: 'bare',
      });
    const first = await bare('registry.test/twin:v1');
    expect(first.w.spec.updateStrategy).toEqual({ type: 'RollingUpdate' });
    const r1 = first.revisions[0].metadata.name;
    await statusSettlesAt(
      'StatefulSet',
      viaEngine,
      'bare',
      'done',
      `statefulset rolling update complete 2 pods at revision ${r1}...`,
    );
    await bare('registry.test/twin:v2-bad');
    await statusSettlesAt('StatefulSet', viaEngine, 'bare', 'waiting', 'Waiting for 1 pods to be ready...');
    expect(await engineUndo('StatefulSet', viaEngine, 0, 'bare')).toBe('rolled back to 1');
    await statusSettlesAt(
      'StatefulSet',
      viaEngine,
      'bare',
      'done',
      `statefulset rolling update complete 2 pods at revision ${r1}...`,
    );
  });

  it('OnDelete, which kubectl refuses to watch, is done once every pod is re-created on the update revision', async () => {
    const ns = viaEngine;
    const refused = async (kind: Kind, name: string) => {
      const k = await kubectl(world, [
        'rollout',
        'status',
        `${RESOURCE[kind]}/${name}`,
        '-n',
        ns,
        '--watch=false',
      ]);
      expect(k.code).toBe(1);
      expect(k.stderr).toContain('error: rollout status is only available for RollingUpdate strategy type');
    };
    const hint = 'the update strategy is OnDelete, so someone must delete the old pods (the bot does not)';
    const ours = async (kind: Kind, name: string) => rolloutStatus(await kube.readWorkload(kind, ns, name));
    const until = (kind: Kind, name: string, message: string) =>
      eventually(`${ns}/${name}: ${message}`, async () => (await ours(kind, name)).message === message);
    const deletePods = (...pods: string[]) =>
      kubectlOk(world, ['delete', 'pod', '-n', ns, '--wait=false', ...pods]);

    const sts = (image: string) =>
      release({
        kind: 'StatefulSet',
        namespace: ns,
        name: 'ondel',
        image,
        changeCause: image,
        strategy: 'OnDelete',
      });
    const ds = (image: string) =>
      release({
        kind: 'DaemonSet',
        namespace: ns,
        name: 'dsondel',
        image,
        changeCause: image,
        strategy: 'OnDelete',
      });
    const [s1] = await Promise.all([sts('registry.test/twin:v1'), ds('registry.test/twin:v1')]);
    await Promise.all([refused('StatefulSet', 'ondel'), refused('DaemonSet', 'dsondel')]);
    const r1 = s1.revisions[0].metadata.name;
    await until('StatefulSet', 'ondel', `statefulset rolling update complete 2 pods at revision ${r1}...`);
    await until('DaemonSet', 'dsondel', 'daemon set "dsondel" successfully rolled out');

    const [s2] = await Promise.all([sts('registry.test/twin:v2'), ds('registry.test/twin:v2')]);
    const r2 = s2.revisions[1].metadata.name;
    await until(
      'StatefulSet',
      'ondel',
      `Waiting for 2 of 2 pods to be re-created at revision ${r2}: ${hint}...`,
    );
    await until(
      'DaemonSet',
      'dsondel',
      `Waiting for daemon set "dsondel" rollout to finish: 0 out of 1 new pods have been updated; ${hint}...`,
    );
    await deletePods('ondel-1');
    await until(
      'StatefulSet',
      'ondel',
      `Waiting for 1 of 2 pods to be re-created at revision ${r2}: ${hint}...`,
    );
    const dsPods = Object.keys(await podHashes(ns, 'dsondel'));
    await deletePods('ondel-0', ...dsPods);
    await until('StatefulSet', 'ondel', `statefulset rolling update complete 2 pods at revision ${r2}...`);
    await until('DaemonSet', 'dsondel', 'daemon set "dsondel" successfully rolled out');
    expect(await podHashes(ns, 'ondel')).toEqual({ 'ondel-0': r2, 'ondel-1': r2 });

    // An undo of an OnDelete StatefulSet changes no pod: the status says who must act.
    expect(await engineUndo('StatefulSet', ns, 0, 'ondel')).toBe('rolled back to 1');
    await until(
      'StatefulSet',
      'ondel',
      `Waiting for 2 of 2 pods to be re-created at revision ${r1}: ${hint}...`,
    );
    await refused('StatefulSet', 'ondel');
  });
});
