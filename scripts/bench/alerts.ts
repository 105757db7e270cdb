// Alert → first Slack post, against the webhook's own answer time: 15 incidents under `propose` (5
// services, each a new bad revision 3 times) and 10 under `auto`, one alert at a time, each once the
// incident before has gone quiet in Slack. Under `propose` (the example's policy)
// the first post waits for nothing but the revision read; under `auto` it comes after the guard rails
// and the fresh read that must confirm the signal (fail closed), measured apart. The first post's time is when the Slack emulator
// received the chat.postMessage (its call log, same process and clock as the sender), not when a
// poll noticed it: an earlier cut polled every 250 ms and measured its own poll (254–258 ms).
import { percentile } from '../../test/support/stats.js';
import { alertBody, type FleetService, startAlertFleet } from './alert-fleet.js';
import type { Section } from './context.js';
import type { Figure } from './figures.js';

const PROPOSE = 5;
/**
 * Auto services answer one alert each, in the first round only: their proposal then holds the
 * Deployment, and a later incident would stop at the first guard rail ("a rollback is in progress")
 * without the fresh read this figure is about.
 */
const AUTO = 10;
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

/**
 * Until the bot has made no Slack call for `ms` (at most `maxMs`): the incident before has posted its
 * assessment, so the next alert is timed on its own and not behind another incident's assessment.
 */
async function quiet(calls: () => number, ms = 750, maxMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = calls();
  let since = Date.now();
  while (Date.now() - since < ms && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = calls();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

export const benchAlerts: Section = async ({ world, log }) => {
  const fleet = await startAlertFleet(world, {
    prefix: 'bench-alert',
    count: PROPOSE + AUTO,
    policy: (i) => (i < PROPOSE ? 'propose' : 'auto-unconfirmed'),
  });
  try {
    const answered: Record<FleetService['policy'], number[]> = { propose: [], 'auto-unconfirmed': [] };
    const first: Record<FleetService['policy'], number[]> = { propose: [], 'auto-unconfirmed': [] };
    for (let round = 0; round < ROUNDS; round++) {
      await fleet.shipBadRevision();
      for (const svc of fleet.services) {
        if (svc.policy !== 'propose' && round > 0) continue;
        const body = alertBody(svc, {
          alertname: 'HighErrorRate',
          fingerprint: `bench${round}${svc.name}`.padEnd(16, '0'),
        });
        await quiet(() => fleet.slack.calls().length);
        const t0 = Date.now();
        const res = await fleet.post(body);
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
        const at = await firstPostAt(() => fleet.slack.calls('chat.postMessage'), svc, t0);
        answered[svc.policy].push(res.ms);
        first[svc.policy].push(at - t0);
      }
      log(
        `[alerts] round ${round + 1}: first posts ${first.propose.slice(-PROPOSE).join(', ')} ms (propose)${round === 0 ? `; ${first['auto-unconfirmed'].join(', ')} ms (auto, checked first)` : ''}`,
      );
    }
    const figure = (policy: FleetService['policy'], what: string, goal: boolean): Figure => {
      const anchor = percentile(answered[policy], 95);
      const p95 = percentile(first[policy], 95);
      const times = first[policy];
      return {
        section: 'alerts',
        figure: `alert → first post p95, ${what} (${times.length} incidents)`,
        anchor: { what: 'webhook answered p95', value: anchor },
        value: p95,
        unit: 'ms',
        ratio: anchor > 0 ? p95 / anchor : Number.POSITIVE_INFINITY,
        goal: goal ? '< 100 ms' : 'measured (the confirmation before acting alone)',
        met: goal ? p95 < 100 : Number.isFinite(p95),
        note: `p50 ${percentile(times, 50).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`,
      };
    };
    return [
      figure('propose', 'policy propose', true),
      figure('auto-unconfirmed', 'policy auto: guard rails + fresh read first', false),
    ];
  } finally {
    await fleet.stop();
  }
};
