// Proof that StatefulSets and DaemonSets really work in the test world: the real controllers create and
// roll their pods, KWOK makes them Ready (or crash-loop, or start slowly) by image as it does for a
// Deployment's, ControllerRevisions number the history, and the world's kubectl undoes a roll. Tests of
// the bot's StatefulSet and DaemonSet support build on exactly these behaviours.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { daemonSetYaml, eventually, kubectl, kubectlOk, statefulSetYaml } from '../support/kubectl.js';
import { addKwokNode } from '../support/kwok-nodes.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { HEAD_ANNOTATION, IMAGES, SLOW_READY_SECONDS } from '../support/releases.js';

const world = inject('world');

interface PodJson {
  metadata: { name: string; labels: Record<string, string>; creationTimestamp: string };
  spec: { nodeName?: string; containers: { image: string }[] };
  status: {
    phase?: string;
    conditions?: { type: string; status: string; lastTransitionTime: string }[];
    containerStatuses?: {
      restartCount: number;
      started?: boolean;
      state: { waiting?: { reason: string }; running?: { startedAt: string } };
    }[];
  };
}

interface RevisionJson {
  metadata: { name: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  revision: number;
}

interface StatefulSetStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
}

const ready = (p: PodJson) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const restarts = (p: PodJson | undefined) => p?.status.containerStatuses?.[0]?.restartCount ?? 0;

