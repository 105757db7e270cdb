// Slack is not in the critical path: a 60 s Slack outage (every Web API call hangs) starts right after
// the approval. The rollback still finishes on time, and once Slack answers again the thread catches
// up completely, in order, each notice once.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { imageOf, setDatabaseHead, shipReleases } from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { hasButton, textOf } from '../support/slack-text.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const C = 'C0INCIDENTS';
const [ALICE, BOB] = ['U0SRE00001', 'U0SRE00002'];
const SECRET = 'outage-signing-secret';
const OUTAGE_MS = 60_000;

describe('Slack outage mid-rollback', () => {
  let emu: SlackEmulator;
  let bot: BotProcess;
  let ns: string;
  const redis = new Redis(world.redisUrl);
  const store = createRedisStore(redis);

  beforeAll(async () => {
    ns = await freshNamespace(world, 'outage');
    await setDatabaseHead(world, 'aaa111');
    await shipReleases(world, ns, [
      { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' },
      { image: BAD, cause: 'Release v2024.01.15', head: 'aaa111' },
    ]);
    emu = await startSlackEmulator({
      botToken: 'xoxb-outage',
      signingSecret: SECRET,
      users: [ALICE, BOB].map((id) => ({ id, name: id.toLowerCase() })),
      channels: [{ id: C, name: 'incidents', members: [ALICE, BOB] }],
    });
    const catalog = worldCatalog(world, ns, (svc) => {
      svc.channel = C;
      svc.approvers = { users: [ALICE, BOB], groups: [], requireSecondPerson: false, expireMinutes: 60 };
      svc.notify = {};
      // This test is about Slack; the database gate has its own tests.
      delete svc.migrations;
      svc.smokeChecks = svc.smokeChecks.filter((c) => c.http);
    });
    bot = await startSlackBot(world, {
      slack: emu,
      botToken: 'xoxb-outage',
      signingSecret: SECRET,
      catalog,
      name: ns,
      env: { WATCH_TRIGGERS: 'false' },
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.close();
    redis.disconnect();
    await deleteNamespaces(world);
  });

  it('finishes the rollback during the outage, then delivers every notice once and in order', async () => {
    await emu.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text: 'release-manager',
      userId: ALICE,
      channelId: C,
    });
    const root = await eventually('root message', async () => emu.messages(C)[0]);
    const thread = () => emu.thread(C, root.ts);
    const assessment = await eventually(
      'assessment',
      async () => thread().find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    ).catch(bot.explain);
    const id = /id `([0-9a-f-]{36})`/.exec(textOf(emu.messages(C)[0]!))?.[1] ?? '';
    expect(id).not.toBe('');

    await emu.clickButton({
      botUrl: `${bot.url}/slack/events`,
      channelId: C,
      messageTs: assessment.ts,
      actionId: 'rollback_approve',
      userId: BOB,
    });
    const outageStart = Date.now();
    emu.outage(OUTAGE_MS);
    const done = await eventually(
      'rollback ended during the outage',
      async () => {
        const r = await store.get(id);
        return r && (r.state === 'completed' || r.state === 'failed') ? r : undefined;
      },
      OUTAGE_MS,
    ).catch(bot.explain);
    const finishedMs = Date.now() - outageStart;
    expect(done.state).toBe('completed');
    expect(await imageOf(world, ns)).toBe(GOOD);
    expect(finishedMs).toBeLessThan(OUTAGE_MS);
    // Nothing reached Slack meanwhile: the thread still ends at the assessment.
    const during = thread().length;

    const verified = await eventually(
      'thread caught up',
      async () => thread().find((m) => textOf(m).includes('complete and verified')),
      OUTAGE_MS + 90_000,
    ).catch(bot.explain);
    const catchUpMs = Date.now() - (outageStart + OUTAGE_MS);
    console.log(
      `[outage] rollback ended ${finishedMs} ms into a ${OUTAGE_MS} ms Slack outage; thread caught up ${catchUpMs} ms after it ended (${during} → ${thread().length} replies)`,
    );
    expect(verified).toBeDefined();
    expect(
      await eventually(
        'report uploaded',
        async () => (emu.files().length > 0 ? emu.files() : undefined),
        30_000,
      ),
    ).toHaveLength(1);
    const texts = thread().map((m) => `${m.text}\n${textOf(m)}`);
    const once = (re: RegExp) => texts.filter((t) => re.test(t)).length;
    expect(once(/^Initiating rollback of release-manager/m)).toBe(1);
    expect(once(/complete and verified/)).toBe(1);
    const announced = texts.findIndex((t) => /^Initiating rollback of release-manager/m.test(t));
    const result = texts.findIndex((t) => /complete and verified/.test(t));
    expect(announced).toBeGreaterThan(-1);
    expect(result).toBeGreaterThan(announced);
    await eventually('root message shows the end', async () =>
      textOf(emu.messages(C)[0]!).includes('completed') ? true : undefined,
    );
  }, 300_000);
});
