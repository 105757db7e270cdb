// Modals and App Home in the Slack emulator: a trigger opens one view, once, within its time to live;
// views carry Slack's limits; a submission's ack decides what happens to the modal; app_home_opened
// reaches a real Bolt app, which publishes a Home tab. Each refusal is checked by Slack's error code,
// so an emulator that accepted anything would fail here.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type SlackEmulator,
  type SlackEmulatorOptions,
  startSlackEmulator,
} from '../support/slack-emulator/index.js';
import { recordingBot } from '../support/slack-emulator/recording-bot.js';
import { refusal, silentWebLogger } from '../support/web-client.js';

const BOT_TOKEN = 'xoxb-test-views';
const SECRET = 'views-signing-secret';

const options = (extra: Partial<SlackEmulatorOptions> = {}): SlackEmulatorOptions => ({
  botToken: BOT_TOKEN,
  signingSecret: SECRET,
  users: [
    { id: 'U1', name: 'alice' },
    { id: 'U2', name: 'bob' },
  ],
  channels: [{ id: 'C1', name: 'ops', members: ['U1', 'U2'] }],
  ...extra,
});

const plain = (text: string) => ({ type: 'plain_text' as const, text });
const reasonInput = {
  type: 'input' as const,
  block_id: 'reason',
  label: plain('Reason'),
  element: { type: 'plain_text_input' as const, action_id: 'text', max_length: 20 },
};
const serviceInput = {
  type: 'input' as const,
  block_id: 'service',
  label: plain('Service'),
  element: {
    type: 'static_select' as const,
    action_id: 'pick',
    options: [
      { text: plain('web'), value: 'web' },
      { text: plain('api'), value: 'api' },
    ],
  },
};
const modal = (extra: Record<string, unknown> = {}) => ({
  type: 'modal' as const,
  callback_id: 'rollback_modal',
  title: plain('Roll back'),
  submit: plain('Start'),
  blocks: [serviceInput, reasonInput],
  ...extra,
});

let slack: SlackEmulator;
let client: webApi.WebClient;

const clientFor = () =>
  new webApi.WebClient(BOT_TOKEN, {
    slackApiUrl: `${slack.url}/api/`,
    retryConfig: { retries: 0 },
    logger: silentWebLogger,
  });

beforeEach(async () => {
  slack = await startSlackEmulator(options());
  client = clientFor();
});
afterEach(async () => {
  await slack.close();
});

/** A trigger as the bot gets one: from a slash command the recording bot acks. */
async function trigger(userId = 'U1'): Promise<string> {
  const bot = await recordingBot();
  try {
    const cmd = await slack.sendSlashCommand({
      botUrl: bot.url,
      command: '/rollback',
      text: '',
      userId,
      channelId: 'C1',
    });
    return cmd.triggerId;
  } finally {
    await bot.close();
  }
}

