// Alert-driven and watch-driven rollbacks through the real Prometheus and Alertmanager, the bot as
// `npm start` runs it, the Slack emulator and the PagerDuty emulator.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alertmanagerNotification } from '../support/alert-payloads.js';
import { setAlertWebhook } from '../support/alertmanager.js';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { type PagerDutyEmulator, startPagerDutyEmulator } from '../support/pagerduty-emulator/index.js';
import { imageOf, setDatabaseHead, shipReleases } from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { hasButton, textOf } from '../support/slack-text.js';
import { percentile } from '../support/stats.js';

const world = inject('world');
const C = 'C0INCIDENTS';
const APPROVER = 'U0SRE00001';
const TOKEN = 'alertmanager-bearer-token-e2e';
const ROUTING_KEY = 'e2e0routing0key00000000000000001';
const GOOD = 'registry.test/release-manager:v1';
const BAD = 'registry.test/release-manager:v2-bad';

describe('alerts, watch triggers and paging', () => {
  let slack: SlackEmulator;
  let pd: PagerDutyEmulator;
  let bot: BotProcess;
  const ns: Record<'propose' | 'auto', string> = { propose: '', auto: '' };

  // The incident's first post becomes the rollback's root message, updated in place with its state.
  const rootsFor = (service: string) =>
    slack
      .messages(C)
      .filter(
        (m) =>
          !m.thread_ts &&
          (m.text.includes(`*${service}* is unhealthy`) || m.text.includes(`Rollback of ${service}:`)),
      );

  beforeAll(async () => {
    await setDatabaseHead(world, 'aaa111');
    ns.propose = await freshNamespace(world, 'alert-propose');
    ns.auto = await freshNamespace(world, 'alert-auto');
    slack = await startSlackEmulator({
      botToken: 'xoxb-alerts',
      signingSecret: 'alerts-secret',
      users: [{ id: APPROVER, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [APPROVER] }],
      rateLimit: { perSecond: 1, burst: 3 },
    });
    pd = await startPagerDutyEmulator({ routingKeys: [ROUTING_KEY] });
    const proposeCat = worldCatalog(world, ns.propose, (svc) => {
      svc.channel = C;
      svc.notify = {};
      svc.policy.mode = 'propose';
    });
    const autoCat = worldCatalog(world, ns.auto, (svc) => {
      svc.channel = C;
      svc.notify = {};
      svc.policy = { mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 2, windowMinutes: 60 };
    });
    const catalog = {
      services: new Map([
        ['rm-propose', { ...proposeCat.services.get('release-manager')!, name: 'rm-propose' }],
        ['rm-auto', { ...autoCat.services.get('release-manager')!, name: 'rm-auto' }],
      ]),
    };
    bot = await startSlackBot(world, {
      slack,
      botToken: 'xoxb-alerts',
      signingSecret: 'alerts-secret',
      catalog,
      name: `alerts-${ns.propose}`,
      env: {
        ALERT_WEBHOOK_TOKEN: TOKEN,
        PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PAGERDUTY_EVENTS_HOST: pd.host,
        NODE_EXTRA_CA_CERTS: pd.caFile,
        // The alert path alone: watch triggers get their own test below.
        WATCH_TRIGGERS: 'false',
      },
    });
    await setAlertWebhook(world, `${bot.url}/alerts`, TOKEN);
  });
  afterAll(async () => {
    await setAlertWebhook(world, 'http://127.0.0.1:9/unset', 'unset');
    await bot?.stop();
    await slack?.close();
    await pd?.close();
    await deleteNamespaces(world);
  });

  it('proposes a rollback in one thread with the why, when Prometheus fires through Alertmanager', async () => {
    await shipReleases(world, ns.propose, [
      { image: GOOD, cause: 'v1', head: 'aaa111' },
      { image: BAD, cause: 'v2', head: 'aaa111' },
    ]);
    const root = await eventually(
      'incident thread for rm-propose',
      async () => rootsFor('rm-propose')[0],
      100_000,
    ).catch(async (err: Error) => {
      const prom = await (await fetch(`${world.prometheusUrl}/api/v1/alerts`)).text();
      const am = await (await fetch(`${world.alertmanagerUrl}/api/v2/alerts`)).text();
      throw new Error(
        `${err.message}; channel: ${JSON.stringify(slack.messages(C).map((m) => m.text.slice(0, 100)))}; prom: ${prom.slice(0, 400)}; am: ${am.slice(0, 400)}`,
      );
    });
    // The why stays on the root message: which alert, its query and threshold, since when.
    const why = await eventually('the why on the root', async () => {
      const t = textOf(rootsFor('rm-propose')[0]!);
      return t.includes('*Why:*') ? t : undefined;
    });
    expect(why).toMatch(/HighErrorRate|PodCrashLooping|HighLatencyP99|RolloutStuck/);
    expect(why).toMatch(/since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(root.history[0]?.text ?? root.text).toMatch(/Policy `propose`/);
    const assessment = await eventually(
      'assessment with Roll back / Dismiss',
      async () => slack.thread(C, root.ts).find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    );
    expect(textOf(assessment)).toContain('"text":"Roll back"');
    expect(textOf(assessment)).toContain('"text":"Dismiss"');
    // Further alerts of the same bad revision join the thread's one Signals message, edited in place.
    await eventually(
      'a second alert in the Signals message',
      async () =>
        slack
          .thread(C, root.ts)
          .some((m) => m.text.startsWith('*Signals*') && (m.text.match(/:red_circle:/g) ?? []).length >= 2),
      90_000,
    );
    expect(slack.thread(C, root.ts).filter((m) => m.text.startsWith('*Signals*'))).toHaveLength(1);
    expect(rootsFor('rm-propose')).toHaveLength(1);
    // Nothing is paged for a proposal.
    expect(pd.events().filter((e) => JSON.stringify(e.body).includes(ns.propose))).toEqual([]);
  });

  it('rolls back with no human under the auto policy: PagerDuty trigger then resolve on one dedup_key', async () => {
    await shipReleases(world, ns.auto, [
      { image: GOOD, cause: 'v1', head: 'aaa111' },
      { image: BAD, cause: 'v2', head: 'aaa111' },
    ]);
    const root = await eventually('incident thread for rm-auto', async () => rootsFor('rm-auto')[0], 100_000);
    expect(root.history[0]?.text ?? root.text).toMatch(
      /Policy `auto`: rolling back without waiting for a person/,
    );
    await eventually(
      'verified',
      async () => slack.thread(C, root.ts).some((m) => textOf(m).includes('complete and verified')),
      180_000,
    );
    expect(await imageOf(world, ns.auto)).toBe(GOOD);
    const mine = pd
      .events()
      .filter((e) => JSON.stringify(e.body).includes(`${ns.auto}/release-manager-prod`));
    expect(mine.map((e) => e.action)).toEqual(['trigger', 'resolve']);
    expect(mine[0]?.dedupKey).toBe(mine[1]?.dedupKey);
    expect(pd.incident(mine[0]!.dedupKey!, ROUTING_KEY)?.status).toBe('resolved');
    expect(
      pd
        .changeEvents()
        .some(
          (c) => JSON.stringify(c.body).includes('rm-auto') && JSON.stringify(c.body).includes('verified'),
        ),
    ).toBe(true);
    expect(pd.rejected()).toEqual([]);
  });

  it('turns 10,000 replayed notifications into one thread and stays responsive', async () => {
    const root = rootsFor('rm-propose')[0]!;
    const before = slack.thread(C, root.ts).length;
    const body = JSON.stringify(
      alertmanagerNotification([
        {
          status: 'firing',
          labels: {
            alertname: 'HighErrorRate',
            namespace: ns.propose,
            deployment: 'release-manager-prod',
            severity: 'critical',
          },
          annotations: { summary: 'Error ratio 8.3%' },
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prom/graph?g0.expr=x',
          fingerprint: 'replayed00000001',
        },
      ]),
    );
    const latencies: number[] = [];
    const health: number[] = [];
    let sent = 0;
    const started = Date.now();
    const worker = async () => {
      while (sent < 10_000) {
        sent += 1;
        const t = performance.now();
        const r = await fetch(`${bot.url}/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body,
        });
        await r.arrayBuffer();
        latencies.push(performance.now() - t);
        expect(r.status).toBe(202);
      }
    };
    const probe = (async () => {
      while (sent < 10_000) {
        const t = performance.now();
        await fetch(`${bot.url}/health`);
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await Promise.all([...Array.from({ length: 32 }, worker), probe]);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `[storm] 10000 notifications in ${seconds.toFixed(1)} s (${(10_000 / seconds).toFixed(0)}/s); webhook p50 ${percentile(latencies, 50).toFixed(1)} ms p99 ${percentile(latencies, 99).toFixed(1)} ms; /health during the storm p99 ${percentile(health, 99).toFixed(1)} ms (${health.length} probes); 429s from Slack: ${slack.rateLimited()}`,
    );
    expect(seconds).toBeLessThan(60);
    expect(percentile(health, 99)).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 2000));
    expect(rootsFor('rm-propose')).toHaveLength(1);
    // The replayed alert joins the thread once at most.
    expect(slack.thread(C, root.ts).length - before).toBeLessThanOrEqual(1);
    expect(slack.rejected().filter((x) => x.error !== 'ratelimited')).toEqual([]);
  });

  it('does not map a staging alert that carries the service label to the production service', async () => {
    const res = await fetch(`${bot.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        alertmanagerNotification([
          {
            status: 'firing',
            // prometheus-operator's `service` label, on a series from another namespace.
            labels: { alertname: 'HighErrorRate', service: 'rm-propose', namespace: 'staging' },
            annotations: { summary: 'Error ratio 9% in staging' },
            startsAt: new Date().toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            fingerprint: 'staging000000001',
          },
        ]),
      ),
    });
    expect(await res.json()).toEqual({ accepted: 0, unmatched: 1 });
  });

  it('refuses a wrong token, an oversized and a malformed body with 4xx', async () => {
    const post = (body: string, token = TOKEN) =>
      fetch(`${bot.url}/alerts`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
    expect((await post('{}', 'wrong')).status).toBe(401);
    expect((await post('{"version":"4"}')).status).toBe(400);
    expect((await post('x'.repeat((1 << 20) + 10))).status).toBe(413);
  });
});

describe('watch triggers (no alerts)', () => {
  let slack: SlackEmulator;
  let bot: BotProcess;
  let ns: string;
  const roots = () => slack.messages(C).filter((m) => !m.thread_ts);

  beforeAll(async () => {
    await setDatabaseHead(world, 'aaa111');
    ns = await freshNamespace(world, 'watch');
    slack = await startSlackEmulator({
      botToken: 'xoxb-watch',
      signingSecret: 'watch-secret',
      users: [{ id: APPROVER, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [APPROVER] }],
    });
    const catalog = worldCatalog(world, ns, (svc) => {
      svc.channel = C;
      svc.notify = {};
      svc.policy.mode = 'propose';
    });
    // No ALERT_WEBHOOK_TOKEN: the only signals are what the bot sees on the Deployment itself.
    bot = await startSlackBot(world, {
      slack,
      botToken: 'xoxb-watch',
      signingSecret: 'watch-secret',
      catalog,
      name: `watch-${ns}`,
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await slack?.close();
    await deleteNamespaces(world);
  });

  it('opens one incident for crash-looping pods and adds the stalled rollout to it', async () => {
    await shipReleases(world, ns, [
      { image: GOOD, cause: 'v1', head: 'aaa111' },
      { image: BAD, cause: 'v2', head: 'aaa111' },
    ]);
    const root = await eventually('incident from the watch', async () => roots()[0], 60_000).catch(
      bot.explain,
    );
    const first = root.history[0]?.text ?? root.text;
    expect(first).toMatch(/CrashLoopBackOff|ReadinessFailing|RestartsClimbing/);
    await eventually(
      'assessment with buttons',
      async () => slack.thread(C, root.ts).some((m) => hasButton(m, 'rollback_approve')),
      60_000,
    ).catch(bot.explain);
    // progressDeadlineSeconds is 15 in the test world: the stuck rollout joins the same thread.
    await eventually(
      'ProgressDeadlineExceeded in the thread',
      async () => slack.thread(C, root.ts).some((m) => m.text.includes('ProgressDeadlineExceeded')),
      90_000,
    ).catch(bot.explain);
    expect(roots()).toHaveLength(1);
    expect(slack.rejected().filter((x) => x.error !== 'ratelimited')).toEqual([]);
  });
});
