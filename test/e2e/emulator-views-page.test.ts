// The emulator's channel page in a real browser shows a modal and the App Home tab the way a person
// would use them: a command opens the modal, the bot's field errors appear on their field with what
// the user typed kept, a valid submission closes it, and opening App Home shows what the bot
// published. A real Bolt app plays the bot, so every step goes through the signed paths.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';

const BOT_TOKEN = 'xoxb-test-views-page';
const SECRET = 'views-page-secret';
const plain = (text: string) => ({ type: 'plain_text' as const, text });

let slack: SlackEmulator;
let app: App;
let botUrl: string;
const submissions: string[] = [];

beforeAll(async () => {
  slack = await startSlackEmulator({
    botToken: BOT_TOKEN,
    signingSecret: SECRET,
    users: [{ id: 'U1', name: 'alice', realName: 'Alice A' }],
    channels: [{ id: 'C1', name: 'incidents', members: ['U1'] }],
    ui: { title: 'Acme', botName: 'rollback-bot' },
  });
  app = new App({
    token: BOT_TOKEN,
    signingSecret: SECRET,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } },
  });
  app.command('/rollback', async ({ ack, body, client }) => {
    await ack();
    await client.views.open({
      trigger_id: body.trigger_id,
      view: {
        type: 'modal',
        callback_id: 'rb',
        title: plain('Roll back'),
        submit: plain('Start'),
        blocks: [
          {
            type: 'input',
            block_id: 'service',
            label: plain('Service'),
            element: {
              type: 'static_select',
              action_id: 'pick',
              options: [
                { text: plain('web'), value: 'web' },
                { text: plain('api'), value: 'api' },
              ],
            },
          },
          {
            type: 'input',
            block_id: 'reason',
            label: plain('Reason'),
            element: { type: 'plain_text_input', action_id: 'text' },
          },
        ],
      },
    });
  });
  app.view('rb', async ({ ack, view }) => {
    const service = view.state.values.service?.pick?.selected_option?.value ?? '';
    submissions.push(`${service}:${view.state.values.reason?.text?.value ?? ''}`);
    if (service === 'api')
      await ack({ response_action: 'errors', errors: { service: 'api has no history' } });
    else await ack();
  });
  app.event('app_home_opened', async ({ event, client }) => {
    await client.views.publish({
      user_id: event.user,
      view: {
        type: 'home',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*web*: revision 41' } }],
      },
    });
  });
  const server = (await app.start(0)) as Server;
  botUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  slack.setBotUrl(botUrl);
});

afterAll(async () => {
  await app?.stop();
  await slack?.close();
});

describe('the channel page with views', () => {
  it('shows the modal with its fields and errors, and the App Home tab', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(slack.pageUrl('C1'));
      await page.waitForFunction('document.body.dataset.ready === "1"');
      await expect(page.locator('#modal').isHidden()).resolves.toBe(true);

      await slack.sendSlashCommand({ botUrl, command: '/rollback', text: '', userId: 'U1', channelId: 'C1' });
      await page.locator('#modal:not([hidden]) #modal-title').waitFor();
      await expect(page.locator('#modal-title').textContent()).resolves.toBe('Roll back');

      // Slack's client refuses an empty required field before anything reaches the bot.
      await page.locator('[data-input-block="reason"]').fill('error spike');
      await page.locator('#modal-submit').click();
      await page.locator('.field[data-block-id="service"] .field-error').waitFor();
      expect(submissions).toEqual([]);

      await page.locator('select[data-input-block="service"]').selectOption('api');
      await page.locator('#modal-submit').click();
      await expect
        .poll(() => page.locator('.field[data-block-id="service"] .field-error').textContent())
        .toBe('api has no history');
      await expect(page.locator('[data-input-block="reason"]').inputValue()).resolves.toBe('error spike');

      await page.locator('select[data-input-block="service"]').selectOption('web');
      await page.locator('#modal-submit').click();
      await page.locator('#modal').waitFor({ state: 'hidden' });
      expect(submissions).toEqual(['api:error spike', 'web:error spike']);

      await page.locator('#open-home').click();
      await expect.poll(() => page.locator('#home').textContent()).toContain('revision 41');
      expect(slack.rejected()).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
