// Pausing automatic rollbacks through Slack, with the bot as `npm start` runs it: the switch an
// automatic incident's thread offers (approvers only, swapped in place for who paused and Resume),
// `/rollback pause|resume` said in the channel, and a paused service's alert proposing instead of
// rolling back alone, with no page.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { alertmanagerNotification } from '../support/alert-payloads.js';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { type PagerDutyEmulator, startPagerDutyEmulator } from '../support/pagerduty-emulator/index.js';
import {
  errorRatioAbove,
  generationOf,
  imageOf,
  setDatabaseHead,
  shipReleases,
} from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { hasButton, textOf } from '../support/slack-text.js';
import { type SlowProxy, startSlowProxy } from '../support/slow-http.js';

const world = inject('world');
const C = 'C0INCIDENTS';
const ALICE = 'U0SRE00001'; // an approver in the catalog
const MALLORY = 'U0MALLORY1';
const TOKEN = 'pause-webhook-token-e2e';
const ROUTING_KEY = 'e2e0pause0key0000000000000000001';
const GOOD = 'registry.test/release-manager:v1';
const BAD = 'registry.test/release-manager:v2-bad';

/**
 * A bot as `npm start` runs it (policy auto, its own namespace, Slack and PagerDuty emulators), for
 * the describe that calls it; `env` (read when the bot starts) adds to the bot's environment.
 */
