// What kube-controller-manager itself says about a stretch of work, from its own /metrics: how long its
// API requests waited on its client-side rate limiter (client-go's token bucket: --kube-api-qps 20,
// --kube-api-burst 30 by default, as the world runs it), and how long the Job, Deployment and
// ReplicaSet controllers' keys sat in their work queues. It is how the bench tells the cluster's share
// of twenty rollbacks at once from the bot's: a production control plane has the same defaults.
import { adminGet } from '../../test/support/world/https-get.js';
import type { WorldInfo } from '../../test/support/world/world.js';

export interface ControllerLoad {
  /** Requests through the rate limiter, and the seconds they waited on it in all. */
  throttled: { requests: number; seconds: number; over100ms: number };
  /** Per controller queue: keys taken off it and the seconds they waited in it in all. */
  queues: Record<string, { keys: number; seconds: number }>;
}

const QUEUES = ['job', 'deployment', 'replicaset'];

async function get(world: WorldInfo, path: string): Promise<string> {
  const url = `${world.controllerManager}${path}`;
  const res = await adminGet(url, world.pki, 5000);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.body;
}

/** Sums a metric's samples over all label sets that pass `keep`. */
function sum(text: string, name: string, keep: (labels: string) => boolean = () => true): number {
  let total = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = line.slice(name.length, line.lastIndexOf(' '));
    if (!keep(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
    seen = true;
  }
  if (!seen) throw new Error(`kube-controller-manager exports no ${name}`);
  return total;
}

export async function controllerLoad(world: WorldInfo): Promise<ControllerLoad> {
  const text = await get(world, '/metrics');
  const limiter = 'rest_client_rate_limiter_duration_seconds';
  const requests = sum(text, `${limiter}_count`);
  const queues: ControllerLoad['queues'] = {};
  for (const q of QUEUES) {
    const mine = (labels: string) => labels.includes(`name="${q}"`);
    queues[q] = {
      keys: sum(text, 'workqueue_queue_duration_seconds_count', mine),
      seconds: sum(text, 'workqueue_queue_duration_seconds_sum', mine),
    };
  }
  return {
    throttled: {
      requests,
      seconds: sum(text, `${limiter}_sum`),
      over100ms: requests - sum(text, `${limiter}_bucket`, (l) => l.includes('le="0.1"')),
    },
    queues,
  };
}

/** What happened between two reads. */
export function loadBetween(a: ControllerLoad, b: ControllerLoad): ControllerLoad {
  const queues: ControllerLoad['queues'] = {};
  for (const [q, x] of Object.entries(b.queues)) {
    const y = a.queues[q] ?? { keys: 0, seconds: 0 };
    queues[q] = { keys: x.keys - y.keys, seconds: x.seconds - y.seconds };
  }
  return {
    throttled: {
      requests: b.throttled.requests - a.throttled.requests,
      seconds: b.throttled.seconds - a.throttled.seconds,
      over100ms: b.throttled.over100ms - a.throttled.over100ms,
    },
    queues,
  };
}

export function describeLoad(l: ControllerLoad): string {
  const t = l.throttled;
  const qs = Object.entries(l.queues)
    .map(
      ([q, x]) =>
        `${q} queue ${x.keys} keys, mean wait ${x.keys ? ((x.seconds / x.keys) * 1000).toFixed(0) : 0} ms`,
    )
    .join('; ');
  return `${t.requests} API requests waited ${t.seconds.toFixed(1)} s in all on its rate limiter (${t.over100ms} over 100 ms); ${qs}`;
}