describe('views.open and its trigger', () => {
  it('opens a modal once per trigger, for the user who triggered it', async () => {
    const t = await trigger('U2');
    const opened = await client.views.open({ trigger_id: t, view: modal() });
    expect(opened.view).toMatchObject({
      type: 'modal',
      callback_id: 'rollback_modal',
      root_view_id: opened.view?.id,
    });
    expect(slack.views('U2').modals.map((v) => v.id)).toEqual([opened.view?.id]);
    expect(slack.views('U1').modals).toEqual([]);
    expect((await refusal(client.views.open({ trigger_id: t, view: modal() }))).error).toBe(
      'exchanged_trigger_id',
    );
  });

  it('refuses a trigger that has expired, one it never issued, and one not in Slack’s shape', async () => {
    await slack.close();
    slack = await startSlackEmulator(options({ triggerTtlMs: 50 }));
    client = new webApi.WebClient(BOT_TOKEN, {
      slackApiUrl: `${slack.url}/api/`,
      retryConfig: { retries: 0 },
    });
    const t = await trigger();
    await new Promise((r) => setTimeout(r, 80));
    expect((await refusal(client.views.open({ trigger_id: t, view: modal() }))).error).toBe(
      'expired_trigger_id',
    );
    expect((await refusal(client.views.open({ trigger_id: '1.2.abcdef', view: modal() }))).error).toBe(
      'invalid_trigger_id',
    );
    expect((await refusal(client.views.open({ trigger_id: 'nope', view: modal() }))).error).toBe(
      'invalid_trigger_id',
    );
    expect(slack.views('U1').modals).toEqual([]);
  });

  it('refuses views beyond Slack’s limits, pointing into /view', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ title: plain('A title that is far too long') }, '/view/title/text'],
      [{ submit: undefined }, 'submit'],
      [{ blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) }, '/view/blocks'],
      [{ private_metadata: 'x'.repeat(3001) }, '/view/private_metadata'],
      [{ blocks: [{ type: 'section' }] }, '/view/blocks/0'],
    ];
    for (const [change, pointer] of cases) {
      const r = await refusal(
        client.views.open({ trigger_id: await trigger(), view: { ...modal(), ...change } as never }),
      );
      expect(r.error).toBe('invalid_arguments');
      expect(r.response_metadata?.messages?.join(' ')).toContain(pointer);
    }
    const big = {
      ...modal(),
      private_metadata: '',
      blocks: [{ type: 'section', text: plain('x'.repeat(3000)) }],
    };
    const huge = { ...big, blocks: Array.from({ length: 90 }, () => big.blocks[0]) };
    expect(
      (await refusal(client.views.open({ trigger_id: await trigger(), view: huge as never }))).error,
    ).toBe('view_too_large');
    // 100 blocks is the limit, not 50 as for a message.
    const hundred = {
      ...modal(),
      blocks: [...Array.from({ length: 98 }, () => ({ type: 'divider' })), serviceInput, reasonInput],
    };
    await client.views.open({ trigger_id: await trigger(), view: hundred as never });
  });
});

