// The safety rules on the real world: one rollback per Deployment, one patch per approval, only
// approvers approve, and a process killed mid-step is replaced by one that finishes without repeating.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isCodedError } from '../../src/errors.js';
import type { State } from '../../src/rollback/states.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { generationOf, imageOf, NAME, setDatabaseHead, shipReleases } from '../support/releases.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const ALICE = { kind: 'user' as const, id: 'U0SRE00001', name: 'alice' };
const BOB = { kind: 'user' as const, id: 'U0SRE00002', name: 'bob' };

async function badRelease(prefix: string): Promise<string> {
  const ns = await freshNamespace(world, prefix);
  await shipReleases(world, ns, [
    { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' },
    { image: BAD, cause: 'Release v2024.01.15', head: 'aaa111' },
  ]);
  await eventually('crash-looping pods', async () =>
    (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
  );
  return ns;
}

describe('rollback engine: safety', () => {
  const engines: ReturnType<typeof createTestEngine>[] = [];
  const engine = (ns: string, o: { prefix?: string; owner?: string; leaseMs?: number } = {}) => {
    const e = createTestEngine(world, { catalog: worldCatalog(world, ns), ...o });
    engines.push(e);
    return e;
  };
  beforeAll(async () => {
    await setDatabaseHead(world, 'aaa111');
  });
  afterAll(async () => {
    await deleteNamespaces(world);
    for (const e of engines) {
      await e.runner.idle();
      await e.close();
    }
  });

  it('runs one rollback per Deployment and tells the second requester who holds it', async () => {
    const ns = await badRelease('one');
    const e = engine(ns);
    const results = await Promise.allSettled([
      e.runner.request({ service: 'release-manager', reason: 'first', actor: ALICE }),
      e.runner.request({ service: 'release-manager', reason: 'second', actor: BOB }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(isCodedError(refused[0], 'rollback_in_progress')).toBe(true);
    const holder = (ok[0] as PromiseFulfilledResult<{ id: string; requestedBy: { name?: string } }>).value;
    expect((refused[0] as Error).message).toContain(holder.requestedBy.name);
    expect((refused[0] as Error).message).toContain(holder.id);
    await e.runner.waitFor(holder.id, ['awaiting_approval'], 60_000);
    await e.runner.cancel(holder.id, ALICE);
    expect(await e.store.holderOf(ns, NAME)).toBeUndefined();
  });

  it('patches once when two replicas take two simultaneous approvals, and refuses non-approvers', async () => {
    const ns = await badRelease('twice');
    const prefix = `test:${randomBytes(4).toString('hex')}:`;
    const replicaA = engine(ns, { prefix, owner: 'replica-a' });
    const replicaB = engine(ns, { prefix, owner: 'replica-b' });
    const r = await replicaA.runner.request({
      service: 'release-manager',
      reason: 'bad release',
      actor: ALICE,
    });
    await replicaA.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    const before = await generationOf(world, ns);

    const intruder = await replicaB.runner
      .approve(r.id, { kind: 'user', id: 'U0INTRUDER', name: 'mallory' })
      .catch((err: unknown) => err);
    expect(isCodedError(intruder, 'rollback_unauthorized')).toBe(true);
    expect((await replicaA.store.get(r.id))?.state).toBe('awaiting_approval');
    expect(await generationOf(world, ns)).toBe(before);
    const notes = (await replicaA.store.events(r.id)).filter(
      (ev) => ev.type === 'note' && ev.data?.kind === 'unauthorized',
    );
    expect(notes.map((n) => n.actor.id)).toEqual(['U0INTRUDER']);

    const clicks = await Promise.allSettled([
      replicaA.runner.approve(r.id, BOB),
      replicaB.runner.approve(r.id, BOB),
      replicaB.runner.approve(r.id, ALICE),
    ]);
    expect(clicks.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
    for (const c of clicks.filter((x) => x.status === 'rejected')) {
      expect(isCodedError((c as PromiseRejectedResult).reason, 'rollback_wrong_state')).toBe(true);
    }
    const done = await replicaA.runner.waitFor(r.id, ['completed', 'failed'], 120_000);
    expect(done.state).toBe('completed');
    expect(await generationOf(world, ns)).toBe(before + 1);
    expect(done.approvals).toHaveLength(1);
  });

  async function crashAndResume(killIn: State): Promise<void> {
    const ns = await badRelease(`crash-${killIn.slice(0, 4)}`);
    const prefix = `test:${randomBytes(4).toString('hex')}:`;
    const e = engine(ns, { prefix, owner: 'requester' });
    const r = await e.runner.request({ service: 'release-manager', reason: 'bad release', actor: ALICE });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    const before = await generationOf(world, ns);
    const leaseMs = 1500;
    const run = (action: 'approve' | 'resume', owner: string): ChildProcess =>
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/support/runner-process.ts',
          // The first worker's rollout wait is slowed, like a slow cluster, so the kill lands in undoing.
          JSON.stringify({
            world,
            namespace: ns,
            prefix,
            owner,
            leaseMs,
            action,
            id: r.id,
            actor: BOB,
            slowRolloutMs: action === 'approve' ? 5000 : 0,
          }),
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    const first = run('approve', 'doomed');
    let firstOut = '';
    first.stdout?.on('data', (d) => {
      firstOut += d;
    });
    first.stderr?.on('data', (d) => {
      firstOut += d;
    });
    const exited = new Promise((res) => first.on('exit', res));
    await eventually(
      `state ${killIn}`,
      async () => (await e.store.get(r.id))?.state === killIn,
      60_000,
    ).catch(async (err) => {
      throw new Error(
        `${(err as Error).message}; state ${(await e.store.get(r.id))?.state}; worker said: ${firstOut}; events: ${(await e.store.events(r.id)).map((ev) => `${ev.at.slice(11, 23)} ${ev.type} ${ev.actor.id}`).join(', ')}`,
      );
    });
    first.kill('SIGKILL');
    await exited;
    expect((await e.store.get(r.id))?.state).toBe(killIn);

    const second = run('resume', 'successor');
    let out = '';
    second.stdout?.on('data', (d) => {
      out += d;
    });
    second.stderr?.on('data', (d) => {
      out += d;
    });
    // The dead owner's lease must lapse before the successor can take the rollback.
    const code = await new Promise((res) => second.on('exit', res));
    expect(code, out).toBe(0);
    let done = await e.store.get(r.id);
    if (done?.state !== 'completed') {
      // The successor found the lease still held and resumed nothing: try again once it expired.
      await new Promise((res) => setTimeout(res, leaseMs));
      const third = run('resume', 'successor-2');
      await new Promise((res) => third.on('exit', res));
      done = await e.store.get(r.id);
    }
    expect(done?.state).toBe('completed');
    expect(await imageOf(world, ns)).toBe(GOOD);
    expect(await generationOf(world, ns)).toBe(before + 1);
    const events = await e.store.events(r.id);
    expect(events.filter((ev) => ev.type === 'undone')).toHaveLength(1);
    expect(events.filter((ev) => ev.type === 'approve')).toHaveLength(1);
  }

  it(
    'finishes after the worker is SIGKILLed while undoing, patching exactly once',
    () => crashAndResume('undoing'),
    180_000,
  );
  it(
    'finishes after the worker is SIGKILLed while verifying, patching exactly once',
    () => crashAndResume('verifying'),
    180_000,
  );
});