function pauseBot(name: string, env: () => Record<string, string> = () => ({})) {
  const f = {} as { slack: SlackEmulator; pd: PagerDutyEmulator; bot: BotProcess; ns: string };
  const events = () => `${f.bot.url}/slack/events`;
  const command = (text: string, userId = ALICE) =>
    f.slack.sendSlashCommand({ botUrl: events(), command: '/rollback', text, userId, channelId: C });
  const click = (messageTs: string, actionId: string, userId = ALICE) =>
    f.slack.clickButton({ botUrl: events(), channelId: C, messageTs, actionId, userId });
  const switchIn = (threadTs: string) =>
    f.slack
      .thread(C, threadTs)
      .find((m) => hasButton(m, 'rollback_pause_auto') || hasButton(m, 'rollback_resume_auto'));
  const alert = (fingerprint: string) =>
    fetch(`${f.bot.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        alertmanagerNotification([
          {
            status: 'firing',
            labels: {
              alertname: 'HighErrorRate',
              namespace: f.ns,
              deployment: 'release-manager-prod',
              severity: 'critical',
            },
            annotations: { summary: 'Error ratio 8.3%' },
            startsAt: new Date().toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prom/graph?g0.expr=x',
            fingerprint,
          },
        ]),
      ),
    });

  beforeAll(async () => {
    await setDatabaseHead(world, 'aaa111');
    f.ns = await freshNamespace(world, name);
    f.slack = await startSlackEmulator({
      botToken: 'xoxb-pause',
      signingSecret: 'pause-secret',
      users: [
        { id: ALICE, name: 'alice' },
        { id: MALLORY, name: 'mallory' },
      ],
      channels: [{ id: C, name: 'incidents', members: [ALICE, MALLORY] }],
      usergroups: { S0SREONCALL: [] },
    });
    f.pd = await startPagerDutyEmulator({ routingKeys: [ROUTING_KEY] });
    const catalog = worldCatalog(world, f.ns, (svc) => {
      svc.channel = C;
      svc.notify = {};
      svc.policy = { mode: 'auto', cooldownMinutes: 30, maxAutoRollbacks: 2, windowMinutes: 60 };
    });
    f.bot = await startSlackBot(world, {
      slack: f.slack,
      botToken: 'xoxb-pause',
      signingSecret: 'pause-secret',
      catalog,
      name: `${name}-${f.ns}`,
      env: {
        ALERT_WEBHOOK_TOKEN: TOKEN,
        PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PAGERDUTY_EVENTS_HOST: f.pd.host,
        NODE_EXTRA_CA_CERTS: f.pd.caFile,
        WATCH_TRIGGERS: 'false',
        ...env(),
      },
    });
  });
  afterAll(async () => {
    await f.bot?.stop();
    await f.slack?.close();
    await f.pd?.close();
    await deleteNamespaces(world);
  });

  return { f, events, command, click, switchIn, alert };
}

describe('pausing automatic rollbacks in Slack', () => {
  const { f, events, command, click, switchIn, alert } = pauseBot('pause');

  it('pauses by command (approvers only, said in the channel), and a paused service only proposes', async () => {
    expect((await command('pause release-manager', MALLORY)).status).toBe(200);
    await eventually('refusal to mallory', async () =>
      f.slack.ephemerals({ userId: MALLORY }).some((e) => e.text.includes('is not an approver')),
    );
    expect(f.slack.messages(C)).toEqual([]);

    expect((await command('pause release-manager')).status).toBe(200);
    const note = await eventually('the pause said in the channel', async () =>
      f.slack.messages(C).find((m) => textOf(m).includes('paused by <@U0SRE00001> until')),
    );
    expect(hasButton(note, 'rollback_resume_auto')).toBe(true);
    await eventually('confirmed to alice', async () =>
      f.slack.ephemerals({ userId: ALICE }).some((e) => e.text.includes('paused by')),
    );

    await shipReleases(world, f.ns, [
      { image: GOOD, cause: 'v1', head: 'aaa111' },
      { image: BAD, cause: 'v2', head: 'aaa111' },
    ]);
    expect((await alert('pause0000000001')).status).toBe(202);
    const root = await eventually('the incident', async () =>
      f.slack.messages(C).find((m) => (m.history[0]?.text ?? m.text).includes('is unhealthy')),
    );
    expect(root.history[0]?.text ?? root.text).toMatch(/automatic rollbacks are paused by alice until/);
    // A proposal for an approver, Resume offered in the thread; nothing rolled back, nobody paged.
    const proposal = await eventually('the proposal', async () =>
      f.slack.thread(C, root.ts).find((m) => hasButton(m, 'rollback_approve')),
    );
    expect(textOf(proposal)).toContain('"text":"Roll back"');
    expect(hasButton(switchIn(root.ts)!, 'rollback_resume_auto')).toBe(true);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await imageOf(world, f.ns)).toBe(BAD);
    expect(f.pd.events().filter((e) => JSON.stringify(e.body).includes(f.ns))).toEqual([]);
    // The bot's /metrics counted the automatic rollback the pause held back.
    const metrics = await (await fetch(`${f.bot.url}/metrics`)).text();
    expect(metrics).toMatch(/^rollback_bot_suppressed_auto_rollbacks_total\{guard="paused"\} 1$/m);
  });

  it('resumes and pauses again from the thread, swapping the switch in place, approvers only', async () => {
    const root = f.slack.messages(C).find((m) => (m.history[0]?.text ?? m.text).includes('is unhealthy'))!;
    const sw = switchIn(root.ts)!;
    await click(sw.ts, 'rollback_resume_auto', MALLORY);
    await eventually(
      'refusal to mallory',
      async () =>
        f.slack.ephemerals({ userId: MALLORY }).filter((e) => e.text.includes('is not an approver')).length >=
        2,
    );
    expect(hasButton(switchIn(root.ts)!, 'rollback_resume_auto')).toBe(true);

    await click(sw.ts, 'rollback_resume_auto');
    await eventually('resumed in place', async () =>
      textOf(switchIn(root.ts)!).includes('resumed by <@U0SRE00001>'),
    );
    expect(hasButton(switchIn(root.ts)!, 'rollback_pause_auto')).toBe(true);

    await click(sw.ts, 'rollback_pause_auto');
    await eventually('paused in place', async () =>
      textOf(switchIn(root.ts)!).includes('paused by <@U0SRE00001> until'),
    );
    expect(hasButton(switchIn(root.ts)!, 'rollback_resume_auto')).toBe(true);

    // Lifted by command, said in the channel; lifting again says there is nothing to lift.
    await command('resume release-manager');
    await eventually('the resume said in the channel', async () =>
      f.slack.messages(C).some((m) => !m.thread_ts && textOf(m).includes('resumed by <@U0SRE00001>')),
    );
    await command('resume release-manager');
    await eventually('nothing to resume', async () =>
      f.slack.ephemerals({ userId: ALICE }).some((e) => e.text.includes('are not paused')),
    );
    expect(f.slack.rejected()).toEqual([]);
  });

  it('shows each service on App Home, and refreshes it for its viewer when a pause changes', async () => {
    // Another workload's open rollback under the same service name (an entry re-pointed since, or
    // another team's bot on this Redis) is not this entry's.
    const redis = new Redis(world.redisUrl);
    const now = new Date().toISOString();
    const elsewhere = {
      id: `elsewhere-${Date.now()}`,
      service: 'release-manager',
      namespace: `elsewhere-${f.ns}`,
      deployment: 'release-manager-prod',
      state: 'awaiting_approval' as const,
      version: 1,
      mode: 'manual' as const,
      dryRun: false,
      toRevision: 0,
      reason: 'another workload',
      requestedBy: { kind: 'alert' as const, id: 'fp-x', name: 'HighErrorRate' },
      requestedAt: now,
      updatedAt: now,
      approvals: [],
    };
    await createRedisStore(redis).create(
      elsewhere,
      {
        id: elsewhere.id,
        type: 'created',
        from: undefined,
        to: 'awaiting_approval',
        actor: elsewhere.requestedBy,
        at: now,
      },
      { lockDeployment: false },
    );
    redis.disconnect();
    expect((await f.slack.openAppHome({ botUrl: events(), userId: ALICE })).status).toBe(200);
    const home = await eventually('App Home published', async () => f.slack.views(ALICE).home);
    const text = JSON.stringify(home.blocks);
    expect(text).toContain('*release-manager* · deployment');
    expect(text).toMatch(/revision 2 · `registry\.test\/release-manager:v2-bad`/);
    // The proposal the paused incident made: the last rollback, and an incident still open.
    expect(text).toContain('Last rollback: :raised_hand: awaiting approval');
    expect(text).toContain('1 open incident');
    expect(text).toContain('Policy `auto`');
    expect(text).not.toContain('*paused*');
    await command('pause release-manager');
    const refreshed = await eventually(
      'App Home refreshed with the pause',
      async () => {
        const h = f.slack.views(ALICE).home;
        return h && JSON.stringify(h.blocks).includes('automatic rollbacks *paused* until') ? h : undefined;
      },
      20_000,
    );
    expect(JSON.stringify(refreshed.blocks)).toContain('by alice');
    expect(f.slack.rejected()).toEqual([]);
  });
});

describe('a pause that lapses, and Cancel on the automatic rollback that follows', () => {
  // The world's Prometheus behind a proxy that can hold its answers: the assessment then takes the
  // seconds it takes in production, long enough for an operator to press Cancel.
  let prometheus: SlowProxy;
  beforeAll(async () => {
    prometheus = await startSlowProxy(world.prometheusUrl);
  });
  afterAll(async () => {
    await prometheus?.close();
  });
  const { f, events, command, click, alert } = pauseBot('lapse', () => ({
    AUTO_PAUSE_FOR: '10s',
    PROMETHEUS_URL: prometheus.url,
  }));
  const homeText = () => JSON.stringify(f.slack.views(ALICE).home?.blocks ?? []);

  it('lasts AUTO_PAUSE_FOR, then says once in the channel that it lapsed, and App Home drops it', async () => {
    const t0 = Date.now();
    expect((await command('pause release-manager')).status).toBe(200);
    await eventually('the pause said in the channel', async () =>
      f.slack.messages(C).find((m) => textOf(m).includes('paused by <@U0SRE00001> until')),
    );
    expect((await f.slack.openAppHome({ botUrl: events(), userId: ALICE })).status).toBe(200);
    await eventually('App Home with the pause', async () =>
      homeText().includes('automatic rollbacks *paused* until'),
    );
    const lapse = await eventually(
      'the lapse said in the channel',
      async () => f.slack.messages(C).find((m) => textOf(m).includes('lapsed at')),
      30_000,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(10_000);
    expect(textOf(lapse)).toContain(
      'The pause of automatic rollbacks of `release-manager` by <@U0SRE00001> lapsed at',
    );
    expect(hasButton(lapse, 'rollback_pause_auto')).toBe(true);
    await eventually('App Home without the pause', async () => !homeText().includes('*paused*'), 20_000);
    await new Promise((r) => setTimeout(r, 2500));
    expect(f.slack.messages(C).filter((m) => textOf(m).includes('lapsed at'))).toHaveLength(1);
  });

  it('then rolls back alone, and Cancel on the root stops it before the patch', async () => {
    await shipReleases(world, f.ns, [
      { image: GOOD, cause: 'v1', head: 'aaa111' },
      { image: BAD, cause: 'v2', head: 'aaa111' },
    ]);
    // The bot re-reads the error ratio before it acts alone: Prometheus must already see the bad release.
    await errorRatioAbove(world, f.ns, 0.05);
    const gen = await generationOf(world, f.ns);
    prometheus.hold();
    expect((await alert('lapse000000001')).status).toBe(202);
    const root = await eventually(
      'the automatic rollback, with Cancel',
      async () => f.slack.messages(C).find((m) => hasButton(m, 'rollback_cancel')),
      30_000,
    );
    expect(root.history[0]?.text ?? root.text).toMatch(
      /Policy `auto`: rolling back without waiting for a person/,
    );
    await click(root.ts, 'rollback_cancel');
    // Recorded for the step that is assessing (its Prometheus reads still held): stopped after it.
    await eventually('cancel requested', async () =>
      f.slack.ephemerals({ userId: ALICE }).some((e) => e.text.includes('Cancel requested')),
    );
    prometheus.release();
    expect(prometheus.held()).toBeGreaterThan(0);
    await eventually(
      'cancelled before the patch',
      async () =>
        f.slack.thread(C, root.ts).some((m) => textOf(m).includes('Cancelled by alice before the patch')),
      60_000,
    );
    await eventually(
      'Cancel gone from the root',
      async () => !hasButton(f.slack.messages(C).find((m) => m.ts === root.ts)!, 'rollback_cancel'),
    );
    expect(await generationOf(world, f.ns)).toBe(gen);
    expect(await imageOf(world, f.ns)).toBe(BAD);
    expect(f.slack.rejected()).toEqual([]);
  });
});
