// The Slack emulator is only worth something if it refuses what Slack refuses. These tests drive it
// with the real @slack/web-api client and a real Bolt app wherever possible, and check each refusal
// by its Slack error code and json-pointer, so a lenient emulator fails them.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, verifySlackRequest, webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type SlackEmulator,
  type SlackEmulatorOptions,
  startSlackEmulator,
} from '../support/slack-emulator/index.js';
import { recordingBot } from '../support/slack-emulator/recording-bot.js';
import { refusal, silentWebLogger } from '../support/web-client.js';

const BOT_TOKEN = 'xoxb-test-emulator';
const APP_TOKEN = 'xapp-test-emulator';
const SECRET = 'emulator-signing-secret';
const BOT_USER = 'UBOT1';

const baseOptions = (): SlackEmulatorOptions => ({
  botToken: BOT_TOKEN,
  signingSecret: SECRET,
  botUserId: BOT_USER,
  botId: 'BBOT1',
  teamId: 'T1',
  appId: 'A1',
  users: [
    { id: 'U1', name: 'alice', realName: 'Alice A', tz: 'Europe/Berlin' },
    { id: 'U2', name: 'bob' },
    { id: 'U3', name: 'carol' },
  ],
  usergroups: { S1: ['U1', 'U2'] },
  channels: [
    { id: 'C1', name: 'ops', members: ['U1', 'U2'] },
    { id: 'C2', name: 'quiet', members: ['U1', 'U3'], botIsMember: false },
  ],
});

let slack: SlackEmulator;
let client: webApi.WebClient;

const clientFor = (token: string, retries = 0) =>
  new webApi.WebClient(token, {
    slackApiUrl: `${slack.url}/api/`,
    retryConfig: { retries },
    logger: silentWebLogger,
  });

/** Runs a call that must fail and returns the platform error's data. */

const section = (text: string) => ({ type: 'section' as const, text: { type: 'mrkdwn' as const, text } });
const button = (action_id: string, value = 'v', extra: Record<string, unknown> = {}) => ({
  type: 'button' as const,
  action_id,
  value,
  text: { type: 'plain_text' as const, text: 'Go' },
  ...extra,
});

beforeEach(async () => {
  slack = await startSlackEmulator(baseOptions());
  client = clientFor(BOT_TOKEN);
});
afterEach(async () => {
  await slack.close();
});

