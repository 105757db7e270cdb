// A rollback-bot process for crash tests: builds the real engine against the world and either approves
// a rollback or resumes abandoned ones, then works until idle. The test SIGKILLs it mid-step.
// Usage: node --import tsx test/support/runner-process.ts '<json>'
import type { Actor } from '../../src/rollback/model.js';
import { createTestEngine, worldCatalog } from './engine.js';
import type { WorldInfo } from './world/world.js';

interface Args {
  world: WorldInfo;
  namespace: string;
  prefix: string;
  owner: string;
  leaseMs: number;
  action: 'approve' | 'resume';
  id?: string;
  actor?: Actor;
  /** Makes every rollout wait take this much longer, like a slow cluster, so a test can kill us in it. */
  slowRolloutMs?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const engine = createTestEngine(args.world, {
  catalog: worldCatalog(args.world, args.namespace),
  prefix: args.prefix,
  owner: args.owner,
  leaseMs: args.leaseMs,
});
if (args.slowRolloutMs) {
  const kube = engine.deps.kube;
  const wait = kube.waitForRollout.bind(kube);
  kube.waitForRollout = async (...a) => {
    await new Promise((r) => setTimeout(r, args.slowRolloutMs));
    return wait(...a);
  };
}
if (args.action === 'approve') {
  await engine.runner.approve(args.id ?? '', args.actor ?? { kind: 'user', id: 'U0SRE00002' });
} else {
  const n = await engine.runner.resume();
  console.log(`resumed ${n}`);
}
await engine.runner.idle();
await engine.close();
process.exit(0);
