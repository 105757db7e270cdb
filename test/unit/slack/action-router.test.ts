// One Bolt listener for every block action (action-router.ts), through the Slack emulator's signed
// clicks and a real Bolt app: each click reaches exactly the handler of its action_id, an id nobody
// claims reaches only the fallback, and an id cannot be claimed twice.
import type { AddressInfo, Server } from 'node:net';
import { App, LogLevel } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActionRouter } from '../../../src/slack/listeners/action-router.js';
import { type SlackEmulator, startSlackEmulator } from '../../support/slack-emulator/index.js';

const BOT_TOKEN = 'xoxb-router-test';
const SECRET = 'router-test-signing-secret';
const C = 'C0OPS';
const U = 'U0ALICE';

let emu: SlackEmulator;
let app: App;
let botUrl: string;
const ran: string[] = [];
let router: ReturnType<typeof createActionRouter>;

beforeAll(async () => {
  emu = await startSlackEmulator({
    botToken: BOT_TOKEN,
    signingSecret: SECRET,
    users: [{ id: U, name: 'alice' }],
    channels: [{ id: C, name: 'ops', members: [U] }],
  });
  app = new App({
    token: BOT_TOKEN,
    signingSecret: SECRET,
    port: 0,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: `${emu.url}/api/`, retryConfig: { retries: 0 } },
  });
  router = createActionRouter(app);
  for (const id of ['approve', 'cancel'])
    router.action(id, async ({ ack, action }) => {
      await ack();
      ran.push(`${id}:${action.action_id}`);
    });
  router.otherwise(async ({ ack, action }) => {
    await ack();
    ran.push(`otherwise:${action.action_id}`);
  });
  const server = (await app.start()) as Server;
  botUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
});
afterAll(async () => {
  await app?.stop();
  await emu?.close();
});

const button = (action_id: string) => ({
  type: 'button' as const,
  action_id,
  value: 'v',
  text: { type: 'plain_text' as const, text: action_id },
});

describe('the action router', () => {
  it('sends each click to its own handler once, and an unclaimed id to the fallback only', async () => {
    const posted = await app.client.chat.postMessage({
      channel: C,
      text: 'decide',
      blocks: [{ type: 'actions', elements: [button('approve'), button('cancel'), button('approve_old')] }],
    });
    for (const actionId of ['approve', 'cancel', 'approve_old']) {
      const click = await emu.clickButton({
        botUrl,
        channelId: C,
        messageTs: posted.ts ?? '',
        actionId,
        userId: U,
      });
      expect(click.status).toBe(200);
    }
    expect(ran).toEqual(['approve:approve', 'cancel:cancel', 'otherwise:approve_old']);
  });

  it('refuses a second handler for one action_id', () => {
    expect(() => router.action('approve', async () => undefined)).toThrow(/approve has a handler already/);
  });
});
