// The Run cleanup offer and click through the Slack emulator (signed requests, real Bolt, Block Kit
// validated): the commands are listed before the button, the click reaches the domain with the
// clicker and the fingerprint of what was listed, the button is replaced by who started it, and a
// refusal (not an approver, already run, commands changed) is shown to the person only. The runner is
// a recording fake; the domain's rules are tested in test/unit/rollback and on the world.
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { CodedError } from '../../../src/errors.js';
import { cleanupFingerprint } from '../../../src/rollback/data-cleanup.js';
import type { Actor, Rollback } from '../../../src/rollback/model.js';
import {
  buildCleanupOffer,
  buildCleanupStatus,
  parseCleanupButtonValue,
} from '../../../src/slack/blocks/cleanup-blocks.js';
import { createSlackApp } from '../../../src/slack/create-slack-app.js';
import { createSlackNotifier } from '../../../src/slack/notifier.js';
import { type SlackEmulator, startSlackEmulator } from '../../support/slack-emulator/index.js';

const BOT_TOKEN = 'xoxb-cleanup-test';
const SECRET = 'cleanup-test-signing-secret';
const C = 'C0INC';
const APPROVER = 'U0SRE00002';
const VISITOR = 'U0VISITOR';

const catalog = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
);
const svc = catalog.services.get('release-manager')!;

const completed = {
  id: 'r-clean',
  service: 'release-manager',
  namespace: 'production',
  deployment: 'release-manager-prod',
  state: 'completed',
  dryRun: false,
  requestedBy: { kind: 'user', id: 'U0DEV' },
  migration: {
    started: { at: '2026-01-15T10:00:00Z', by: 'bot', via: 'exec' },
    finished: { at: '2026-01-15T10:00:05Z', exitCode: 0, head: 'aaa111' },
  },
} as Rollback;

const calls: { id: string; actor: Actor; shown: string | undefined }[] = [];
const runner = {
  async runCleanup(id: string, actor: Actor, shown?: string): Promise<Rollback> {
    calls.push({ id, actor, shown });
    if (actor.id !== APPROVER)
      throw new CodedError('rollback_unauthorized', `<@${actor.id}> is not an approver for release-manager`);
    return {
      ...completed,
      cleanup: { by: actor, at: '2026-01-15T10:05:00.000Z', commands: [], results: [] },
    };
  },
};
const logger = { info() {}, warn() {}, error() {} };

let emu: SlackEmulator;
let slack: ReturnType<typeof createSlackApp>;
let botUrl: string;

beforeAll(async () => {
  emu = await startSlackEmulator({
    botToken: BOT_TOKEN,
    signingSecret: SECRET,
    users: [APPROVER, VISITOR].map((id) => ({ id, name: id.toLowerCase() })),
    channels: [{ id: C, name: 'incidents', members: [APPROVER, VISITOR] }],
  });
  slack = createSlackApp(
    { botToken: BOT_TOKEN, signingSecret: SECRET, port: 0, slackApiUrl: `${emu.url}/api/` },
    { check: async () => ({ ok: true, checks: {} }) },
  );
  slack.listen(
    runner as never,
    catalog,
    logger,
    createSlackNotifier(slack.client, catalog, logger).postRoot,
    { lasts: '4 h' } as never, // the pauses: only how long one lasts is read here
  );
  const server = (await slack.start()) as Server;
  botUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
});
afterAll(async () => {
  await slack?.stop();
  await emu?.close();
});
beforeEach(() => {
  calls.length = 0;
});

const eventually = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 150 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

async function postOffer(): Promise<string> {
  const res = await slack.client.chat.postMessage({
    channel: C,
    text: 'Data cleanup',
    blocks: buildCleanupOffer(completed, svc) as never,
  });
  return res.ts ?? '';
}

