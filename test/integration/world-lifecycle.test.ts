// The world's own contract: a part that cannot start fails loudly with its name and log file, and
// stopping the world leaves no process behind.
import { describe, expect, inject, it } from 'vitest';
import { WorldError } from '../support/world/proc.js';
import { startRedis } from '../support/world/services.js';
import { startWorld } from '../support/world/world.js';

const world = inject('world');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test world lifecycle', () => {
  it('names the part and its log file when a part cannot start', async () => {
    const port = Number(new URL(world.redisUrl).port);
    const err = await startRedis({
      root: world.root,
      logDir: world.logDir,
      detach: false,
      name: 'redis-port-taken',
      port,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorldError);
    const msg = (err as WorldError).message;
    expect(msg).toContain('redis-port-taken');
    expect(msg).toContain(`${world.logDir}/redis-port-taken.log`);
    expect(msg).toMatch(/Address already in use/);
  });

  it('stops every process of a second world', async () => {
    const second = await startWorld({ log: () => {} });
    const pids = second.info.pids;
    expect(pids.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok',
        'redis',
        'postgres',
        'prometheus',
        'alertmanager',
        'standin',
      ]),
    );
    for (const p of pids) expect(alive(p.pid), p.name).toBe(true);
    await second.stop();
    for (const p of pids) expect(alive(p.pid), `${p.name} still running`).toBe(false);
  });
});
