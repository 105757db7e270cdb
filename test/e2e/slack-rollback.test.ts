// The whole bot, as `npm start` runs it, driven through the strict Slack emulator on the test world:
// /rollback → root message + assessment → Approve → notifications → progress → verification → report.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rollback } from '../../src/rollback/model.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { generationOf, imageOf, NAME, setDatabaseHead, shipReleases } from '../support/releases.js';
import {
  type SlackEmulator,
  type StoredMessage,
  signature,
  startSlackEmulator,
} from '../support/slack-emulator/index.js';
import { hasButton, textOf } from '../support/slack-text.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const C = 'C0INCIDENTS';
const [ALICE, BOB, CAROL, MALLORY, EM] = [
  'U0SRE00001',
  'U0SRE00002',
  'U0ONCALL03',
  'U0INTRUDER',
  'U0ENGMGR01',
];
const SECRET = 'e2e-signing-secret';

describe('Slack end to end', () => {
  let emu: SlackEmulator;
  let bot: BotProcess;
  let ns: string;
  const redis = new Redis(world.redisUrl);
  const store = createRedisStore(redis);
  const acks: number[] = [];

  const root = () =>
    emu
      .messages(C)
      .find((m) => m.text.includes('release-manager') && !m.thread_ts && m.via === 'chat.postMessage');
  const rollbackIdOf = (m: StoredMessage) => /id `([0-9a-f-]{36})`/.exec(textOf(m))?.[1] ?? '';
  const command = async (text: string, userId = ALICE) => {
    const r = await emu.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text,
      userId,
      channelId: C,
    });
    acks.push(r.ms);
    return r;
  };

  const click = (messageTs: string, actionId: string, userId: string) =>
    emu.clickButton({ botUrl: `${bot.url}/slack/events`, channelId: C, messageTs, actionId, userId });

  beforeAll(async () => {
    ns = await freshNamespace(world, 'e2e');
    await setDatabaseHead(world, 'aaa111');
    await shipReleases(world, ns, [
      { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' },
      { image: BAD, cause: 'Release v2024.01.15', head: 'aaa111' },
    ]);
    await eventually('crash loop', async () =>
      (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
    );
    emu = await startSlackEmulator({
      botToken: 'xoxb-e2e-token',
      signingSecret: SECRET,
      users: [ALICE, BOB, CAROL, MALLORY, EM].map((id) => ({ id, name: id.toLowerCase() })),
      usergroups: { S0SREONCALL: [CAROL], S0MONITOR1: [BOB] },
      channels: [{ id: C, name: 'incidents', members: [ALICE, BOB, CAROL, MALLORY, EM] }],
    });
    const catalog = worldCatalog(world, ns, (svc) => {
      svc.channel = '#incidents';
      svc.approvers = {
        users: [ALICE, BOB],
        groups: ['S0SREONCALL'],
        requireSecondPerson: false,
        expireMinutes: 60,
      };
      svc.notify = { engineeringManager: EM, monitoringGroup: 'S0MONITOR1' };
    });
    bot = await startSlackBot(world, {
      slack: emu,
      botToken: 'xoxb-e2e-token',
      signingSecret: SECRET,
      catalog,
      name: ns,
      env: {
        LEASE_MS: '3000',
        // The manual flow alone: watch-driven incidents have their own tests (alerts.test.ts).
        WATCH_TRIGGERS: 'false',
      },
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.close();
    redis.disconnect();
    await deleteNamespaces(world);
  });

  it('refuses forged and stale requests and unknown actions, changing nothing', async () => {
    const before = emu.messages(C).length;
    const forged = await emu.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text: 'release-manager',
      userId: ALICE,
      channelId: C,
      forgeSignature: true,
    });
    expect(forged.status).toBe(401);
    const stale = await emu.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text: 'release-manager',
      userId: ALICE,
      channelId: C,
      timestamp: Math.floor(Date.now() / 1000) - 301,
    });
    expect(stale.status).toBe(401);
    // A signed block_actions payload for an action id the bot does not know.
    const ts = Math.floor(Date.now() / 1000);
    const payload = {
      type: 'block_actions',
      user: { id: MALLORY, username: 'mallory', team_id: 'T1' },
      api_app_id: 'A1',
      token: 'x',
      team: { id: 'T1', domain: 'e' },
      channel: { id: C, name: 'incidents' },
      container: { type: 'message', message_ts: '1.1', channel_id: C, is_ephemeral: false },
      trigger_id: '1.2.3',
      response_url: `${emu.url}/response/none`,
      actions: [
        {
          type: 'button',
          action_id: 'rollback_delete_everything',
          block_id: 'x',
          value: 'x',
          action_ts: '1',
        },
      ],
    };
    const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const unknown = await fetch(`${bot.url}/slack/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signature(SECRET, ts, body),
      },
      body,
    });
    expect(unknown.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(emu.messages(C).length).toBe(before);
    expect(await store.holderOf(ns, NAME)).toBeUndefined();
  });

  it('refuses a wrong channel, an unknown service and a bad revision with ephemeral fixes', async () => {
    await command('release-manger');
    await command('release-manager --to-revision=eight');
    await command('release-manager --to-revision=42');
    const texts = await eventually('three ephemeral refusals', async () => {
      const e = emu.ephemerals({ userId: ALICE }).map((x) => x.text + JSON.stringify(x.blocks));
      return e.length >= 3 ? e : undefined;
    });
    expect(texts.join('\n')).toContain('Did you mean `release-manager`?');
    expect(texts.join('\n')).toContain('\\"eight\\" is not a revision number');
    expect(texts.join('\n')).toContain('unable to find specified revision 42 in history');
    expect(emu.messages(C).filter((m) => m.via === 'chat.postMessage')).toEqual([]);
  });

  it('rolls back through the thread: assessment, approval, notifications, progress, verification, report', async () => {
    const generationBefore = await generationOf(world, ns);
    const ack = await command('release-manager error rate 8% since v2024.01.15');
    expect(ack.status).toBe(200);
    expect(ack.ms).toBeLessThan(1000);

    const top = await eventually('root message', async () => root());
    const assessment = await eventually(
      'assessment with buttons',
      async () => emu.thread(C, top.ts).find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    );
    expect(textOf(assessment)).toContain('CrashLoopBackOff');
    expect(textOf(assessment)).toContain('← target');
    expect(textOf(assessment)).toContain('ERROR database query timeout');

    const refused = await emu.clickButton({
      botUrl: `${bot.url}/slack/events`,
      channelId: C,
      messageTs: assessment.ts,
      actionId: 'rollback_approve',
      userId: MALLORY,
    });
    expect(refused.status).toBe(200);
    await eventually('refusal to mallory', async () =>
      emu.ephemerals({ userId: MALLORY }).some((e) => e.text.includes('is not an approver')),
    );
    expect(await generationOf(world, ns)).toBe(generationBefore);

    // carol approves through her user group; her double click does one thing.
    const clicks = await Promise.all(
      [0, 1].map(() =>
        emu.clickButton({
          botUrl: `${bot.url}/slack/events`,
          channelId: C,
          messageTs: assessment.ts,
          actionId: 'rollback_approve',
          userId: CAROL,
        }),
      ),
    );
    for (const c of clicks) expect(c.status).toBe(200);
    const done = await eventually(
      'rollback completed',
      async () => (root()?.text.includes('completed') ? root() : undefined),
      120_000,
    );
    expect(done?.text).toContain('completed');
    expect(await imageOf(world, ns)).toBe(GOOD);
    expect(await generationOf(world, ns)).toBe(generationBefore + 1);

    const thread = emu.thread(C, top.ts);
    const all = thread.map(textOf).join('\n');
    const decided = thread.find((m) => m.ts === assessment.ts)!;
    expect(hasButton(decided, 'rollback_approve')).toBe(false);
    expect(textOf(decided)).toContain(`Approved by <@${CAROL}>`);
    const starting = thread.find((m) => m.text.startsWith('Initiating rollback of release-manager'));
    expect(starting?.reply_broadcast).toBe(true);
    expect(starting?.text).toMatch(/due to error rate 8% since v2024\.01\.15\. ETA: 5 minutes/);
    expect(all).toContain('<!subteam^S0MONITOR1> heads-up');
    expect(
      emu
        .dms(EM)
        .map((m) => m.text)
        .join('\n'),
    ).toContain('Initiating rollback of release-manager');
    expect(all).toMatch(/successfully rolled out|rollout to finish/);
    expect(all).toContain('complete and verified');
    const report = emu.files().find((f) => f.thread_ts === top.ts);
    expect(report?.text).toContain('# Incident Report: Rollback of release-manager');
    expect(report?.text).toContain(`Approved by <@${CAROL}>`);
    expect(thread.some((m) => m.text === 'Post-rollback checklist')).toBe(true);

    const id = rollbackIdOf(done!);
    const r = (await store.get(id)) as Rollback;
    expect(r.approvals).toHaveLength(1);
    // The bot's own /metrics counted it: one completed manual rollback, each step it went through timed.
    const scraped = await eventually('the rollback on /metrics', async () => {
      const text = await (await fetch(`${bot.url}/metrics`)).text();
      return /^rollback_bot_rollbacks_total\{service="release-manager",mode="manual",outcome="completed"\} 1$/m.test(
        text,
      )
        ? text
        : undefined;
    });
    for (const step of ['assessing', 'awaiting_approval', 'undoing', 'verifying', 'reporting'])
      expect(scraped).toMatch(
        new RegExp(`^rollback_bot_step_duration_seconds_count\\{step="${step}"\\} 1$`, 'm'),
      );
    expect(scraped).toMatch(/^rollback_bot_outbox_depth \d+$/m);
    // Every Slack call is counted by method and outcome: the posts and edits of this rollback went out.
    for (const method of ['chat.postMessage', 'chat.update'])
      expect(scraped).toMatch(
        new RegExp(`^rollback_bot_slack_calls_total\\{method="${method}",outcome="ok"\\} [1-9]\\d*$`, 'm'),
      );
    expect(scraped).toMatch(/^process_resident_memory_bytes \d+/m);
    const events = await store.events(id);
    expect(
      events.filter((e) => e.type === 'note' && e.data?.kind === 'unauthorized').map((e) => e.actor.id),
    ).toEqual([MALLORY]);

    // Ticking a checklist item is recorded and shows in the re-rendered report.
    const checklist = thread.find((m) => m.text === 'Post-rollback checklist')!;
    await emu.toggleCheckbox({
      botUrl: `${bot.url}/slack/events`,
      channelId: C,
      messageTs: checklist.ts,
      actionId: 'rollback_checklist',
      userId: BOB,
      value: 'item-0',
    });
    const ticked = await eventually('checklist recorded', async () => {
      const x = await store.get(id);
      return x?.report?.includes('- [x] Test login functionality') ? x : undefined;
    });
    expect(ticked.report).toContain(`<@${BOB}>`);

    // The report names who was really notified, from the audit trail.
    expect(ticked.report).toMatch(
      /1\. Notified stakeholders via Slack: the incident thread in .*C0INCIDENTS.*, engineering manager .*U0ENGMGR01.* \(direct message\), monitoring group .*S0MONITOR1/,
    );
    expect(ticked.report).toContain('| Execute |');
    // The thread gets the new version of the report, the same text as the stored one.
    const updated = await eventually('the updated report in the thread', async () =>
      emu.files().find((f) => f.thread_ts === top.ts && f.text.includes('- [x] Test login functionality')),
    );
    expect(updated.text).toBe((await store.get(id))?.report);

    // Sign-off: only the configured Engineering Manager; the Approval line gets name and date.
    const summary = emu.thread(C, top.ts).find((m) => hasButton(m, 'rollback_sign_off_engineering_manager'))!;
    expect(summary, 'the summary offers Sign off as Engineering Manager').toBeDefined();
    for (const userId of [BOB, EM]) {
      const click = await emu.clickButton({
        botUrl: `${bot.url}/slack/events`,
        channelId: C,
        messageTs: summary.ts,
        actionId: 'rollback_sign_off_engineering_manager',
        userId,
      });
      expect(click.status).toBe(200);
    }
    const signed = await eventually('signed off', async () => {
      const x = await store.get(id);
      return x?.signOffs?.length ? x : undefined;
    });
    expect(signed.signOffs?.map((so) => [so.role, so.by.id])).toEqual([['engineering_manager', EM]]);
    expect(signed.report).toMatch(new RegExp(`Engineering Manager: <@${EM}>.*  Date: \\d{4}-\\d{2}-\\d{2}`));
    expect(signed.report).toContain('Release Manager: ________________  Date: __________');
    const refusedSignOff = (await store.events(id)).filter(
      (e) =>
        e.type === 'note' &&
        e.data?.kind === 'unauthorized' &&
        e.data?.decision === 'sign_off_engineering_manager',
    );
    expect(refusedSignOff.map((e) => e.actor.id)).toEqual([BOB]);
    await eventually('the signed report in the thread', async () =>
      emu.files().some((f) => f.thread_ts === top.ts && f.text === signed.report) ? true : undefined,
    );
  });

  it('undoes a completed rollback on request: a new rollback to the revision it left, for approvers to decide', async () => {
    const first = root()!;
    const summary = emu.thread(C, first.ts).find((m) => hasButton(m, 'rollback_undo_rollback'));
    expect(summary, 'the completed rollback offers Undo this rollback').toBeDefined();
    const gen = await generationOf(world, ns);
    const before = emu.messages(C).length;
    await click(summary!.ts, 'rollback_undo_rollback', BOB);
    // The button gives way to who asked; the request starts in the channel like a command.
    await eventually('undo requested', async () =>
      textOf(emu.thread(C, first.ts).find((m) => m.ts === summary!.ts)!).includes(
        `Undo requested by <@${BOB}>`,
      ),
    );
    const top = await eventually('the undo root', async () => emu.messages(C)[before]);
    expect(JSON.stringify(top.history[0] ?? top)).toMatch(
      /Undo of rollback [0-9a-f]{8}: roll forward to revision \d+ \(registry\.test\/release-manager:v2024\.01\.15-bad\)/,
    );
    // What still fires is said (or that nothing does): the revision it rolls forward to was the bad one.
    expect(JSON.stringify(top.history[0] ?? top)).toMatch(
      /still firing for release-manager|No alert fires for release-manager now/,
    );
    const assessment = await eventually(
      "its assessment, with the approvers' buttons",
      async () => emu.thread(C, top.ts).find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    );
    expect(textOf(assessment)).toContain(BAD);
    // Nothing changed until an approver approves; BOB, who asked, dismisses it.
    await click(assessment.ts, 'rollback_cancel', BOB);
    await eventually('cancelled', async () => emu.messages(C)[before]?.text.includes('cancelled'));
    expect(await generationOf(world, ns)).toBe(gen);
    expect(await imageOf(world, ns)).toBe(GOOD);
  });

  it('changes nothing when the rollback is cancelled', async () => {
    await kubectlOk(world, ['set', 'image', `deployment/${NAME}`, '-n', ns, `app=${BAD}`]);
    await eventually('crash loop again', async () =>
      (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
    );
    const gen = await generationOf(world, ns);
    const previousRoots = emu.messages(C).length;
    await command('release-manager second attempt', BOB);
    const top = await eventually('new root', async () => emu.messages(C)[previousRoots]);
    const assessment = await eventually(
      'assessment',
      async () => emu.thread(C, top.ts).find((m) => hasButton(m, 'rollback_cancel')),
      60_000,
    );
    // A second responder's /rollback while this one waits: answered to them alone, with a link to the
    // thread that holds the workload; nothing is posted in the channel.
    const rootsBefore = emu.messages(C).length;
    await command('release-manager me too', CAROL);
    const answer = await eventually('the ephemeral in-progress answer', async () =>
      emu.ephemerals({ userId: CAROL, channelId: C }).find((e) => e.text.includes('already in progress')),
    );
    expect(JSON.stringify(answer.blocks)).toContain(
      `<https://emulated.slack.com/archives/${C}/p${top.ts.replace('.', '')}|Open its thread>`,
    );
    expect(answer.text).toContain(`requested by ${BOB.toLowerCase()}`);
    expect(emu.messages(C)).toHaveLength(rootsBefore);
    await click(assessment.ts, 'rollback_cancel', BOB);
    await eventually('cancelled', async () => emu.messages(C)[previousRoots]?.text.includes('cancelled'));
    expect(textOf(emu.thread(C, top.ts).find((m) => m.ts === assessment.ts)!)).toContain(
      `Cancelled by <@${BOB}>`,
    );
    expect(await generationOf(world, ns)).toBe(gen);
    expect(await imageOf(world, ns)).toBe(BAD);
  });

  it('posted only valid Block Kit and recovered from every rate limit', () => {
    // The forged unknown-action payload above carried a response_url Slack never issued: that refusal is expected.
    const notRateLimits = emu
      .rejected()
      .filter(
        (x) =>
          x.error !== 'ratelimited' &&
          !(x.method === 'response_url' && x.error === 'expired_url' && x.args?.text === 'unknown action'),
      );
    expect(notRateLimits).toEqual([]);
    const log = readFileSync(bot.logFile, 'utf8');
    expect(log).not.toMatch(/"level":"error"/);
    console.log(
      `[e2e] acks: ${acks.map((a) => a.toFixed(0)).join(', ')} ms; 429s answered: ${emu.rateLimited()}`,
    );
  });
});
