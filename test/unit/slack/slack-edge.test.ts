// The bot's Slack edge in process, against the Slack emulator (signed requests, real Bolt): requests
// from another workspace or app stop before any listener, and checklist ticks come only from the
// service's approvers and the requester. The runner is a recording fake: nothing here needs the world.
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { createRedactor } from '../../../src/redact.js';
import { POST_ROLLBACK_CHECKLIST } from '../../../src/rollback/checklist.js';
import { assertMayTickChecklist } from '../../../src/rollback/checklist-access.js';
import type { Actor, Rollback } from '../../../src/rollback/model.js';
import { buildChecklist } from '../../../src/slack/blocks/rollback-blocks.js';
import { createSlackApp } from '../../../src/slack/create-slack-app.js';
import { FOREIGN_TEXT } from '../../../src/slack/middleware/pin-workspace.js';
import { createSlackNotifier } from '../../../src/slack/notifier.js';
import { type SlackEmulator, startSlackEmulator } from '../../support/slack-emulator/index.js';

const BOT_TOKEN = 'xoxb-edge-test';
const SECRET = 'edge-test-signing-secret';
const C = 'C0INC';
const REQUESTER = 'U0DEV';
const APPROVER = 'U0SRE00002';
const ONCALL = 'U0ONCALL';
const VISITOR = 'U0VISITOR';

const catalog = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
);

const rollback = {
  id: 'r-edge',
  service: 'release-manager',
  state: 'completed',
  requestedBy: { kind: 'user', id: REQUESTER },
} as Rollback;

const calls: { method: string; args: unknown[] }[] = [];
const record =
  (method: string, result?: unknown) =>
  async (...args: unknown[]) => {
    calls.push({ method, args });
    return result;
  };
const runner = {
  recent: record('recent', []),
  history: record('history', []),
  check: record('check'),
  request: record('request', rollback),
  get: record('get', rollback),
  // As the domain does: who may tick is the domain's rule (it also audits a refusal in the trail).
  recordChecklist: async (id: string, actor: Actor, selected: string[]) => {
    calls.push({ method: 'recordChecklist', args: [id, actor, selected] });
    assertMayTickChecklist(catalog.services.get('release-manager')!, rollback, actor);
    return rollback;
  },
  approve: record('approve', rollback),
  cancel: record('cancel', rollback),
  approveMigration: record('approveMigration', rollback),
};
const warnings: { msg: string; data?: Record<string, unknown> }[] = [];
const logger = {
  info() {},
  warn: (msg: string, data?: Record<string, unknown>) => warnings.push({ msg, data }),
  error() {},
};

let emu: SlackEmulator;
let slack: ReturnType<typeof createSlackApp>;
let botUrl: string;
let checklistTs: string;

beforeAll(async () => {
  emu = await startSlackEmulator({
    botToken: BOT_TOKEN,
    signingSecret: SECRET,
    teamId: 'T0OURS',
    appId: 'A0OURS',
    users: [REQUESTER, APPROVER, ONCALL, VISITOR].map((id) => ({ id, name: id.toLowerCase() })),
    usergroups: { S0SREONCALL: [ONCALL] },
    channels: [{ id: C, name: 'incidents', members: [REQUESTER, APPROVER, ONCALL, VISITOR] }],
  });
  slack = createSlackApp(
    {
      botToken: BOT_TOKEN,
      signingSecret: SECRET,
      port: 0,
      slackApiUrl: `${emu.url}/api/`,
      teamId: 'T0OURS',
      appId: 'A0OURS',
      redactor: createRedactor([SECRET, BOT_TOKEN]),
      logger,
    },
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
  const posted = await slack.client.chat.postMessage({
    channel: C,
    text: 'Post-rollback checklist',
    blocks: buildChecklist(rollback.id, POST_ROLLBACK_CHECKLIST, new Set()),
  });
  checklistTs = posted.ts ?? '';
});
afterAll(async () => {
  await slack?.stop();
  await emu?.close();
});
beforeEach(() => {
  calls.length = 0;
  warnings.length = 0;
});

const eventually = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

describe('workspace and app pinning through Slack', () => {
  it('serves our workspace', async () => {
    const res = await emu.sendSlashCommand({
      botUrl,
      command: '/rollback',
      text: 'status',
      userId: VISITOR,
      channelId: C,
    });
    expect(res.status).toBe(200);
    await eventually('status asked', () => calls.some((c) => c.method === 'recent'));
  });

  it.each([
    ['another workspace', { asTeamId: 'T0THEIRS' }],
    ['another app', { asAppId: 'A0OTHER' }],
  ])('refuses a command from %s with an ephemeral and a log line, doing nothing', async (_n, as) => {
    const res = await emu.sendSlashCommand({
      botUrl,
      command: '/rollback',
      text: 'release-manager --dry-run',
      userId: REQUESTER,
      channelId: C,
      ...as,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ response_type: 'ephemeral', text: FOREIGN_TEXT });
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toEqual([]);
    expect(warnings.map((w) => w.msg)).toEqual(['Slack request from another workspace or app refused']);
    expect(emu.messages(C).filter((m) => m.ts !== checklistTs)).toEqual([]);
  });

  it('refuses a click from another workspace without calling anything', async () => {
    const res = await emu.toggleCheckbox({
      botUrl,
      channelId: C,
      messageTs: checklistTs,
      actionId: 'rollback_checklist',
      userId: APPROVER,
      value: 'item-0',
      asTeamId: 'T0THEIRS',
    });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toEqual([]);
    expect(warnings).toHaveLength(1);
  });
});

describe('checklist ticks', () => {
  const tick = (userId: string, value = 'item-0') =>
    emu.toggleCheckbox({
      botUrl,
      channelId: C,
      messageTs: checklistTs,
      actionId: 'rollback_checklist',
      userId,
      value,
    });

  it.each([
    ['the requester', REQUESTER, 2],
    ['an approver', APPROVER, 3],
    ['a member of an approver group', ONCALL, 4],
  ])('records a tick by %s with its actor', async (_n, userId, item) => {
    // A distinct item each: the emulator keeps the boxes' state, so ticking one twice would untick it.
    await tick(userId, `item-${item}`);
    await eventually('tick recorded', () => calls.some((c) => c.method === 'recordChecklist'));
    const rec = calls.find((c) => c.method === 'recordChecklist');
    expect(rec?.args[0]).toBe(rollback.id);
    expect((rec?.args[1] as Actor | undefined)?.id).toBe(userId);
    expect(rec?.args[2]).toContain(POST_ROLLBACK_CHECKLIST[item]);
  });

  it('refuses a tick by anyone else: the domain refuses it with who tried, and the person is told', async () => {
    const before = emu.ephemerals({ userId: VISITOR }).length;
    await tick(VISITOR, 'item-1');
    await eventually('refusal shown', () => emu.ephemerals({ userId: VISITOR }).length > before);
    expect(calls.map((c) => c.method)).toEqual(['get', 'recordChecklist']);
    expect((calls[1]?.args[1] as Actor | undefined)?.id).toBe(VISITOR);
    const shown = emu.ephemerals({ userId: VISITOR }).at(-1);
    expect(shown?.text).toMatch(/approvers and the requester tick this checklist/);
    expect(JSON.stringify(shown?.blocks)).toContain(`<@${REQUESTER}>`);
  });
});
