// Alert → first Slack post, against the webhook's own answer time: 15 incidents (5 services, each a
// new bad revision 3 times), one alert at a time. The first post's time is when the Slack emulator
// received the chat.postMessage (its call log, same process and clock as the sender), not when a
// poll noticed it: an earlier cut polled every 250 ms and measured its own poll (254–258 ms).
import { percentile } from '../../test/support/stats.js';
import { alertBody, type FleetService, startAlertFleet } from './alert-fleet.js';
import type { Section } from './context.js';
import type { Figure } from './figures.js';

const SERVICES = 5;
const ROUNDS = 3;

async function firstPostAt(
  calls: () => { method: string; args: Record<string, unknown>; at: number }[],
  svc: FleetService,
  after: number,
  timeoutMs = 30_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const post = calls().find(
      (c) => c.args.channel === svc.channel && c.args.thread_ts === undefined && c.at >= after,
    );
    if (post) return post.at;
    if (Date.now() > deadline) throw new Error(`no incident post for ${svc.name} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export const benchAlerts: Section = async ({ world, log }) => {
  const fleet = await startAlertFleet(world, { prefix: 'bench-alert', count: SERVICES });
  try {
    const answered: number[] = [];
    const first: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await fleet.shipBadRevision();
      for (const svc of fleet.services) {
        const body = alertBody(svc, {
          alertname: 'HighErrorRate',
          fingerprint: `bench${round}${svc.name}`.padEnd(16, '0'),
        });
        const t0 = Date.now();
        const res = await fleet.post(body);
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
        const at = await firstPostAt(() => fleet.slack.calls('chat.postMessage'), svc, t0);
        answered.push(res.ms);
        first.push(at - t0);
      }
      log(`[alerts] round ${round + 1}: first posts ${first.slice(-SERVICES).join(', ')} ms`);
    }
    const anchor = percentile(answered, 95);
    const p95 = percentile(first, 95);
    const figure: Figure = {
      section: 'alerts',
      figure: `alert → first post p95 (${first.length} incidents)`,
      anchor: { what: 'webhook answered p95', value: anchor },
      value: p95,
      unit: 'ms',
      ratio: anchor > 0 ? p95 / anchor : Number.POSITIVE_INFINITY,
      goal: '< 100 ms',
      met: p95 < 100,
      note: `p50 ${percentile(first, 50).toFixed(0)} ms, max ${Math.max(...first).toFixed(0)} ms`,
    };
    return [figure];
  } finally {
    await fleet.stop();
  }
};
