import { randomBytes } from 'node:crypto';
import { eventually, kubectl, kubectlOk } from './kubectl.js';
import type { WorldInfo } from './world/world.js';

const created: string[] = [];

/** A fresh namespace with a random suffix, ready for pods (its default ServiceAccount exists). */
export async function freshNamespace(world: WorldInfo, prefix: string): Promise<string> {
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  created.push(ns);
  await kubectlOk(world, ['create', 'namespace', ns]);
  await eventually(
    `default ServiceAccount in ${ns}`,
    async () => (await kubectl(world, ['get', 'sa', 'default', '-n', ns])).code === 0,
  );
  return ns;
}

/**
 * Deletes the namespaces this test file created, without waiting: their Deployments stop drawing
 * the stand-in's traffic, which keeps one shared world fast for the files that follow.
 */
export async function deleteNamespaces(world: WorldInfo): Promise<void> {
  const names = created.splice(0);
  if (names.length) await kubectl(world, ['delete', 'namespace', '--wait=false', ...names]);
}
