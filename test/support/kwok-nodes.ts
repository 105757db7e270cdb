// More fake nodes for the tests that need them. The world starts with one KWOK node (kwok-node-0);
// KWOK runs with --manage-all-nodes, so any Node object it sees gets heartbeats and its pods run, and
// every node advertises the same kubelet front. A DaemonSet test adds a second node so the DaemonSet has
// two pods and can be caught half rolled, as on a real cluster; the world's other tests keep one node.
import { eventually, kubectl, kubectlOk } from './kubectl.js';
import type { WorldInfo } from './world/world.js';

interface NodeJson {
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/** Whether the node is Ready and free of the node lifecycle controller's taints (pods can land on it). */
async function schedulable(world: WorldInfo, name: string): Promise<boolean> {
  const node = JSON.parse(await kubectlOk(world, ['get', 'node', name, '-o', 'json'])) as NodeJson;
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const tainted = (node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
  return ready && !tainted;
}

/**
 * Adds a KWOK node like the world's own and waits until pods can be scheduled on it. Returns the function
 * that deletes it again (call it in afterAll: the world is shared by the files that follow).
 */
export async function addKwokNode(world: WorldInfo, name: string): Promise<() => Promise<void>> {
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { type: 'kwok', 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': name },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
  await kubectlOk(world, ['create', '-f', '-'], JSON.stringify(node));
  await eventually(`node ${name} Ready and untainted`, () => schedulable(world, name));
  return async () => {
    const r = await kubectl(world, ['delete', 'node', name, '--ignore-not-found']);
    if (r.code !== 0) throw new Error(`deleting node ${name} failed: ${r.stderr.trim()}`);
  };
}