describe('tokens and methods', () => {
  it('refuses a missing token with not_authed and a wrong one with invalid_auth', async () => {
    const res = await fetch(`${slack.url}/api/auth.test`, { method: 'POST' });
    expect(await res.json()).toEqual({ ok: false, error: 'not_authed' });
    expect((await refusal(clientFor('xoxb-wrong').auth.test())).error).toBe('invalid_auth');
    expect((await refusal(clientFor(APP_TOKEN).auth.test())).error).toBe('invalid_auth');
    expect(slack.rejected().map((r) => r.error)).toEqual(['not_authed', 'invalid_auth', 'invalid_auth']);
  });

  it('accepts the token as a form field too, and answers auth.test like Slack', async () => {
    const res = await fetch(`${slack.url}/api/auth.test`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${BOT_TOKEN}`,
    });
    expect(await res.json()).toMatchObject({
      ok: true,
      user_id: BOT_USER,
      bot_id: 'BBOT1',
      team_id: 'T1',
      app_id: 'A1',
    });
    const viaSdk = await client.auth.test();
    expect(viaSdk).toMatchObject({ ok: true, url: 'https://emulated.slack.com/', user_id: BOT_USER });
  });

  it('answers unknown_method for a method it does not know', async () => {
    expect((await refusal(client.apiCall('chat.postMessagee', { channel: 'C1', text: 'x' }))).error).toBe(
      'unknown_method',
    );
  });

  it('reads a JSON body but not a token inside it', async () => {
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${slack.url}/api/chat.postMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    expect(await post({}, { token: BOT_TOKEN, channel: 'C1', text: 'x' })).toEqual({
      ok: false,
      error: 'not_authed',
    });
    const sent = await post(
      { authorization: `Bearer ${BOT_TOKEN}` },
      { channel: 'C1', blocks: [section('json')] },
    );
    expect(sent).toMatchObject({ ok: true, channel: 'C1' });
    expect(slack.messages('C1')[0]?.blocks[0]).toMatchObject({ type: 'section', text: { text: 'json' } });
  });
});

describe('Block Kit limits', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => section(`block ${i}`));
  const cases: { name: string; blocks: unknown[]; message: string }[] = [
    {
      name: '51 blocks',
      blocks: many(51),
      message: '[ERROR] no more than 50 items allowed [json-pointer:/blocks]',
    },
    {
      name: 'a 3001-character section',
      blocks: [section('x'.repeat(3001))],
      message: '[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]',
    },
    {
      name: 'an empty section text',
      blocks: [section('')],
      message: '[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]',
    },
    {
      name: 'a section with neither text nor fields',
      blocks: [{ type: 'section' }],
      message: '[ERROR] must define either `text` or `fields` [json-pointer:/blocks/0/type]',
    },
    {
      name: '11 section fields',
      blocks: [
        { type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) },
      ],
      message: '[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/fields]',
    },
    {
      name: 'a 151-character header',
      blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }],
      message: '[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]',
    },
    {
      name: 'a mrkdwn header',
      blocks: [{ type: 'header', text: { type: 'mrkdwn', text: '*h*' } }],
      message: '[ERROR] must be a valid enum value [json-pointer:/blocks/0/text/type]',
    },
    {
      name: 'a 2001-character button value',
      blocks: [{ type: 'actions', elements: [button('a', 'v'.repeat(2001))] }],
      message: '[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]',
    },
    {
      name: 'a 76-character button text',
      blocks: [
        {
          type: 'actions',
          elements: [{ ...button('a'), text: { type: 'plain_text', text: 't'.repeat(76) } }],
        },
      ],
      message: '[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]',
    },
    {
      name: 'a 256-character action_id',
      blocks: [{ type: 'actions', elements: [button('a'.repeat(256))] }],
      message: '[ERROR] must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]',
    },
    {
      name: 'a duplicate action_id across blocks',
      blocks: [
        { type: 'actions', elements: [button('approve')] },
        { type: 'section', text: { type: 'mrkdwn', text: 'x' }, accessory: button('approve') },
      ],
      message: '[ERROR] duplicate action_id: approve [json-pointer:/blocks/1/accessory/action_id]',
    },
    {
      name: 'a duplicate block_id',
      blocks: [
        { ...section('a'), block_id: 'b1' },
        { ...section('b'), block_id: 'b1' },
      ],
      message: '[ERROR] duplicate block_id: b1 [json-pointer:/blocks/1/block_id]',
    },
    {
      name: 'a 256-character block_id',
      blocks: [{ ...section('a'), block_id: 'b'.repeat(256) }],
      message: '[ERROR] must be less than 256 characters [json-pointer:/blocks/0/block_id]',
    },
    {
      name: 'a button style outside primary|danger',
      blocks: [{ type: 'actions', elements: [button('a', 'v', { style: 'warning' })] }],
      message: '[ERROR] must be a valid enum value [json-pointer:/blocks/0/elements/0/style]',
    },
    {
      name: 'a 101-character confirm title',
      blocks: [
        {
          type: 'actions',
          elements: [
            button('a', 'v', {
              confirm: {
                title: { type: 'plain_text', text: 't'.repeat(101) },
                text: { type: 'plain_text', text: 'sure?' },
                confirm: { type: 'plain_text', text: 'Yes' },
                deny: { type: 'plain_text', text: 'No' },
              },
            }),
          ],
        },
      ],
      message:
        '[ERROR] must be less than 101 characters [json-pointer:/blocks/0/elements/0/confirm/title/text]',
    },
    {
      name: '26 action elements',
      blocks: [{ type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button(`b${i}`)) }],
      message: '[ERROR] no more than 25 items allowed [json-pointer:/blocks/0/elements]',
    },
    {
      name: 'an empty context',
      blocks: [{ type: 'context', elements: [] }],
      message: '[ERROR] must provide at least 1 items [json-pointer:/blocks/0/elements]',
    },
    {
      name: '11 checkbox options',
      blocks: [
        {
          type: 'actions',
          elements: [
            {
              type: 'checkboxes',
              action_id: 'c',
              options: Array.from({ length: 11 }, (_, i) => ({
                text: { type: 'plain_text', text: `o${i}` },
                value: `${i}`,
              })),
            },
          ],
        },
      ],
      message: '[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/elements/0/options]',
    },
    {
      name: 'initial_options that are not among the options',
      blocks: [
        {
          type: 'actions',
          elements: [
            {
              type: 'checkboxes',
              action_id: 'c',
              options: [{ text: { type: 'plain_text', text: 'a' }, value: 'a' }],
              initial_options: [{ text: { type: 'plain_text', text: 'b' }, value: 'b' }],
            },
          ],
        },
      ],
      message:
        '[ERROR] must match one of the provided options [json-pointer:/blocks/0/elements/0/initial_options/0]',
    },
    {
      name: 'a 12001-character markdown block',
      blocks: [{ type: 'markdown', text: 'm'.repeat(12_001) }],
      message: '[ERROR] must be less than 12001 characters [json-pointer:/blocks/0/text]',
    },
    {
      name: 'an unknown block type',
      blocks: [{ type: 'table', rows: [] }],
      message: '[ERROR] unsupported type: table [json-pointer:/blocks/0/type]',
    },
  ];

  it.each(cases)('refuses $name with invalid_blocks and the json-pointer', async ({ blocks, message }) => {
    const data = await refusal(
      client.chat.postMessage({ channel: 'C1', text: 'fallback', blocks: blocks as never }),
    );
    expect(data.error).toBe('invalid_blocks');
    expect(data.response_metadata?.messages).toContain(message);
    expect(slack.messages('C1')).toEqual([]);
    expect(slack.rejected()[0]).toMatchObject({ method: 'chat.postMessage', error: 'invalid_blocks' });
  });

  it('accepts every limit exactly at its maximum', async () => {
    const atLimit = [
      ...many(45),
      section('x'.repeat(3000)),
      { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(150) } },
      { type: 'actions', elements: [button('a'.repeat(255), 'v'.repeat(2000))] },
      { type: 'context', elements: Array.from({ length: 10 }, () => ({ type: 'mrkdwn', text: 'c' })) },
      { type: 'divider' },
    ];
    expect(atLimit).toHaveLength(50);
    await client.chat.postMessage({ channel: 'C1', text: 'fallback', blocks: atLimit as never });
    expect(slack.messages('C1')[0]?.blocks).toHaveLength(50);
  });

  it('refuses more than 12,000 characters of text across blocks with msg_blocks_too_long', async () => {
    const blocks = Array.from({ length: 5 }, () => section('y'.repeat(2500)));
    expect((await refusal(client.chat.postMessage({ channel: 'C1', text: 't', blocks }))).error).toBe(
      'msg_blocks_too_long',
    );
  });

  it('refuses blocks that are not JSON with invalid_blocks_format', async () => {
    const data = await refusal(
      client.apiCall('chat.postMessage', { channel: 'C1', text: 't', blocks: '[{' }),
    );
    expect(data.error).toBe('invalid_blocks_format');
  });

  it('gives every stored block a block_id and every element an action_id, as Slack does', async () => {
    await client.chat.postMessage({
      channel: 'C1',
      text: 't',
      blocks: [
        section('a'),
        { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'x' } }] },
      ],
    });
    const [b0, b1] = slack.messages('C1')[0]?.blocks ?? [];
    expect(b0?.block_id).toMatch(/^\S{1,255}$/);
    const elements = (b1?.elements ?? []) as { action_id?: string }[];
    expect(elements[0]?.action_id).toMatch(/^\S+$/);
  });
});

describe('channels, messages and threads', () => {
  it('refuses a channel that does not exist and one the bot is not in', async () => {
    expect((await refusal(client.chat.postMessage({ channel: 'C999', text: 'x' }))).error).toBe(
      'channel_not_found',
    );
    expect((await refusal(client.chat.postMessage({ channel: 'C2', text: 'x' }))).error).toBe(
      'not_in_channel',
    );
    expect(slack.messages('C2')).toEqual([]);
  });

  it('refuses a message with no text, blocks or attachments', async () => {
    expect((await refusal(client.chat.postMessage({ channel: 'C1' } as never))).error).toBe('no_text');
  });

  it('returns increasing unique ts values and keeps replies out of the channel list', async () => {
    const parent = await client.chat.postMessage({ channel: 'C1', text: 'parent' });
    const reply = await client.chat.postMessage({ channel: 'C1', text: 'reply', thread_ts: parent.ts! });
    const loud = await client.chat.postMessage({
      channel: 'C1',
      text: 'loud',
      thread_ts: parent.ts!,
      reply_broadcast: true,
    });
    expect(parent.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(reply.ts)).toBeGreaterThan(Number(parent.ts));
    expect(slack.messages('C1').map((m) => m.text)).toEqual(['parent', 'loud']);
    expect(slack.thread('C1', parent.ts!).map((m) => [m.text, m.thread_ts])).toEqual([
      ['reply', parent.ts],
      ['loud', parent.ts],
    ]);
    expect(slack.thread('C1', parent.ts!)[1]?.reply_broadcast).toBe(true);
    expect(loud.message).toMatchObject({ user: BOT_USER, bot_id: 'BBOT1', thread_ts: parent.ts });
  });

  it('posts a reply with an unknown thread_ts unthreaded, like Slack, and warns about it', async () => {
    await client.chat.postMessage({ channel: 'C1', text: 'lost', thread_ts: '1234567890.000001' });
    expect(slack.messages('C1').map((m) => [m.text, m.thread_ts])).toEqual([['lost', undefined]]);
    expect(slack.warnings()).toEqual([expect.objectContaining({ warning: 'thread_ts_not_found' })]);
  });

  it('updates only existing messages the bot posted, counting edits', async () => {
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'v1', blocks: [section('one')] });
    await client.chat.update({ channel: 'C1', ts: posted.ts!, text: 'v2', blocks: [section('two')] });
    const [m] = slack.messages('C1');
    expect(m).toMatchObject({ text: 'v2', edits: 1 });
    expect(m?.history.map((h) => h.text)).toEqual(['v1']);

    expect((await refusal(client.chat.update({ channel: 'C1', ts: '1.000001', text: 'x' }))).error).toBe(
      'message_not_found',
    );
    const human = slack.addUserMessage({ channelId: 'C1', userId: 'U1', text: 'mine' });
    expect((await refusal(client.chat.update({ channel: 'C1', ts: human.ts, text: 'x' }))).error).toBe(
      'cant_update_message',
    );
    expect(
      (await refusal(client.chat.update({ channel: 'C1', ts: posted.ts!, text: 'z'.repeat(4001) }))).error,
    ).toBe('msg_too_long');
    expect(
      (await refusal(client.chat.update({ channel: 'C1', ts: posted.ts!, text: 'x', blocks: [section('')] })))
        .error,
    ).toBe('invalid_blocks');
    expect(slack.messages('C1')[0]).toMatchObject({ text: 'v2', edits: 1 });
  });

  it('sends ephemerals only to members of the channel', async () => {
    const res = await client.chat.postEphemeral({ channel: 'C1', user: 'U1', text: 'psst' });
    expect(res.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(slack.ephemerals({ userId: 'U1' })).toEqual([
      expect.objectContaining({ channel: 'C1', text: 'psst', via: 'chat.postEphemeral' }),
    ]);
    expect((await refusal(client.chat.postEphemeral({ channel: 'C1', user: 'U3', text: 'x' }))).error).toBe(
      'user_not_in_channel',
    );
    expect((await refusal(client.chat.postEphemeral({ channel: 'C2', user: 'U1', text: 'x' }))).error).toBe(
      'not_in_channel',
    );
    expect(slack.messages('C1')).toEqual([]);
  });

  it('opens one stable IM per user and stores DMs there', async () => {
    const a = await client.conversations.open({ users: 'U1' });
    const b = await client.conversations.open({ users: 'U1' });
    expect(a.channel?.id).toMatch(/^D/);
    expect(b.channel?.id).toBe(a.channel?.id);
    await client.chat.postMessage({ channel: a.channel!.id!, text: 'hello alice' });
    expect(slack.dms('U1').map((m) => m.text)).toEqual(['hello alice']);
    expect(slack.dms('U2')).toEqual([]);
    const nine = ['U1', 'U2', 'U3', 'U4', 'U5', 'U6', 'U7', 'U8', 'U9'].join(',');
    expect((await refusal(client.conversations.open({ users: nine }))).error).toBe('too_many_users');
    expect((await refusal(client.conversations.open({ users: 'U404' }))).error).toBe('user_not_found');
  });

  it('answers users.info and usergroups.users.list, refusing unknown ids', async () => {
    const u = await client.users.info({ user: 'U1' });
    expect(u.user).toMatchObject({ id: 'U1', name: 'alice', real_name: 'Alice A', tz: 'Europe/Berlin' });
    expect((await refusal(client.users.info({ user: 'U404' }))).error).toBe('user_not_found');
    expect((await client.usergroups.users.list({ usergroup: 'S1' })).users).toEqual(['U1', 'U2']);
    expect((await refusal(client.usergroups.users.list({ usergroup: 'S404' }))).error).toBe(
      'no_such_subteam',
    );
  });
});

describe('rate limits', () => {
  it('answers 429 with an integer Retry-After once the channel bucket is empty', async () => {
    const post = (text: string) =>
      fetch(`${slack.url}/api/chat.postMessage`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${BOT_TOKEN}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ channel: 'C1', text }).toString(),
      });
    const statuses = [];
    for (const t of ['1', '2', '3']) statuses.push((await post(t)).status);
    const limited = await post('4');
    expect(statuses).toEqual([200, 200, 200]);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await limited.json()).toEqual({ ok: false, error: 'ratelimited' });
    expect(slack.rateLimited()).toBe(1);
    expect(slack.rejected()).toEqual([]);
    expect(slack.messages('C1').map((m) => m.text)).toEqual(['1', '2', '3']);
    // The bucket is per channel: an IM is not affected.
    const im = await client.conversations.open({ users: 'U2' });
    await client.chat.postMessage({ channel: im.channel!.id!, text: 'dm' });
  });

  it('lets a real WebClient wait out the 429 and store the message exactly once', async () => {
    await slack.close();
    slack = await startSlackEmulator({ ...baseOptions(), rateLimit: { perSecond: 1, burst: 1 } });
    const patient = clientFor(BOT_TOKEN, 2);
    const started = Date.now();
    await patient.chat.postMessage({ channel: 'C1', text: 'first' });
    const second = await patient.chat.postMessage({ channel: 'C1', text: 'second' });
    expect(second.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(slack.rateLimited()).toBe(1);
    expect(slack.messages('C1').map((m) => m.text)).toEqual(['first', 'second']);
    expect(slack.calls('chat.postMessage').map((c) => c.status)).toEqual([200, 429, 200]);
  }, 15_000);
});

describe('file uploads (v2)', () => {
  it('runs filesUploadV2 end to end and keeps content, title and thread', async () => {
    const parent = await client.chat.postMessage({ channel: 'C1', text: 'rollback started' });
    const res = await client.filesUploadV2({
      channel_id: 'C1',
      thread_ts: parent.ts!,
      content: 'line 1\nline 2 ✓\n',
      filename: 'rollback.log',
      title: 'Rollback log',
      initial_comment: 'Here is the log',
    });
    expect(res.ok).toBe(true);
    const [file] = slack.files();
    expect(file).toMatchObject({
      filename: 'rollback.log',
      title: 'Rollback log',
      channel: 'C1',
      thread_ts: parent.ts,
      initial_comment: 'Here is the log',
      text: 'line 1\nline 2 ✓\n',
    });
    expect(file?.content.equals(Buffer.from('line 1\nline 2 ✓\n'))).toBe(true);
    expect(slack.thread('C1', parent.ts!)).toEqual([
      expect.objectContaining({
        text: 'Here is the log',
        files: [expect.objectContaining({ title: 'Rollback log' })],
      }),
    ]);
    expect(slack.calls().map((c) => c.method)).toEqual([
      'chat.postMessage',
      'files.getUploadURLExternal',
      'upload_url',
      'files.completeUploadExternal',
    ]);
  });

  it('refuses sharing into a channel the bot is not in', async () => {
    const err = await refusal(client.filesUploadV2({ channel_id: 'C2', content: 'x', filename: 'x.txt' }));
    expect(err.error).toBe('not_in_channel');
    expect(slack.files()).toEqual([]);
  });

  it('refuses missing arguments, a wrong byte count and completing a file that never arrived', async () => {
    expect((await refusal(client.files.getUploadURLExternal({ filename: 'a.txt' } as never))).error).toBe(
      'invalid_arguments',
    );
    const ticket = await client.files.getUploadURLExternal({ filename: 'a.txt', length: 10 });
    const form = new FormData();
    form.append('body', new Blob([new Uint8Array(5)]), 'a.txt');
    const up = await fetch(ticket.upload_url!, { method: 'POST', body: form });
    expect(up.status).toBe(400);
    const done = await refusal(client.files.completeUploadExternal({ files: [{ id: ticket.file_id! }] }));
    expect(done.error).toBe('file_not_found');
    expect(slack.rejected().map((r) => r.error)).toEqual([
      'invalid_arguments',
      'length_mismatch',
      'file_not_found',
    ]);
  });
});

const verify = (s: { body: string; headers: IncomingHttpHeaders }, secret = SECRET) =>
  verifySlackRequest({
    signingSecret: secret,
    body: s.body,
    headers: {
      'x-slack-signature': String(s.headers['x-slack-signature']),
      'x-slack-request-timestamp': Number(s.headers['x-slack-request-timestamp']),
    },
  });

describe('requests to the bot', () => {
  it('signs slash commands so Bolt verifies them, and forged or stale ones fail', async () => {
    const bot = await recordingBot();
    try {
      const r = await slack.sendSlashCommand({
        botUrl: bot.url,
        command: '/ops',
        text: 'undo web',
        userId: 'U1',
        channelId: 'C1',
      });
      expect(r.status).toBe(200);
      expect(r.responseUrl).toMatch(new RegExp(`^${slack.url}/response/`));
      const [sent] = bot.seen;
      expect(sent?.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(() => verify(sent!)).not.toThrow();
      expect(() => verify(sent!, 'another-secret')).toThrow();
      const fields = Object.fromEntries(new URLSearchParams(sent!.body));
      expect(fields).toMatchObject({
        command: '/ops',
        text: 'undo web',
        user_id: 'U1',
        user_name: 'alice',
        channel_id: 'C1',
        channel_name: 'ops',
        team_id: 'T1',
        api_app_id: 'A1',
        is_enterprise_install: 'false',
        response_url: r.responseUrl,
        trigger_id: r.triggerId,
      });

      await slack.sendSlashCommand({
        botUrl: bot.url,
        command: '/ops',
        text: 'x',
        userId: 'U1',
        channelId: 'C1',
        forgeSignature: true,
      });
      expect(() => verify(bot.seen[1]!)).toThrow();
      const stale = Math.floor(Date.now() / 1000) - 600;
      await slack.sendSlashCommand({
        botUrl: bot.url,
        command: '/ops',
        text: 'x',
        userId: 'U1',
        channelId: 'C1',
        timestamp: stale,
      });
      expect(() => verify(bot.seen[2]!)).toThrow(/stale|old|timestamp/i);
    } finally {
      await bot.close();
    }
  });

  it('refuses to run a command for a user outside the channel', async () => {
    await expect(
      slack.sendSlashCommand({
        botUrl: 'http://127.0.0.1:9/',
        command: '/ops',
        text: '',
        userId: 'U3',
        channelId: 'C1',
      }),
    ).rejects.toThrow(/not a member/);
  });

  it('posts a slash command ack body as an ephemeral for the invoker', async () => {
    const bot = await recordingBot({
      status: 200,
      body: JSON.stringify({ text: 'on it' }),
      type: 'application/json',
    });
    try {
      await slack.sendSlashCommand({
        botUrl: bot.url,
        command: '/ops',
        text: '',
        userId: 'U2',
        channelId: 'C1',
      });
      expect(slack.ephemerals({ userId: 'U2' })).toEqual([
        expect.objectContaining({ text: 'on it', via: 'command_ack' }),
      ]);
    } finally {
      await bot.close();
    }
  });

  it('sends a command through a transport when given one, timed there, and still checks its ack', async () => {
    const bot = await recordingBot({
      status: 200,
      body: JSON.stringify({ text: 'through the transport' }),
      type: 'application/json',
    });
    const sent: { url: string; headers: Record<string, string>; body: string; timeoutMs: number }[] = [];
    try {
      const r = await slack.sendSlashCommand({
        botUrl: bot.url,
        command: '/ops',
        text: 'status',
        userId: 'U2',
        channelId: 'C1',
        transport: async (req) => {
          sent.push(req);
          const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body });
          return {
            status: res.status,
            body: await res.text(),
            contentType: res.headers.get('content-type') ?? '',
            ms: 4321,
            timedOut: false,
          };
        },
      });
      // The time is the transport's, the request is signed as Slack signs it, the ack is applied.
      expect(r.ms).toBe(4321);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.timeoutMs).toBe(3000);
      const timestamp = Number(sent[0]?.headers['x-slack-request-timestamp']);
      expect(
        verifySlackRequest({
          signingSecret: SECRET,
          body: sent[0]?.body ?? '',
          headers: {
            'x-slack-signature': sent[0]?.headers['x-slack-signature'] ?? '',
            'x-slack-request-timestamp': timestamp,
          },
        }),
      ).toBeUndefined();
      expect(bot.seen).toHaveLength(1);
      expect(slack.ephemerals({ userId: 'U2' })).toEqual([
        expect.objectContaining({ text: 'through the transport', via: 'command_ack' }),
      ]);
    } finally {
      await bot.close();
    }
  });

  it('clicks a button that is in the current message and refuses one that is gone', async () => {
    const bot = await recordingBot();
    try {
      const parent = await client.chat.postMessage({ channel: 'C1', text: 'parent' });
      const posted = await client.chat.postMessage({
        channel: 'C1',
        thread_ts: parent.ts!,
        text: 'Approve?',
        blocks: [
          section('Roll back web?'),
          {
            type: 'actions',
            block_id: 'decide',
            elements: [button('approve', 'run-42', { style: 'primary' })],
          },
        ],
      });
      const click = await slack.clickButton({
        botUrl: bot.url,
        channelId: 'C1',
        messageTs: posted.ts!,
        actionId: 'approve',
        userId: 'U2',
      });
      expect(click.status).toBe(200);
      const sent = bot.seen[0]!;
      expect(() => verify(sent)).not.toThrow();
      const payload = JSON.parse(new URLSearchParams(sent.body).get('payload')!);
      expect(payload).toMatchObject({
        type: 'block_actions',
        user: { id: 'U2', username: 'bob' },
        container: {
          type: 'message',
          message_ts: posted.ts,
          channel_id: 'C1',
          is_ephemeral: false,
          thread_ts: parent.ts,
        },
        channel: { id: 'C1', name: 'ops' },
        message: { ts: posted.ts, thread_ts: parent.ts, text: 'Approve?' },
        actions: [
          { type: 'button', action_id: 'approve', block_id: 'decide', value: 'run-42', style: 'primary' },
        ],
      });
      expect(payload.response_url).toMatch(/\/response\//);

      await client.chat.update({
        channel: 'C1',
        ts: posted.ts!,
        text: 'Approved',
        blocks: [section('Approved by bob')],
      });
      await expect(
        slack.clickButton({
          botUrl: bot.url,
          channelId: 'C1',
          messageTs: posted.ts!,
          actionId: 'approve',
          userId: 'U2',
        }),
      ).rejects.toThrow(/no element with action_id "approve"/);
      await expect(
        slack.clickButton({
          botUrl: bot.url,
          channelId: 'C1',
          messageTs: posted.ts!,
          actionId: 'never',
          userId: 'U1',
        }),
      ).rejects.toThrow(/no element/);
      expect(bot.seen).toHaveLength(1);
    } finally {
      await bot.close();
    }
  });

  it('sends checkbox toggles with the selected options', async () => {
    const bot = await recordingBot();
    try {
      const opt = (v: string) => ({ text: { type: 'plain_text' as const, text: v }, value: v });
      const posted = await client.chat.postMessage({
        channel: 'C1',
        text: 'checklist',
        blocks: [
          {
            type: 'actions',
            elements: [{ type: 'checkboxes', action_id: 'steps', options: [opt('a'), opt('b')] }],
          },
        ],
      });
      const tick = (value: string) =>
        slack.toggleCheckbox({
          botUrl: bot.url,
          channelId: 'C1',
          messageTs: posted.ts!,
          actionId: 'steps',
          userId: 'U1',
          value,
        });
      await tick('b');
      await tick('a');
      await tick('b');
      const selected = bot.seen.map((s) =>
        JSON.parse(new URLSearchParams(s.body).get('payload')!).actions[0].selected_options.map(
          (o: { value: string }) => o.value,
        ),
      );
      expect(selected).toEqual([['b'], ['a', 'b'], ['a']]);
    } finally {
      await bot.close();
    }
  });

  it('serves response_url: replace, ephemeral, bad blocks and at most 5 uses', async () => {
    const bot = await recordingBot();
    try {
      const posted = await client.chat.postMessage({
        channel: 'C1',
        text: 'Approve?',
        blocks: [{ type: 'actions', elements: [button('approve')] }],
      });
      await slack.clickButton({
        botUrl: bot.url,
        channelId: 'C1',
        messageTs: posted.ts!,
        actionId: 'approve',
        userId: 'U1',
      });
      const url = JSON.parse(new URLSearchParams(bot.seen[0]!.body).get('payload')!).response_url as string;
      const respond = (body: unknown) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });

      expect((await respond({ replace_original: true, text: 'Approved' })).status).toBe(200);
      expect(slack.messages('C1')[0]).toMatchObject({ text: 'Approved', blocks: [], edits: 1 });
      expect((await respond({ text: 'only you see this' })).status).toBe(200);
      expect(slack.ephemerals({ userId: 'U1' }).map((e) => e.text)).toEqual(['only you see this']);
      const bad = await respond({ text: 'x', blocks: [section('z'.repeat(3001))] });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ ok: false, error: 'invalid_blocks' });
      for (let i = 0; i < 3; i++)
        expect((await respond({ response_type: 'in_channel', text: `n${i}` })).status).toBe(200);
      const sixth = await respond({ text: 'too many' });
      expect(sixth.status).toBe(404);
      expect(await sixth.json()).toEqual({ ok: false, error: 'used_url' });
      expect(slack.messages('C1').map((m) => m.text)).toEqual(['Approved', 'n0', 'n1', 'n2']);
    } finally {
      await bot.close();
    }
  });
});

describe('deadlines and ephemeral clicks', () => {
  it('gives up on a bot that does not ack within the deadline, like Slack', async () => {
    await slack.close();
    slack = await startSlackEmulator({ ...baseOptions(), ackTimeoutMs: 200 });
    const hanging = createServer(() => {});
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    try {
      const botUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/slack/events`;
      const r = await slack.sendSlashCommand({
        botUrl,
        command: '/ops',
        text: '',
        userId: 'U1',
        channelId: 'C1',
      });
      expect(r).toMatchObject({ status: 0, timedOut: true });
      expect(r.ms).toBeGreaterThanOrEqual(190);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });

  it('clicks in an ephemeral only for its recipient, and delete_original removes it', async () => {
    const bot = await recordingBot();
    try {
      const e = await client.chat.postEphemeral({
        channel: 'C1',
        user: 'U1',
        text: 'only alice',
        blocks: [{ type: 'actions', elements: [button('dismiss')] }],
      });
      const click = {
        botUrl: bot.url,
        channelId: 'C1',
        messageTs: e.message_ts!,
        actionId: 'dismiss',
        ephemeral: true,
      };
      await expect(slack.clickButton({ ...click, userId: 'U2' })).rejects.toThrow(/visible to U1/);
      await slack.clickButton({ ...click, userId: 'U1' });
      const payload = JSON.parse(new URLSearchParams(bot.seen[0]!.body).get('payload')!);
      expect(payload.container).toMatchObject({ is_ephemeral: true, message_ts: e.message_ts });
      expect(payload.message).toBeUndefined();
      const del = await fetch(payload.response_url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ delete_original: true }),
      });
      expect(del.status).toBe(200);
      expect(slack.ephemerals({ userId: 'U1' })).toEqual([]);
    } finally {
      await bot.close();
    }
  });

  it('expires a response_url after its time to live', async () => {
    await slack.close();
    slack = await startSlackEmulator({ ...baseOptions(), responseUrlTtlMs: 50 });
    const bot = await recordingBot();
    try {
      const { responseUrl } = await slack.sendSlashCommand({
        botUrl: bot.url,
        command: '/ops',
        text: '',
        userId: 'U1',
        channelId: 'C1',
      });
      await new Promise((r) => setTimeout(r, 80));
      const late = await fetch(responseUrl, { method: 'POST', body: JSON.stringify({ text: 'late' }) });
      expect(late.status).toBe(404);
      expect(await late.json()).toEqual({ ok: false, error: 'expired_url' });
      expect(slack.rejected()).toEqual([
        expect.objectContaining({ method: 'response_url', error: 'expired_url' }),
      ]);
    } finally {
      await bot.close();
    }
  });
});

