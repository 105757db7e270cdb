// Proof that the test world shows the production differences the bot's safety rules depend on:
// exec into a container that is not running fails as a kubelet's does; an image's `alembic` knows only
// the migrations that image ships; a Job's pod really runs its command and its exit decides the Job;
// slow-to-ready and restarted-once releases look as they would on a real cluster; an autoscaler's
// replica change goes through the scale subresource.
import { PassThrough } from 'node:stream';
import { Exec, KubeConfig, type V1Status } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scaleLikeAutoscaler } from '../support/autoscaler.js';
import { jobOutcome, jobYaml } from '../support/jobs.js';
import { deploymentYaml, eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { databaseHead, IMAGES, SLOW_READY_SECONDS, setDatabaseHead } from '../support/releases.js';

const world = inject('world');

interface PodJson {
  metadata: { name: string };
  spec: { containers: { image: string }[] };
  status: {
    phase?: string;
    startTime?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      restartCount: number;
      ready: boolean;
      state: {
        running?: object;
        waiting?: { reason: string };
        terminated?: { exitCode: number; reason: string };
      };
      lastState?: { terminated?: { exitCode: number } };
    }[];
  };
}

async function podsOf(ns: string, selector: string): Promise<PodJson[]> {
  const out = await kubectlOk(world, ['get', 'pods', '-n', ns, '-l', selector, '-o', 'json']);
  return (JSON.parse(out) as { items: PodJson[] }).items;
}

const isReady = (p: PodJson) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

async function deploy(ns: string, app: string, image: string, replicas = 1): Promise<void> {
  await kubectlOk(
    world,
    ['apply', '-f', '-'],
    deploymentYaml({ namespace: ns, name: app, app, image, replicas, progressDeadlineSeconds: 120 }),
  );
}

/** Exec as client-node does it (WebSocket v5 to the apiserver), as the bot does: the status or the error. */
async function clientExec(
  ns: string,
  pod: string,
  argv: string[],
): Promise<{ status?: V1Status; error?: string; stdout: string }> {
  const kc = new KubeConfig();
  kc.loadFromFile(world.kubeconfig);
  const out = new PassThrough();
  let stdout = '';
  out.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  return new Promise((resolve) => {
    new Exec(kc)
      .exec(ns, pod, 'app', argv, out, new PassThrough(), null, false, (status) =>
        resolve({ status, stdout }),
      )
      .then(
        (ws) =>
          ws.on('close', () => setTimeout(() => resolve({ error: 'closed without a status', stdout }), 500)),
        (err: Error) => resolve({ error: err.message, stdout }),
      );
  });
}

async function runningPod(ns: string, app: string): Promise<string> {
  return eventually(
    `a Ready pod of ${app}`,
    async () => (await podsOf(ns, `app=${app}`)).find(isReady)?.metadata.name,
  );
}

