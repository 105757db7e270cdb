// Between sections, and before a section's clock starts: the world finishes what the last one left.
// A namespace deleted without waiting is torn down by the controller-manager, the apiserver, etcd and
// KWOK over the next tens of seconds; measured on 2 cores, that work landed inside the storm's minute
// in the whole bench and not when the storm ran alone. Every figure is taken on a quiet world.
import { kubectl } from '../../test/support/kubectl.js';
import type { WorldInfo } from '../../test/support/world/world.js';
import { CLK_TCK, calmTwice, cpuTicks } from './proc.js';

/**
 * The world's servers (apiserver, etcd, controller-manager, scheduler, KWOK, Redis, Prometheus,
 * Alertmanager, PostgreSQL, the stand-in) at rest use a few percent of a core between them; a
 * namespace being torn down uses tens of percent.
 */
const QUIET_PERCENT = 15;
const WINDOW_MS = 1000;

/** CPU seconds the world's servers have used so far. */
export function worldCpuSeconds(world: WorldInfo): number {
  let ticks = 0;
  for (const { pid } of world.pids) {
    try {
      ticks += cpuTicks(pid);
    } catch {
      // A server that has exited uses no CPU; the world reports its own failures.
    }
  }
  return ticks / CLK_TCK;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the resources named (`namespace/x`, as `kubectl get -o name` prints them) are gone and
 * the world's servers used under QUIET_PERCENT of a core for two windows in a row. After `maxMs` it
 * goes on and says so (`settled: false`): the figures that follow are then measured on a busy world,
 * and the log shows it.
 */
export async function settleWorld(
  world: WorldInfo,
  gone: string[],
  o: { maxMs?: number } = {},
): Promise<{ settled: boolean; summary: string }> {
  const started = performance.now();
  const deadline = started + (o.maxMs ?? 180_000);
  const after = () => ((performance.now() - started) / 1000).toFixed(1);
  if (gone.length) {
    // kubectl() gives up on a command after 120 s.
    const left = Math.min(110, Math.max(1, Math.round((deadline - performance.now()) / 1000)));
    const res = await kubectl(world, ['wait', '--for=delete', `--timeout=${left}s`, ...gone]);
    if (res.code !== 0 && !/not found/i.test(res.stderr)) {
      const why = res.stderr.trim().split('\n')[0];
      return { settled: false, summary: `namespaces still terminating after ${after()} s: ${why}` };
    }
  }
  let percent = Number.NaN;
  const calm = async () => {
    const before = worldCpuSeconds(world);
    const t = performance.now();
    await sleep(WINDOW_MS);
    percent = ((worldCpuSeconds(world) - before) / ((performance.now() - t) / 1000)) * 100;
    return percent < QUIET_PERCENT;
  };
  const settled = await calmTwice(calm, deadline);
  const load = `${percent.toFixed(0)}% of a core`;
  return {
    settled,
    summary: settled
      ? `world quiet after ${after()} s (${load})`
      : `world still busy after ${after()} s (${load})`,
  };
}