describe('StatefulSets and DaemonSets in the test world', () => {
  let ns: string;

  async function pods(app: string): Promise<PodJson[]> {
    const out = await kubectlOk(world, ['get', 'pods', '-n', ns, '-l', `app=${app}`, '-o', 'json']);
    const items = (JSON.parse(out) as { items: PodJson[] }).items;
    return items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /** The workload's ControllerRevisions, kubectl's way: by its selector, controlled by it; oldest first. */
  async function revisions(kind: 'StatefulSet' | 'DaemonSet', name: string): Promise<RevisionJson[]> {
    const out = await kubectlOk(world, [
      'get',
      'controllerrevisions',
      '-n',
      ns,
      '-l',
      `app=${name}`,
      '-o',
      'json',
    ]);
    return (JSON.parse(out) as { items: RevisionJson[] }).items
      .filter((r) =>
        r.metadata.ownerReferences?.some((o) => o.kind === kind && o.name === name && o.controller),
      )
      .sort((a, b) => a.revision - b.revision);
  }

  async function stsStatus(name: string): Promise<StatefulSetStatus & { generation: number }> {
    const s = JSON.parse(await kubectlOk(world, ['get', 'statefulset', name, '-n', ns, '-o', 'json'])) as {
      metadata: { generation: number };
      status: StatefulSetStatus;
    };
    return { ...s.status, generation: s.metadata.generation };
  }

  /** Every replica Ready on the update revision, as the controller itself reports it. */
  async function stsRolledOut(name: string, replicas: number): Promise<string> {
    return eventually(`${name} rolled out`, async () => {
      const s = await stsStatus(name);
      const done =
        (s.observedGeneration ?? 0) >= s.generation &&
        s.readyReplicas === replicas &&
        s.updatedReplicas === replicas &&
        s.currentRevision === s.updateRevision;
      return done ? s.updateRevision : undefined;
    });
  }

  beforeAll(async () => {
    ns = await freshNamespace(world, 'workloads');
  });
  afterAll(async () => {
    await deleteNamespaces(world);
  });

  describe('a StatefulSet', () => {
    const name = 'ledger';

    it('starts its pods, KWOK makes them Ready, and each carries its revision hash', async () => {
      await kubectlOk(
        world,
        ['apply', '-f', '-'],
        statefulSetYaml({ namespace: ns, name, app: name, image: IMAGES.good, replicas: 3 }),
      );
      const revision = await stsRolledOut(name, 3);
      const ps = await pods(name);
      expect(ps.map((p) => p.metadata.name)).toEqual([`${name}-0`, `${name}-1`, `${name}-2`]);
      for (const p of ps) {
        expect(ready(p), p.metadata.name).toBe(true);
        expect(p.metadata.labels['controller-revision-hash']).toBe(revision);
        expect(p.spec.nodeName).toBe(world.nodeName);
      }
      const revs = await revisions('StatefulSet', name);
      expect(revs.map((r) => [r.metadata.name, r.revision])).toEqual([[revision, 1]]);
      const health = await fetch(`${world.standinUrl}/sts/${ns}/${name}/health`);
      expect(health.status).toBe(200);
    });

    it('rolls every pod onto revision 2 on a template change, and rollout undo brings revision 1 back as 3', async () => {
      const [first] = await revisions('StatefulSet', name);
      const started = Date.now();
      await kubectlOk(world, ['set', 'image', `statefulset/${name}`, '-n', ns, `app=${IMAGES.next}`]);
      const second = await stsRolledOut(name, 3);
      const rolledMs = Date.now() - started;
      console.log(`[world-workloads] StatefulSet of 3 (OrderedReady) rolled in ${rolledMs} ms`);
      expect(second).not.toBe(first?.metadata.name);
      expect((await revisions('StatefulSet', name)).map((r) => [r.metadata.name, r.revision])).toEqual([
        [first?.metadata.name, 1],
        [second, 2],
      ]);
      for (const p of await pods(name)) {
        expect(p.metadata.labels['controller-revision-hash']).toBe(second);
        expect(p.spec.containers[0]?.image).toBe(IMAGES.next);
      }

      const undoStarted = Date.now();
      const undo = await kubectl(world, ['rollout', 'undo', `statefulset/${name}`, '-n', ns]);
      expect(undo.code, undo.stderr).toBe(0);
      expect(undo.stdout).toMatch(/rolled back/);
      const back = await stsRolledOut(name, 3);
      console.log(`[world-workloads] StatefulSet of 3 undone in ${Date.now() - undoStarted} ms`);
      // The controller re-used revision 1's object and gave it the next number (no new object).
      expect(back).toBe(first?.metadata.name);
      expect((await revisions('StatefulSet', name)).map((r) => [r.metadata.name, r.revision])).toEqual([
        [second, 2],
        [first?.metadata.name, 3],
      ]);
      for (const p of await pods(name)) {
        expect(p.metadata.labels['controller-revision-hash']).toBe(back);
        expect(p.spec.containers[0]?.image).toBe(IMAGES.good);
      }
      // No updateStrategy in the manifest: the API made it RollingUpdate with partition 0, so kubectl
      // reports a partitioned roll out (a manifest naming only the type gets no rollingUpdate: below).
      const sts = JSON.parse(
        await kubectlOk(world, ['get', 'statefulset', name, '-n', ns, '-o', 'json']),
      ) as {
        spec: { updateStrategy: unknown };
      };
      expect(sts.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
      const status = await kubectlOk(world, [
        'rollout',
        'status',
        `statefulset/${name}`,
        '-n',
        ns,
        '--timeout=30s',
      ]);
      expect(status).toMatch(/partitioned roll out complete: 3 new pods have been updated/);
    });

    it('with updateStrategy type RollingUpdate and no partition, reports its rollout by revision', async () => {
      const typed = 'ledger-typed';
      await kubectlOk(
        world,
        ['apply', '-f', '-'],
        statefulSetYaml({
          namespace: ns,
          name: typed,
          app: typed,
          image: IMAGES.good,
          replicas: 2,
          updateStrategy: 'RollingUpdate',
          podManagementPolicy: 'Parallel',
        }),
      );
      const revision = await stsRolledOut(typed, 2);
      const status = await kubectlOk(world, [
        'rollout',
        'status',
        `statefulset/${typed}`,
        '-n',
        ns,
        '--timeout=30s',
      ]);
      expect(status.trim()).toBe(`statefulset rolling update complete 2 pods at revision ${revision}...`);
    });

    it('holds the ordinals below its partition on the old revision', async () => {
      const held = 'ledger-canary';
      const yaml = (image: string, partition: number) =>
        statefulSetYaml({ namespace: ns, name: held, app: held, image, replicas: 3, partition });
      await kubectlOk(world, ['apply', '-f', '-'], yaml(IMAGES.good, 2));
      const old = await stsRolledOut(held, 3);
      await kubectlOk(world, ['apply', '-f', '-'], yaml(IMAGES.next, 2));
      const status = await kubectlOk(world, [
        'rollout',
        'status',
        `statefulset/${held}`,
        '-n',
        ns,
        '--timeout=60s',
      ]);
      expect(status).toMatch(/partitioned roll out complete: 1 new pods have been updated/);
      // The controller has observed the change and finished: what it left on the old revision stays there.
      const s = await stsStatus(held);
      expect(s.observedGeneration).toBe(s.generation);
      expect(s.updatedReplicas).toBe(1);
      expect(s.readyReplicas).toBe(3);
      expect(s.updateRevision).not.toBe(old);
      const byPod = (await pods(held)).map((p) => [
        p.metadata.name,
        p.metadata.labels['controller-revision-hash'],
        p.spec.containers[0]?.image,
      ]);
      expect(byPod).toEqual([
        [`${held}-0`, old, IMAGES.good],
        [`${held}-1`, old, IMAGES.good],
        [`${held}-2`, s.updateRevision, IMAGES.next],
      ]);

      await kubectlOk(world, ['apply', '-f', '-'], yaml(IMAGES.next, 0));
      expect(await stsRolledOut(held, 3)).toBe(s.updateRevision);
    });

    it('with OrderedReady waits for a crash-looping pod 0; with Parallel starts every pod at once', async () => {
      const ordered = 'ordered-bad';
      const parallel = 'parallel-bad';
      await kubectlOk(
        world,
        ['apply', '-f', '-'],
        `${statefulSetYaml({ namespace: ns, name: ordered, app: ordered, image: IMAGES.bad, replicas: 3 })}---\n${statefulSetYaml(
          {
            namespace: ns,
            name: parallel,
            app: parallel,
            image: IMAGES.bad,
            replicas: 3,
            podManagementPolicy: 'Parallel',
          },
        )}`,
      );
      const all = await eventually('three crash-looping Parallel pods', async () => {
        const ps = await pods(parallel);
        return ps.length === 3 &&
          ps.every((p) => p.status.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff')
          ? ps
          : undefined;
      });
      expect(all.every((p) => !ready(p))).toBe(true);
      // Pod 0 of the ordered one has crashed twice by now: had the controller meant to go on, it would have.
      await eventually('ordered pod 0 restarted twice', async () => restarts((await pods(ordered))[0]) >= 2);
      expect((await pods(ordered)).map((p) => p.metadata.name)).toEqual([`${ordered}-0`]);
    });
  });

  describe("the world's images, in StatefulSet and DaemonSet pods as in a Deployment's", () => {
    it('a bad image crash-loops with rising restarts, BackOff events and ERROR logs, and refuses exec', async () => {
      const name = 'bad-set';
      await kubectlOk(
        world,
        ['apply', '-f', '-'],
        statefulSetYaml({
          namespace: ns,
          name,
          app: name,
          image: IMAGES.bad,
          replicas: 1,
          templateAnnotations: { [HEAD_ANNOTATION]: 'bbb222' },
        }),
      );
      const pod = `${name}-0`;
      const first = await eventually('a crash-looping pod', async () => {
        const p = (await pods(name))[0];
        return p?.status.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff'
          ? restarts(p)
          : undefined;
      });
      await eventually('its restartCount rising', async () => restarts((await pods(name))[0]) > first);
      expect(ready((await pods(name))[0] as PodJson)).toBe(false);
      const events = await kubectlOk(world, [
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        `involvedObject.name=${pod},reason=BackOff`,
        '-o',
        'name',
      ]);
      expect(events.trim()).not.toBe('');
      const logs = await eventually('ERROR lines in its log', async () => {
        const r = await kubectl(world, ['logs', pod, '-n', ns]);
        return r.code === 0 && r.stdout.includes('ERROR') ? r.stdout : undefined;
      });
      expect(logs).toMatch(/ERROR unhandled exception/);
      const exec = await kubectl(world, ['exec', pod, '-n', ns, '--', 'alembic', 'current']);
      expect(exec.code).not.toBe(0);
      expect(exec.stderr).toMatch(/container not found \("app"\)/);
      expect((await fetch(`${world.standinUrl}/sts/${ns}/${name}/health`)).status).toBe(503);
    });

    it('a -slow image is Running at once and Ready only after its warm-up; a -restarted one is Ready with one restart', async () => {
      const slow = 'slow-daemons';
      const restarted = 'restarted-set';
      await kubectlOk(
        world,
        ['apply', '-f', '-'],
        `${daemonSetYaml({ namespace: ns, name: slow, app: slow, image: IMAGES.slowReady })}---\n${statefulSetYaml(
          {
            namespace: ns,
            name: restarted,
            app: restarted,
            image: IMAGES.restarted,
            replicas: 1,
          },
        )}`,
      );
      const warming = await eventually('a started, not yet Ready DaemonSet pod', async () => {
        const p = (await pods(slow))[0];
        return p?.status.containerStatuses?.[0]?.started && !ready(p) ? p : undefined;
      });
      expect(warming.status.phase).toBe('Running');
      expect((await fetch(`${world.standinUrl}/ds/${ns}/${slow}/ready`)).status).toBe(503);
      const warm = await eventually('the DaemonSet pod Ready', async () => {
        const p = (await pods(slow))[0];
        return p && ready(p) ? p : undefined;
      });
      // Still running since it started (the Ready patch must not lose the container's state).
      expect(warm.status.containerStatuses?.[0]).toMatchObject({
        image: IMAGES.slowReady,
        ready: true,
        started: true,
        state: { running: { startedAt: expect.any(String) } },
      });
      const startedAt = Date.parse(warm.status.containerStatuses?.[0]?.state.running?.startedAt ?? '');
      expect(startedAt).toBe(
        Date.parse(warming.status.containerStatuses?.[0]?.state.running?.startedAt ?? ''),
      );
      const readyAt = Date.parse(
        warm.status.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? '',
      );
      // Both are whole seconds: at least the warm-up, less one second of rounding.
      expect(readyAt - startedAt).toBeGreaterThanOrEqual((SLOW_READY_SECONDS - 1) * 1000);
      expect((await fetch(`${world.standinUrl}/ds/${ns}/${slow}/ready`)).status).toBe(200);
      const exec = await kubectl(world, ['exec', warm.metadata.name, '-n', ns, '--', 'alembic', 'heads']);
      expect(exec.stderr).toBe('');
      expect(exec.stdout.trim()).toBe('bbb222 (head)');

      const p = await eventually('the -restarted pod Ready', async () => {
        const x = (await pods(restarted))[0];
        return x && ready(x) ? x : undefined;
      });
      expect(restarts(p)).toBe(1);
    });

    it('exec in a healthy StatefulSet pod runs with its own image and head annotation', async () => {
      const name = 'exec-set';
      await kubectlOk(
        world,
        ['apply', '-f', '-'],
        statefulSetYaml({
          namespace: ns,
          name,
          app: name,
          image: 'registry.test/release-manager:v2024.02.01',
          replicas: 1,
          templateAnnotations: { [HEAD_ANNOTATION]: 'ccc333' },
        }),
      );
      await stsRolledOut(name, 1);
      // Outside the release catalog, the image ships what its pod's head annotation says.
      const heads = await eventually('alembic heads', async () => {
        const r = await kubectl(world, ['exec', `${name}-0`, '-n', ns, '--', 'alembic', 'heads']);
        return r.code === 0 ? r.stdout : undefined;
      });
      expect(heads.trim()).toBe('ccc333 (head)');
    });
  });

  describe('a DaemonSet on two nodes', () => {
    const name = 'node-agent';
    const extra = `kwok-node-${randomBytes(3).toString('hex')}`;
    let removeNode: (() => Promise<void>) | undefined;
    const yaml = (image: string) => daemonSetYaml({ namespace: ns, name, app: name, image });

    /** The pods by node: [node, image, revision hash, Ready]. */
    async function byNode(): Promise<[string, string, string, boolean][]> {
      return (await pods(name))
        .map((p): [string, string, string, boolean] => [
          p.spec.nodeName ?? '',
          p.spec.containers[0]?.image ?? '',
          p.metadata.labels['controller-revision-hash'] ?? '',
          ready(p) ?? false,
        ])
        .sort((a, b) => a[0].localeCompare(b[0]));
    }

    async function dsRolledOut(): Promise<void> {
      const status = await kubectlOk(world, [
        'rollout',
        'status',
        `daemonset/${name}`,
        '-n',
        ns,
        '--timeout=60s',
      ]);
      expect(status).toMatch(/successfully rolled out/);
    }

    beforeAll(async () => {
      removeNode = await addKwokNode(world, extra);
    });
    afterAll(async () => {
      await kubectl(world, ['delete', 'daemonset', name, '-n', ns, '--wait=false']);
      await removeNode?.();
    });

    it('schedules one Ready pod on each KWOK node', async () => {
      await kubectlOk(world, ['apply', '-f', '-'], yaml(IMAGES.good));
      await dsRolledOut();
      const [rev] = await revisions('DaemonSet', name);
      expect(rev?.revision).toBe(1);
      const hash = rev?.metadata.name.slice(name.length + 1);
      const nodes = [world.nodeName, extra].sort();
      expect(await byNode()).toEqual(nodes.map((n) => [n, IMAGES.good, hash, true]));
    });

    it('rolls both pods on a template change, and rollout undo brings revision 1 back as 3', async () => {
      const [first] = await revisions('DaemonSet', name);
      await kubectlOk(world, ['apply', '-f', '-'], yaml(IMAGES.next));
      await dsRolledOut();
      const revs = await revisions('DaemonSet', name);
      expect(revs.map((r) => r.revision)).toEqual([1, 2]);
      const second = revs[1]?.metadata.name.slice(name.length + 1);
      expect((await byNode()).map(([, image, hash, isReady]) => [image, hash, isReady])).toEqual([
        [IMAGES.next, second, true],
        [IMAGES.next, second, true],
      ]);

      const undo = await kubectl(world, ['rollout', 'undo', `daemonset/${name}`, '-n', ns]);
      expect(undo.code, undo.stderr).toBe(0);
      await dsRolledOut();
      expect((await revisions('DaemonSet', name)).map((r) => [r.metadata.name, r.revision])).toEqual([
        [revs[1]?.metadata.name, 2],
        [first?.metadata.name, 3],
      ]);
      expect((await byNode()).every(([, image]) => image === IMAGES.good)).toBe(true);
    });

    it('is caught half rolled by a crash-looping image: one node on the new revision, one on the old', async () => {
      await kubectlOk(world, ['apply', '-f', '-'], yaml(IMAGES.bad));
      const bad = await eventually('one crash-looping pod restarted twice', async () => {
        const p = (await pods(name)).find((x) => x.spec.containers[0]?.image === IMAGES.bad);
        return restarts(p) >= 2 ? p : undefined;
      });
      // maxUnavailable 1: the controller took one node's pod down and waits for its replacement forever.
      const nodes = await byNode();
      expect(nodes).toHaveLength(2);
      const good = nodes.find(([node]) => node !== bad.spec.nodeName);
      expect(good?.[1]).toBe(IMAGES.good);
      expect(good?.[3]).toBe(true);
      const ds = JSON.parse(await kubectlOk(world, ['get', 'daemonset', name, '-n', ns, '-o', 'json'])) as {
        status: { desiredNumberScheduled: number; updatedNumberScheduled: number; numberAvailable: number };
      };
      expect(ds.status).toMatchObject({
        desiredNumberScheduled: 2,
        updatedNumberScheduled: 1,
        numberAvailable: 1,
      });
      const status = await kubectl(world, [
        'rollout',
        'status',
        `daemonset/${name}`,
        '-n',
        ns,
        '--timeout=2s',
      ]);
      expect(status.code).not.toBe(0);
    });
  });
});
