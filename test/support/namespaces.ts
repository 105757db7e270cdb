import { randomBytes } from 'node:crypto';
import { eventually, kubectl, kubectlOk } from './kubectl.js';
import type { WorldInfo } from './world/world.js';

/** A fresh namespace with a random suffix, ready for pods (its default ServiceAccount exists). */
export async function freshNamespace(world: WorldInfo, prefix: string): Promise<string> {
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectlOk(world, ['create', 'namespace', ns]);
  await eventually(
    `default ServiceAccount in ${ns}`,
    async () => (await kubectl(world, ['get', 'sa', 'default', '-n', ns])).code === 0,
  );
  return ns;
}
