// What /rollback answers in its ack, through the Slack emulator (signed requests, real Bolt): help is
// the ack itself (no second request to response_url); every other command acks empty first and
// answers afterwards, so nothing slow (Redis, Kubernetes) sits between Slack and the ack.
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { createSlackApp } from '../../../src/slack/create-slack-app.js';
import { createSlackNotifier } from '../../../src/slack/notifier.js';
import { helpText } from '../../../src/slack/parse-command.js';
import { type SlackEmulator, startSlackEmulator } from '../../support/slack-emulator/index.js';

const BOT_TOKEN = 'xoxb-ack-test';
const SECRET = 'ack-test-signing-secret';
const C = 'C0INC';
const U = 'U0SRE00001';

const catalog = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
);
let recentCalls = 0;
const held: (() => void)[] = [];
const releaseRecent = () => {
  for (const r of held.splice(0)) r();
};
const runner = {
  // Held until the test has seen the ack: the answer cannot have been waited for.
  recent: async () => {
    recentCalls++;
    await new Promise<void>((r) => held.push(r));
    return [];
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
    users: [{ id: U, name: 'alice' }],
    channels: [{ id: C, name: 'incidents', members: [U] }],
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

const send = (text: string) =>
  emu.sendSlashCommand({ botUrl, command: '/rollback', text, userId: U, channelId: C });

describe('/rollback acks', () => {
  it('answers help in the ack, with no request to response_url', async () => {
    for (const text of ['help', '  help me  ']) {
      const r = await send(text);
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body) as { response_type: string; blocks: { text: { text: string } }[] };
      expect(body.response_type).toBe('ephemeral');
      expect(body.blocks[0]?.text.text).toBe(helpText('4 h'));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(emu.calls('response_url')).toEqual([]);
    expect(emu.rejected()).toEqual([]);
  });

  it('acks anything else empty before the work, and answers through response_url', async () => {
    const r = await send('status');
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    // The ack came back while the store read was still pending.
    expect(recentCalls).toBe(1);
    releaseRecent();
    for (let i = 0; i < 100 && emu.calls('response_url').length === 0; i++)
      await new Promise((res) => setTimeout(res, 20));
    expect(emu.calls('response_url')).toHaveLength(1);
  });

  it('acks a burst of commands before working on more than four of them', async () => {
    recentCalls = 0;
    const before = emu.calls('response_url').length;
    const acks = await Promise.all(Array.from({ length: 20 }, () => send('status')));
    // Every command acked, empty, while four of them were being worked on and sixteen waited.
    expect(acks.map((a) => [a.status, a.body])).toEqual(Array.from({ length: 20 }, () => [200, '']));
    await new Promise((r) => setTimeout(r, 50));
    expect(recentCalls).toBe(4);
    // Released, the rest follow in turn, and every one is answered.
    for (let i = 0; i < 200 && emu.calls('response_url').length < before + 20; i++) {
      releaseRecent();
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(recentCalls).toBe(20);
    expect(emu.calls('response_url').length).toBe(before + 20);
  });
});