describe('views.update, views.push and views.publish', () => {
  it('updates by id with the current hash only, and stacks at most three modals', async () => {
    const opened = await client.views.open({ trigger_id: await trigger(), view: modal() });
    const id = opened.view?.id ?? '';
    const hash = opened.view?.hash ?? '';
    const updated = await client.views.update({ view_id: id, hash, view: modal({ title: plain('Loaded') }) });
    expect(updated.view?.id).toBe(id);
    expect((await refusal(client.views.update({ view_id: id, hash, view: modal() }))).error).toBe(
      'hash_conflict',
    );
    expect((await refusal(client.views.update({ view_id: 'V0NOPE', view: modal() }))).error).toBe(
      'not_found',
    );
    await client.views.push({ trigger_id: await trigger(), view: modal() });
    await client.views.push({ trigger_id: await trigger(), view: modal() });
    expect((await refusal(client.views.push({ trigger_id: await trigger(), view: modal() }))).error).toBe(
      'push_limit_reached',
    );
    expect(slack.views('U1').modals).toHaveLength(3);
  });

  it('publishes a Home tab per user, refusing a modal, an unknown user and a stale hash', async () => {
    const home = {
      type: 'home' as const,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*web* v41' } }],
    };
    const first = await client.views.publish({ user_id: 'U1', view: home });
    expect(slack.views('U1').home?.blocks).toHaveLength(1);
    expect((await refusal(client.views.publish({ user_id: 'U1', view: modal() as never }))).error).toBe(
      'invalid_arguments',
    );
    expect((await refusal(client.views.publish({ user_id: 'U9', view: home }))).error).toBe('user_not_found');
    await client.views.publish({ user_id: 'U1', hash: first.view?.hash ?? '', view: home });
    expect(
      (await refusal(client.views.publish({ user_id: 'U1', hash: first.view?.hash ?? '', view: home })))
        .error,
    ).toBe('hash_conflict');
    expect(slack.views('U2').home).toBeUndefined();
  });

  it('rate-limits views.publish per workspace with 429 and Retry-After', async () => {
    await slack.close();
    slack = await startSlackEmulator(options({ viewsRateLimit: { perSecond: 1, burst: 2 } }));
    const home = { type: 'home' as const, blocks: [] };
    const res = await Promise.all(
      [1, 2, 3].map(() =>
        fetch(`${slack.url}/api/views.publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: 'U1', view: home }),
        }),
      ),
    );
    expect(res.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    expect(res.find((r) => r.status === 429)?.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('submissions, closing and App Home with a real Bolt app', () => {
  async function boltApp(): Promise<{ app: App; botUrl: string; submitted: Record<string, unknown>[] }> {
    const app = new App({
      token: BOT_TOKEN,
      signingSecret: SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } },
    });
    const submitted: Record<string, unknown>[] = [];
    app.command('/rollback', async ({ ack, body, client: c }) => {
      await ack();
      await c.views.open({ trigger_id: body.trigger_id, view: modal({ notify_on_close: true }) });
    });
    app.view('rollback_modal', async ({ ack, view }) => {
      const values = view.state.values;
      submitted.push(values);
      const service = values.service?.pick?.selected_option?.value;
      if (service === 'api')
        await ack({ response_action: 'errors', errors: { service: 'api has no history' } });
      else if (service === 'web' && values.reason?.text?.value === 'bogus')
        await ack({ response_action: 'errors', errors: { nowhere: 'not a block' } });
      else await ack();
    });
    app.view({ callback_id: 'rollback_modal', type: 'view_closed' }, async ({ ack }) => {
      await ack();
      submitted.push({ closed: true });
    });
    app.event('app_home_opened', async ({ event, client: c }) => {
      await c.views.publish({
        user_id: event.user,
        view: {
          type: 'home',
          blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `hello ${event.user}` } }],
        },
      });
    });
    const server = (await app.start(0)) as Server;
    return {
      app,
      botUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`,
      submitted,
    };
  }

  it('shows field errors the bot returns, closes on an empty ack, and refuses errors naming no input', async () => {
    const { app, botUrl, submitted } = await boltApp();
    try {
      await slack.sendSlashCommand({ botUrl, command: '/rollback', text: '', userId: 'U1', channelId: 'C1' });
      await expect.poll(() => slack.views('U1').modals.length).toBe(1);

      // Slack's client refuses an empty required field and an over-long one without sending anything.
      const empty = await slack.submitView({ botUrl, userId: 'U1', values: { reason: 'why' } });
      expect(empty).toMatchObject({ outcome: 'client_errors', errors: { service: expect.any(String) } });
      const long = await slack.submitView({
        botUrl,
        userId: 'U1',
        values: { service: 'web', reason: 'x'.repeat(21) },
      });
      expect(long.errors).toHaveProperty('reason');
      expect(submitted).toEqual([]);

      const errors = await slack.submitView({
        botUrl,
        userId: 'U1',
        values: { service: 'api', reason: 'bad deploy' },
      });
      expect(errors).toMatchObject({ outcome: 'errors', errors: { service: 'api has no history' } });
      expect(slack.views('U1').modals[0]?.errors).toEqual({ service: 'api has no history' });

      const bogus = await slack.submitView({
        botUrl,
        userId: 'U1',
        values: { service: 'web', reason: 'bogus' },
      });
      expect(bogus.outcome).toBe('refused');
      expect(slack.rejected().map((r) => r.method)).toEqual(['view_submission']);

      const ok = await slack.submitView({
        botUrl,
        userId: 'U1',
        values: { service: 'web', reason: 'bad deploy' },
      });
      expect(ok.outcome).toBe('closed');
      expect(slack.views('U1').modals).toEqual([]);
      expect(submitted.at(-1)).toMatchObject({
        service: { pick: { type: 'static_select', selected_option: { value: 'web' } } },
        reason: { text: { type: 'plain_text_input', value: 'bad deploy' } },
      });
      await expect(slack.submitView({ botUrl, userId: 'U1', values: {} })).rejects.toThrow(/no modal open/);
    } finally {
      await app.stop();
    }
  });

  it('sends view_closed when asked, and app_home_opened as a signed event the app answers with views.publish', async () => {
    const { app, botUrl, submitted } = await boltApp();
    try {
      await slack.sendSlashCommand({ botUrl, command: '/rollback', text: '', userId: 'U2', channelId: 'C1' });
      await expect.poll(() => slack.views('U2').modals.length).toBe(1);
      const closed = await slack.closeView({ botUrl, userId: 'U2' });
      expect(closed?.status).toBe(200);
      expect(submitted).toEqual([{ closed: true }]);

      const opened = await slack.openAppHome({ botUrl, userId: 'U2' });
      expect(opened.status).toBe(200);
      await expect.poll(() => JSON.stringify(slack.views('U2').home?.blocks ?? [])).toContain('hello U2');
      const forged = await slack.openAppHome({ botUrl, userId: 'U2', forgeSignature: true });
      expect(forged.status).toBe(401);
      expect(slack.rejected()).toEqual([]);
    } finally {
      await app.stop();
    }
  });

  it('sends a pick in a dispatch_action input as block_actions from the view, and keeps input views.update keeps', async () => {
    const app = new App({
      token: BOT_TOKEN,
      signingSecret: SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } },
    });
    const picks: Record<string, unknown>[] = [];
    const dispatching = { ...serviceInput, dispatch_action: true };
    app.command('/rollback', async ({ ack, body, client: c }) => {
      await ack();
      await c.views.open({
        trigger_id: body.trigger_id,
        view: modal({ blocks: [dispatching, reasonInput] }),
      });
    });
    app.action('pick', async ({ ack, body, client: c }) => {
      await ack();
      const b = body as { container: unknown; view?: { id: string; hash: string; state: unknown } };
      picks.push({ container: b.container, state: b.view?.state, responseUrl: 'response_url' in body });
      // The reason keeps its ids (so its input stays); the service select gets a new action_id.
      const renamed = { ...dispatching, element: { ...dispatching.element, action_id: 'pick2' } };
      await c.views.update({
        view_id: b.view?.id ?? '',
        hash: b.view?.hash ?? '',
        view: modal({ blocks: [renamed, reasonInput] }),
      });
    });
    const server = (await app.start(0)) as Server;
    const botUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    try {
      await slack.sendSlashCommand({ botUrl, command: '/rollback', text: '', userId: 'U1', channelId: 'C1' });
      await expect.poll(() => slack.views('U1').modals.length).toBe(1);
      const view = slack.views('U1').modals[0]!;
      // Without dispatch_action, a pick stays in the modal and nothing is sent.
      expect(
        await slack
          .chooseInView({ botUrl, userId: 'U1', blockId: 'reason', value: 'x' })
          .catch((e: Error) => e.message),
      ).toMatch(/no static_select input "reason"/);
      const picked = await slack.chooseInView({ botUrl, userId: 'U1', blockId: 'service', value: 'api' });
      expect(picked.status).toBe(200);
      await expect.poll(() => slack.views('U1').modals[0]?.updates).toBe(1);
      expect(picks).toEqual([
        {
          container: { type: 'view', view_id: view.id },
          state: {
            values: {
              service: {
                pick: { type: 'static_select', selected_option: expect.objectContaining({ value: 'api' }) },
              },
              reason: { text: { type: 'plain_text_input', value: null } },
            },
          },
          responseUrl: false,
        },
      ]);
      // The select's action_id changed, so Slack drops what was picked in it.
      expect(slack.views('U1').modals[0]?.input).toEqual({});
      await expect(
        slack.chooseInView({ botUrl, userId: 'U1', blockId: 'service', value: 'nope' }),
      ).rejects.toThrow(/no option with value "nope"/);
      expect(slack.rejected()).toEqual([]);
    } finally {
      await app.stop();
    }
  });
});