describe('the Run cleanup offer', () => {
  it('lists the commands, where they run and whether a downgrade ran, before a confirmed button', () => {
    const blocks = buildCleanupOffer(completed, svc);
    const text = JSON.stringify(blocks);
    expect(text).toContain('DROP TABLE IF EXISTS schema_migrations_temp');
    expect(text).toContain('VACUUM FULL');
    expect(text).toContain('SELECT * FROM release_deployments LIMIT 5');
    expect(text).toContain('a pod selected by app=db');
    expect(text).toContain('migrated down to `aaa111`');
    const button = (blocks[1] as { elements: { value: string; confirm?: unknown; style?: string }[] })
      .elements[0];
    expect(button?.style).toBe('danger');
    expect(button?.confirm).toBeDefined();
    expect(parseCleanupButtonValue(button?.value ?? '')).toEqual({
      id: completed.id,
      shown: cleanupFingerprint(svc.cleanup!.commands),
    });
  });

  it('is not offered before the end, after a failed rollback or a dry run, or without commands', () => {
    expect(buildCleanupOffer({ ...completed, state: 'verifying' }, svc)).toEqual([]);
    expect(buildCleanupOffer({ ...completed, state: 'failed' }, svc)).toEqual([]);
    expect(buildCleanupOffer({ ...completed, dryRun: true }, svc)).toEqual([]);
    expect(buildCleanupOffer(completed, { ...svc, cleanup: undefined })).toEqual([]);
    expect(buildCleanupOffer(completed, undefined)).toEqual([]);
  });

  it('escapes what it lists: a backtick in an argv cannot end the code span, a mention cannot ping', () => {
    const hostile = {
      ...svc,
      cleanup: {
        commands: [{ name: '<!channel>', command: ['psql', '-c', 'select `x` <@U1>'], timeoutSeconds: 5 }],
      },
    };
    const text = JSON.stringify(buildCleanupOffer(completed, hostile));
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<@U1>');
    expect(text).not.toMatch(/select `x`/);
  });

  it('once run, shows who started it and how far it got instead of the button', () => {
    const r = {
      ...completed,
      cleanup: {
        by: { kind: 'user' as const, id: APPROVER },
        at: '2026-01-15T10:05:00.000Z',
        commands: [
          { name: 'a', command: 'x', where: 'w' },
          { name: 'b', command: 'y', where: 'w' },
        ],
        results: [],
        finished: { at: '2026-01-15T10:05:09.000Z', outcome: 'failed' as const },
      },
    };
    expect(JSON.stringify(buildCleanupOffer(r, svc))).toContain(
      `started by <@${APPROVER}> at 10:05:00 UTC, stopped at its first failure at 10:05:09 UTC (0 of 2 ran)`,
    );
    expect(JSON.stringify(buildCleanupStatus(r))).not.toContain('rollback_run_cleanup');
  });
});

describe('a Run cleanup click', () => {
  it('reaches the domain with the approver and what was listed, and the button gives way to who started it', async () => {
    const ts = await postOffer();
    await emu.clickButton({
      botUrl,
      channelId: C,
      messageTs: ts,
      actionId: 'rollback_run_cleanup',
      userId: APPROVER,
    });
    await eventually('button replaced', () => (emu.messages(C).find((m) => m.ts === ts)?.edits ?? 0) > 0);
    expect(calls).toEqual([
      {
        id: completed.id,
        actor: expect.objectContaining({ kind: 'user', id: APPROVER }),
        shown: cleanupFingerprint(svc.cleanup!.commands),
      },
    ]);
    const now = JSON.stringify(emu.messages(C).find((m) => m.ts === ts)?.blocks);
    expect(now).toContain(`Data cleanup started by <@${APPROVER}>`);
    expect(now).not.toContain('rollback_run_cleanup');
  });

  it('tells anyone else why not, privately, and leaves the button', async () => {
    const ts = await postOffer();
    const before = emu.ephemerals({ userId: VISITOR }).length;
    await emu.clickButton({
      botUrl,
      channelId: C,
      messageTs: ts,
      actionId: 'rollback_run_cleanup',
      userId: VISITOR,
    });
    await eventually('refusal shown', () => emu.ephemerals({ userId: VISITOR }).length > before);
    expect(emu.ephemerals({ userId: VISITOR }).at(-1)?.text).toMatch(
      /is not an approver for release-manager/,
    );
    expect(JSON.stringify(emu.messages(C).find((m) => m.ts === ts)?.blocks)).toContain(
      'rollback_run_cleanup',
    );
  });
});
