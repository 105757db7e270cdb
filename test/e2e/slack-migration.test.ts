// A rollback that needs a database downgrade, through Slack: the rollback's approval does not cover
// the downgrade; it waits for its own, which only an approver can give, and nothing changes until then.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { databaseHead, generationOf, imageOf, setDatabaseHead, shipReleases } from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { hasButton, textOf } from '../support/slack-text.js';

const world = inject('world');
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const C = 'C0INCIDENTS';
const [ALICE, BOB, MALLORY] = ['U0SRE00001', 'U0SRE00002', 'U0INTRUDER'];
const SECRET = 'migration-signing-secret';

describe('a rollback with a database downgrade, in Slack', () => {
  let emu: SlackEmulator;
  let bot: BotProcess;
  let ns: string;
  const redis = new Redis(world.redisUrl);
  const store = createRedisStore(redis);

  beforeAll(async () => {
    ns = await freshNamespace(world, 'e2e-migration');
    // The bad release migrated the database forward to bbb222; the good one expects aaa111.
    await setDatabaseHead(world, 'bbb222');
    await shipReleases(world, ns, [
      { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' },
      { image: BAD, cause: 'Release v2024.01.15', head: 'bbb222' },
    ]);
    emu = await startSlackEmulator({
      botToken: 'xoxb-migration',
      signingSecret: SECRET,
      users: [ALICE, BOB, MALLORY].map((id) => ({ id, name: id.toLowerCase() })),
      channels: [{ id: C, name: 'incidents', members: [ALICE, BOB, MALLORY] }],
    });
    const catalog = worldCatalog(world, ns, (svc) => {
      svc.channel = C;
      svc.approvers = { users: [ALICE, BOB], groups: [], requireSecondPerson: false, expireMinutes: 60 };
      svc.notify = {};
    });
    bot = await startSlackBot(world, {
      slack: emu,
      botToken: 'xoxb-migration',
      signingSecret: SECRET,
      catalog,
      name: ns,
      env: {
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

  it('asks for the downgrade separately, refuses a non-approver, and rolls back once it is approved', async () => {
    const generationBefore = await generationOf(world, ns);
    const click = (messageTs: string, actionId: string, userId: string) =>
      emu.clickButton({ botUrl: `${bot.url}/slack/events`, channelId: C, messageTs, actionId, userId });
    await emu.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text: 'release-manager',
      userId: BOB,
      channelId: C,
    });
    const root = await eventually('root message', async () => emu.messages(C)[0]);
    const thread = () => emu.thread(C, root.ts);
    const assessment = await eventually(
      'assessment',
      async () => thread().find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    ).catch(bot.explain);
    expect(textOf(assessment)).toContain('will ask for a separate decision');
    await click(assessment.ts, 'rollback_approve', ALICE);

    const prompt = await eventually(
      'downgrade approval prompt',
      async () => thread().find((m) => hasButton(m, 'rollback_approve_migration')),
      60_000,
    ).catch(bot.explain);
    expect(textOf(prompt)).toContain('It is at `bbb222`');
    expect(textOf(prompt)).toContain('expects `aaa111`');
    expect(emu.messages(C)[0]?.text).toContain('awaiting migration approval');
    // People were told; nothing was changed.
    expect(thread().some((m) => m.text.startsWith('Initiating rollback of release-manager'))).toBe(true);
    expect(await generationOf(world, ns)).toBe(generationBefore);
    expect(await databaseHead(world)).toBe('bbb222');

    await click(prompt.ts, 'rollback_approve_migration', MALLORY);
    await eventually('refusal to mallory', async () =>
      emu.ephemerals({ userId: MALLORY }).some((e) => e.text.includes('is not an approver')),
    );
    expect(await databaseHead(world)).toBe('bbb222');

    await click(prompt.ts, 'rollback_approve_migration', BOB);
    await eventually(
      'verified',
      async () => thread().some((m) => textOf(m).includes('complete and verified')),
      120_000,
    ).catch(bot.explain);
    expect(await databaseHead(world)).toBe('aaa111');
    expect(await imageOf(world, ns)).toBe(GOOD);
    expect(await generationOf(world, ns)).toBe(generationBefore + 1);
    const decided = thread().find((m) => m.ts === prompt.ts)!;
    expect(hasButton(decided, 'rollback_approve_migration')).toBe(false);
    expect(textOf(decided)).toContain(`Migration downgrade approved by <@${BOB}>`);

    const id = /id `([0-9a-f-]{36})`/.exec(textOf(emu.messages(C)[0]!))?.[1] ?? '';
    const r = await store.get(id);
    expect(r?.approvals.map((a) => a.by.id)).toEqual([ALICE]);
    expect(r?.migrationApproval?.by.id).toBe(BOB);
    expect(r?.report).toContain(`Database downgrade approved by: <@${BOB}>`);
    expect(emu.rejected().filter((x) => x.error !== 'ratelimited')).toEqual([]);
  });
});
