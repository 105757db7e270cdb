// The bot's Kubernetes adapter on the credentials it runs with in production (kube-access.ts, not the
// library's KubeConfig): raw reads, pod logs, exec and the rollout watch, each against what kubectl
// says on the same world.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKube } from '../../src/kube/create-kube.js';
import { loadKubeAccess } from '../../src/kube/kube-access.js';
import { deploymentYaml, eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES } from '../support/releases.js';

const world = inject('world');
const NAME = 'access';

describe('the kube adapter on the bot’s own credentials', () => {
  const kube = createKube(loadKubeAccess({ kubeconfig: world.kubeconfig }));
  let ns: string;
  let pod: string;

  beforeAll(async () => {
    ns = await freshNamespace(world, 'kube-access');
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      deploymentYaml({ namespace: ns, name: NAME, app: NAME, image: IMAGES.good, replicas: 1 }),
    );
    await kubectlOk(world, ['rollout', 'status', `deployment/${NAME}`, '-n', ns, '--timeout=60s']);
    pod = await eventually('a pod', async () => (await kube.listPods(ns, `app=${NAME}`))[0]?.name);
  });
  afterAll(() => deleteNamespaces(world));

  it('reads the workload and its pods as kubectl does', async () => {
    const d = await kube.readWorkload('Deployment', ns, NAME);
    const viaKubectl = JSON.parse(
      await kubectlOk(world, ['get', 'deployment', NAME, '-n', ns, '-o', 'json']),
    );
    expect(d.uid).toBe(viaKubectl.metadata.uid);
    expect(d.resourceVersion).toBe(viaKubectl.metadata.resourceVersion);
  });

  it('reads pod logs and runs exec as kubectl does', async () => {
    const logs = await kube.readLogs(ns, pod, { tailLines: 20, limitBytes: 64 * 1024 });
    expect(logs).toBe(await kubectlOk(world, ['logs', pod, '-n', ns, '--tail=20']));
    const exec = await kube.exec(ns, pod, 'app', ['alembic', 'heads'], 10_000);
    expect(exec.exitCode).toBe(0);
    expect(exec.stdout).toBe(
      await kubectlOk(world, ['exec', pod, '-n', ns, '-c', 'app', '--', 'alembic', 'heads']),
    );
  });

  it('watches a rollout to its end', async () => {
    await kubectlOk(world, ['set', 'image', `deployment/${NAME}`, '-n', ns, `app=${IMAGES.next}`]);
    const status = await kube.waitForRollout('Deployment', ns, NAME, { timeoutMs: 60_000 });
    expect(status.status).toBeDefined();
    const viaKubectl = JSON.parse(
      await kubectlOk(world, ['get', 'deployment', NAME, '-n', ns, '-o', 'json']),
    );
    expect(viaKubectl.status.updatedReplicas).toBe(1);
  });
});