describe('with a real Bolt app', () => {
  it('runs a command, a button click and an update over HTTP', async () => {
    const app = new App({
      token: BOT_TOKEN,
      signingSecret: SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } },
    });
    app.command('/ops', async ({ ack, say, respond }) => {
      await ack();
      await say({
        text: 'Roll back web?',
        blocks: [{ type: 'actions', elements: [button('approve', 'web')] }],
      });
      await respond({ response_type: 'ephemeral', text: 'asked the channel' });
    });
    app.action('approve', async ({ ack, body, client: c }) => {
      await ack();
      if (body.type !== 'block_actions' || !body.channel || !body.message) throw new Error('unexpected body');
      await c.chat.update({ channel: body.channel.id, ts: body.message.ts, text: 'Approved', blocks: [] });
    });
    const server = (await app.start(0)) as Server;
    const botUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    try {
      const cmd = await slack.sendSlashCommand({
        botUrl,
        command: '/ops',
        text: 'web',
        userId: 'U1',
        channelId: 'C1',
      });
      expect(cmd).toMatchObject({ status: 200, timedOut: false });
      await expect.poll(() => slack.ephemerals({ userId: 'U1' }).length).toBe(1);
      const [question] = slack.messages('C1');
      const click = await slack.clickButton({
        botUrl,
        channelId: 'C1',
        messageTs: question!.ts,
        actionId: 'approve',
        userId: 'U2',
      });
      expect(click.status).toBe(200);
      await expect.poll(() => slack.messages('C1')[0]?.text).toBe('Approved');
      const forged = await slack.sendSlashCommand({
        botUrl,
        command: '/ops',
        text: '',
        userId: 'U1',
        channelId: 'C1',
        forgeSignature: true,
      });
      expect(forged.status).toBe(401);
      expect(slack.rejected()).toEqual([]);
      expect(slack.calls('auth.test')).toHaveLength(1);
    } finally {
      await app.stop();
    }
  });

  it('runs a command over Socket Mode', async () => {
    await slack.close();
    slack = await startSlackEmulator({ ...baseOptions(), appToken: APP_TOKEN });
    const app = new App({
      token: BOT_TOKEN,
      appToken: APP_TOKEN,
      socketMode: true,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } },
      installerOptions: { clientOptions: { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } } },
    });
    app.command('/ops', async ({ ack, say }) => {
      await ack({ text: 'working on it' });
      await say('done');
    });
    await app.start();
    try {
      expect(slack.socketConnected()).toBe(true);
      const r = await slack.sendSlashCommand({ command: '/ops', text: '', userId: 'U1', channelId: 'C1' });
      expect(r).toMatchObject({ status: 200, timedOut: false });
      expect(slack.ephemerals({ userId: 'U1' }).map((e) => e.text)).toEqual(['working on it']);
      await expect.poll(() => slack.messages('C1').map((m) => m.text)).toEqual(['done']);
      expect(slack.calls('apps.connections.open')).toHaveLength(1);
    } finally {
      await app.stop();
    }
  });
});