describe('test world: production differences', () => {
  let ns: string;

  beforeAll(async () => {
    ns = await freshNamespace(world, 'world-prod');
  });
  afterAll(async () => {
    await deleteNamespaces(world);
  });

  it('refuses exec into a crash-looping container as a kubelet does, and runs it in a running one', async () => {
    await deploy(ns, 'crashing', IMAGES.bad);
    await deploy(ns, 'serving', IMAGES.good);
    const crashing = await eventually('a crash-looping pod', async () => {
      const p = (await podsOf(ns, 'app=crashing'))[0];
      return p?.status.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff'
        ? p.metadata.name
        : undefined;
    });
    const refused = await kubectl(world, ['exec', crashing, '-n', ns, '--', 'alembic', 'heads']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/container not found \("app"\)/);
    const refusedToClient = await clientExec(ns, crashing, ['alembic', 'heads']);
    expect(refusedToClient.stdout).toBe('');
    // The apiserver's own wording for a kubelet that refuses the upgrade (kubectl: "error: Internal
    // error occurred: unable to upgrade connection: container not found ("app")").
    expect(refusedToClient.status).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500 });
    expect(refusedToClient.status?.message).toMatch(
      /unable to upgrade connection: container not found \("app"\)/,
    );

    const serving = await runningPod(ns, 'serving');
    const heads = await kubectl(world, ['exec', serving, '-n', ns, '--', 'alembic', 'heads']);
    expect(heads).toMatchObject({ code: 0, stdout: 'aaa111 (head)\n' });
    const env = await kubectlOk(world, ['exec', serving, '-n', ns, '--', 'env']);
    expect(env).toContain(`POD_NAME=${serving}\n`);
    expect(env).toContain(`CONTAINER_IMAGE=${IMAGES.good}\n`);
  });

  it("gives each image's alembic only the migrations that image ships", async () => {
    await deploy(ns, 'old', IMAGES.good);
    await deploy(ns, 'new', IMAGES.next);
    const [oldPod, newPod] = [await runningPod(ns, 'old'), await runningPod(ns, 'new')];
    await setDatabaseHead(world, 'bbb222');

    const oldCurrent = await kubectl(world, ['exec', oldPod, '-n', ns, '--', 'alembic', 'current']);
    expect(oldCurrent.code).toBe(255);
    expect(oldCurrent.stdout).toBe("FAILED: Can't locate revision identified by 'bbb222'\n");
    // What client-node (the bot) sees: the exit code, as a kubelet reports it.
    const viaClient = await clientExec(ns, oldPod, ['alembic', 'current']);
    expect(viaClient.status).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '255' }] },
    });
    const oldDown = await kubectl(world, ['exec', oldPod, '-n', ns, '--', 'alembic', 'downgrade', 'aaa111']);
    expect(oldDown.code).toBe(255);
    expect(oldDown.stderr).toContain(
      "ERROR [alembic.util.messaging] Can't locate revision identified by 'bbb222'",
    );
    expect(await databaseHead(world)).toBe('bbb222');
    expect(await kubectlOk(world, ['exec', oldPod, '-n', ns, '--', 'alembic', 'history'])).toBe(
      '<base> -> aaa111 (head), create releases\n',
    );

    expect(await kubectlOk(world, ['exec', newPod, '-n', ns, '--', 'alembic', 'current'])).toBe(
      'bbb222 (head)\n',
    );
    expect(await kubectlOk(world, ['exec', newPod, '-n', ns, '--', 'alembic', 'history'])).toBe(
      'aaa111 -> bbb222 (head), add deployment_window to releases\n<base> -> aaa111, create releases\n',
    );
    const newDown = await kubectl(world, ['exec', newPod, '-n', ns, '--', 'alembic', 'downgrade', 'aaa111']);
    expect(newDown.code).toBe(0);
    expect(newDown.stderr).toContain('Running downgrade bbb222 -> aaa111, add deployment_window to releases');
    expect(await databaseHead(world)).toBe('aaa111');
    expect(await kubectlOk(world, ['exec', newPod, '-n', ns, '--', 'alembic', 'current'])).toBe('aaa111\n');
    expect(await kubectlOk(world, ['exec', oldPod, '-n', ns, '--', 'alembic', 'current'])).toBe(
      'aaa111 (head)\n',
    );
  });

  it("runs a Job's command in its pod: exit 0 completes the Job, a failure fails it", async () => {
    await setDatabaseHead(world, 'bbb222');
    // The crash-looping image's server crashes; its alembic, run as a Job, works.
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      jobYaml({ namespace: ns, name: 'current', image: IMAGES.bad, command: ['alembic', 'current'] }),
    );
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      jobYaml({
        namespace: ns,
        name: 'old-downgrade',
        image: IMAGES.good,
        command: ['alembic', 'downgrade', 'aaa111'],
      }),
    );
    expect(await jobOutcome(world, ns, 'current')).toBe('Complete');
    expect(await kubectlOk(world, ['logs', 'job/current', '-n', ns])).toContain('bbb222 (head)');
    const [done] = await podsOf(ns, 'job-name=current');
    expect(done?.status.phase).toBe('Succeeded');
    expect(done?.status.containerStatuses?.[0]?.state.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });

    expect(await jobOutcome(world, ns, 'old-downgrade')).toBe('Failed');
    expect(await kubectlOk(world, ['logs', 'job/old-downgrade', '-n', ns])).toContain(
      "Can't locate revision identified by 'bbb222'",
    );
    const [failed] = await podsOf(ns, 'job-name=old-downgrade');
    expect(failed?.status.phase).toBe('Failed');
    expect(failed?.status.containerStatuses?.[0]?.state.terminated).toMatchObject({
      exitCode: 255,
      reason: 'Error',
    });
    expect(await databaseHead(world)).toBe('bbb222');
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      jobYaml({ namespace: ns, name: 'no-binary', image: IMAGES.next, command: ['release-manager-worker'] }),
    );
    expect(await jobOutcome(world, ns, 'no-binary')).toBe('Failed');
    const [unstarted] = await podsOf(ns, 'job-name=no-binary');
    expect(unstarted?.status.containerStatuses?.[0]?.state.terminated).toMatchObject({
      exitCode: 128,
      reason: 'StartError',
    });
    // A completed pod's container is not running: no exec into it either.
    const refused = await kubectl(world, ['exec', done?.metadata.name ?? '', '-n', ns, '--', 'true']);
    expect(refused.code).not.toBe(0);
  });

  it(`makes a -slow image's pods Ready only after ${SLOW_READY_SECONDS} s, /ready following`, async () => {
    await deploy(ns, 'slow', IMAGES.slowReady);
    const ready = `${world.standinUrl}/d/${ns}/slow/ready`;
    const started = await eventually('a started, not yet Ready pod', async () => {
      const p = (await podsOf(ns, 'app=slow'))[0];
      return p?.status.phase === 'Running' && p.status.containerStatuses?.[0]?.state.running ? p : undefined;
    });
    expect(isReady(started)).toBe(false);
    expect((await fetch(ready)).status).toBe(503);
    const startedAt = Date.parse(started.status.startTime ?? '');
    const readyPod = await eventually(
      'the pod Ready',
      async () => (await podsOf(ns, 'app=slow')).find(isReady),
      60_000,
    );
    expect(readyPod.metadata.name).toBe(started.metadata.name);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual((SLOW_READY_SECONDS - 1) * 1000);
    expect((await fetch(ready)).status).toBe(200);
  });

  it('gives a -restarted image healthy pods with one restart in their history, stable', async () => {
    await deploy(ns, 'restarted', IMAGES.restarted, 2);
    await kubectlOk(world, ['rollout', 'status', 'deployment/restarted', '-n', ns, '--timeout=60s']);
    const check = async () => {
      const ps = await podsOf(ns, 'app=restarted');
      expect(ps).toHaveLength(2);
      for (const p of ps) {
        expect(p.status.phase).toBe('Running');
        expect(isReady(p)).toBe(true);
        expect(p.status.containerStatuses?.[0]).toMatchObject({ restartCount: 1, ready: true });
        expect(p.status.containerStatuses?.[0]?.state.running).toBeDefined();
        expect(p.status.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(1);
      }
    };
    await check();
    await new Promise((r) => setTimeout(r, 6000));
    await check();
  });

  it('scales like an autoscaler: the scale subresource moves replicas, not the template', async () => {
    const get = async () =>
      JSON.parse(await kubectlOk(world, ['get', 'deployment', 'restarted', '-n', ns, '-o', 'json'])) as {
        metadata: { generation: number; annotations: Record<string, string> };
        spec: { replicas: number; template: object };
      };
    const before = await get();
    await scaleLikeAutoscaler(world, ns, 'restarted', 3);
    const after = await get();
    expect(after.spec.replicas).toBe(3);
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    expect(after.spec.template).toEqual(before.spec.template);
    expect(after.metadata.annotations['deployment.kubernetes.io/revision']).toBe(
      before.metadata.annotations['deployment.kubernetes.io/revision'],
    );
    await kubectlOk(world, ['rollout', 'status', 'deployment/restarted', '-n', ns, '--timeout=60s']);
    expect((await podsOf(ns, 'app=restarted')).filter(isReady)).toHaveLength(3);
  });
});
