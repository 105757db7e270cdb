// The emulator's channel page: it must show what the bot posted (threads, DMs, files), render
// message text without letting it become markup, and send clicks through the same signed path as
// clickButton, refusing what that path refuses.
import { Script } from 'node:vm';
import { verifySlackRequest } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type SlackEmulator,
  type SlackEmulatorOptions,
  startSlackEmulator,
} from '../support/slack-emulator/index.js';
import { recordingBot } from '../support/slack-emulator/recording-bot.js';
import { type Directory, renderBlocks, renderMrkdwn } from '../support/slack-emulator/ui-render.js';

const BOT_TOKEN = 'xoxb-test-page';
const SECRET = 'page-signing-secret';

const options = (): SlackEmulatorOptions => ({
  botToken: BOT_TOKEN,
  signingSecret: SECRET,
  botUserId: 'UBOT1',
  users: [
    { id: 'U1', name: 'alice', realName: 'Alice A' },
    { id: 'U2', name: 'bob', realName: 'Bob B' },
    { id: 'U3', name: 'carol' },
  ],
  usergroups: { S1: ['U1'] },
  channels: [{ id: 'C1', name: 'deploys', members: ['U1', 'U2'] }],
  ui: { title: 'Acme', botName: 'rollback-bot', groupHandles: { S1: 'oncall' } },
});

let slack: SlackEmulator;
let bot: Awaited<ReturnType<typeof recordingBot>>;

beforeEach(async () => {
  bot = await recordingBot();
  slack = await startSlackEmulator(options());
  slack.setBotUrl(bot.url);
});
afterEach(async () => {
  await slack.close();
  await bot.close();
});

async function api(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${slack.url}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${BOT_TOKEN}` },
    body: JSON.stringify(args),
  });
  const body = (await res.json()) as Record<string, unknown>;
  expect(body, `${method} was refused`).toMatchObject({ ok: true });
  return body;
}

const click = (body: Record<string, unknown>) =>
  fetch(`${slack.url}/ui/click`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => ({
    http: r.status,
    body: (await r.json()) as { ok: boolean; status: number; error?: string },
  }));

interface State {
  messages: { ts: string; text: string; blocks: { type: string }[]; replies: { text: string }[] }[];
  dms: { user: string; messages: { text: string }[] }[];
  files: { id: string; title: string; url: string }[];
  html: { messages: string; dms: string; files: string; sidebar: string };
}

async function state(channel = 'C1', user = 'U1'): Promise<State> {
  const res = await fetch(`${slack.url}/ui/state?channel=${channel}&user=${user}`);
  expect(res.status).toBe(200);
  return (await res.json()) as State;
}

const payloadOf = (s: { body: string }) => JSON.parse(new URLSearchParams(s.body).get('payload') ?? 'null');

const approvalBlocks = [
  { type: 'header', text: { type: 'plain_text', text: 'Rollback of web' } },
  { type: 'section', text: { type: 'mrkdwn', text: '*Requested by* <@U2>: <script>alert(1)</script>' } },
  {
    type: 'actions',
    block_id: 'decide',
    elements: [
      {
        type: 'button',
        action_id: 'approve',
        style: 'primary',
        value: 'run-7',
        text: { type: 'plain_text', text: 'Approve rollback' },
      },
      { type: 'button', action_id: 'cancel', value: 'run-7', text: { type: 'plain_text', text: 'Cancel' } },
    ],
  },
];

describe('the channel page', () => {
  it('serves a self-contained page for a channel, with the acting-user choice', async () => {
    const res = await fetch(slack.pageUrl());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('#deploys');
    expect(html).toMatch(/<select id="acting-user">.*value="U1" selected.*value="U2".*value="U3"/s);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    // The page's script must at least compile, or the page shows nothing.
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    expect(scripts).toHaveLength(1);
    expect(() => new Script(scripts[0]!)).not.toThrow();

    expect(slack.pageUrl('C1')).toBe(`${slack.url}/channel/C1`);
    const asBob = await fetch(`${slack.pageUrl('C1')}?as=U2`).then((r) => r.text());
    expect(asBob).toContain('value="U2" selected');
    expect((await fetch(`${slack.url}/channel/C404`)).status).toBe(404);
    expect((await fetch(`${slack.pageUrl('C1')}?as=U404`)).status).toBe(400);
    expect(() => slack.pageUrl('C404')).toThrow(/unknown channel/);
  });

  it('starts as ui.defaultUserId and refuses one that is not a user', async () => {
    const other = await startSlackEmulator({ ...options(), ui: { defaultUserId: 'U2' } });
    try {
      expect(await fetch(other.pageUrl()).then((r) => r.text())).toContain('value="U2" selected');
    } finally {
      await other.close();
    }
    await expect(startSlackEmulator({ ...options(), ui: { defaultUserId: 'U9' } })).rejects.toThrow(
      /defaultUserId U9/,
    );
  });

  it('returns the messages, their thread replies, DMs and files as state, rendered', async () => {
    const posted = await api('chat.postMessage', {
      channel: 'C1',
      text: 'Rollback of web',
      blocks: approvalBlocks,
    });
    const ts = posted.ts as string;
    await api('chat.postMessage', { channel: 'C1', thread_ts: ts, text: 'Assessing *web*…' });
    await api('chat.postMessage', { channel: 'U2', text: 'You were asked to approve' });

    const s = await state();
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]).toMatchObject({ ts, text: 'Rollback of web' });
    expect(s.messages[0]?.blocks.map((b) => b.type)).toEqual(['header', 'section', 'actions']);
    expect(s.messages[0]?.replies.map((r) => r.text)).toEqual(['Assessing *web*…']);
    expect(s.dms).toEqual([
      expect.objectContaining({
        user: 'U2',
        messages: [expect.objectContaining({ text: 'You were asked to approve' })],
      }),
    ]);

    const html = s.html.messages;
    expect(html).toContain(`class="message" data-ts="${ts}" data-channel="C1"`);
    expect(html).toMatch(
      new RegExp(`data-thread="${ts}".*class="reply".*Assessing <strong>web</strong>`, 's'),
    );
    expect(html).toContain('rollback-bot');
    expect(html).toContain('<span class="mention">@Bob B</span>');
    expect(html).toMatch(
      /<button [^>]*class="btn primary" data-action-id="approve"[^>]*>Approve rollback<\/button>/,
    );
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;');
    expect(s.html.dms).toContain('You were asked to approve');

    expect((await fetch(`${slack.url}/ui/state?channel=C404&user=U1`)).status).toBe(404);
    expect((await fetch(`${slack.url}/ui/state?channel=C1&user=U404`)).status).toBe(400);
  });

  it('lists uploaded files and serves their bytes as text, never as HTML', async () => {
    const bytes = Buffer.from('<script>alert(1)</script> report body');
    const up = await api('files.getUploadURLExternal', { filename: 'report.html', length: bytes.length });
    const put = await fetch(up.upload_url as string, { method: 'POST', body: bytes });
    expect(put.status).toBe(200);
    await api('files.completeUploadExternal', {
      files: [{ id: up.file_id, title: 'Rollback report' }],
      channel_id: 'C1',
    });

    const s = await state();
    expect(s.files).toEqual([expect.objectContaining({ id: up.file_id, title: 'Rollback report' })]);
    expect(s.html.files).toContain('Rollback report');
    expect(s.html.messages).toContain(`data-file-id="${up.file_id}"`);

    const file = await fetch(`${slack.url}${s.files[0]?.url}`);
    expect(file.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(bytes);
    expect((await fetch(`${slack.url}/ui/files/F404`)).status).toBe(404);
  });
});

describe('clicks from the page', () => {
  it('delivers a signed block_actions payload for the chosen user', async () => {
    const posted = await api('chat.postMessage', {
      channel: 'C1',
      text: 'Rollback of web',
      blocks: approvalBlocks,
    });
    const r = await click({ channelId: 'C1', messageTs: posted.ts, actionId: 'approve', userId: 'U2' });
    expect(r).toEqual({ http: 200, body: { ok: true, status: 200 } });
    expect(bot.seen).toHaveLength(1);
    const sent = bot.seen[0]!;
    expect(() =>
      verifySlackRequest({
        signingSecret: SECRET,
        body: sent.body,
        headers: {
          'x-slack-signature': String(sent.headers['x-slack-signature']),
          'x-slack-request-timestamp': Number(sent.headers['x-slack-request-timestamp']),
        },
      }),
    ).not.toThrow();
    expect(payloadOf(sent)).toMatchObject({
      type: 'block_actions',
      user: { id: 'U2', username: 'bob' },
      container: { message_ts: posted.ts, channel_id: 'C1' },
      actions: [{ type: 'button', action_id: 'approve', block_id: 'decide', value: 'run-7' }],
    });
  });

  it('refuses an unknown action id, a non-member and a non-JSON post, delivering nothing', async () => {
    const posted = await api('chat.postMessage', {
      channel: 'C1',
      text: 'Rollback of web',
      blocks: approvalBlocks,
    });
    const unknown = await click({ channelId: 'C1', messageTs: posted.ts, actionId: 'nope', userId: 'U1' });
    expect(unknown.http).toBe(400);
    expect(unknown.body.ok).toBe(false);
    expect(unknown.body.error).toMatch(/no element with action_id "nope" \(it has: approve, cancel\)/);

    const outsider = await click({
      channelId: 'C1',
      messageTs: posted.ts,
      actionId: 'approve',
      userId: 'U3',
    });
    expect(outsider.http).toBe(400);
    expect(outsider.body.error).toMatch(/not a member/);

    const form = await fetch(`${slack.url}/ui/click`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `channelId=C1&messageTs=${posted.ts}&actionId=approve&userId=U1`,
    });
    expect(form.status).toBe(415);
    expect(bot.seen).toHaveLength(0);
  });

  it('ticks checkboxes for the acting user and shows them ticked for that user only', async () => {
    const opt = (v: string) => ({ text: { type: 'plain_text', text: `step ${v}` }, value: v });
    const posted = await api('chat.postMessage', {
      channel: 'C1',
      text: 'checklist',
      blocks: [
        {
          type: 'actions',
          elements: [{ type: 'checkboxes', action_id: 'steps', options: [opt('a'), opt('b')] }],
        },
      ],
    });
    const r = await click({
      channelId: 'C1',
      messageTs: posted.ts,
      actionId: 'steps',
      userId: 'U1',
      value: 'b',
    });
    expect(r.body).toEqual({ ok: true, status: 200 });
    expect(
      payloadOf(bot.seen[0]!).actions[0].selected_options.map((o: { value: string }) => o.value),
    ).toEqual(['b']);
    const ticked = (html: string) => [...html.matchAll(/value="(\w)" checked/g)].map((m) => m[1]);
    expect(ticked((await state('C1', 'U1')).html.messages)).toEqual(['b']);
    expect(ticked((await state('C1', 'U2')).html.messages)).toEqual([]);
  });

  it('says so when the bot answers an error, and when there is nowhere to deliver', async () => {
    const posted = await api('chat.postMessage', {
      channel: 'C1',
      text: 'Rollback of web',
      blocks: approvalBlocks,
    });
    const failing = await recordingBot({ status: 500, body: '' });
    try {
      slack.setBotUrl(failing.url);
      const r = await click({ channelId: 'C1', messageTs: posted.ts, actionId: 'cancel', userId: 'U1' });
      expect(r).toEqual({ http: 200, body: { ok: false, status: 500, error: 'the bot answered HTTP 500' } });
      expect(failing.seen).toHaveLength(1);
    } finally {
      await failing.close();
    }
    slack.setBotUrl(undefined);
    const nowhere = await click({ channelId: 'C1', messageTs: posted.ts, actionId: 'cancel', userId: 'U1' });
    expect(nowhere.http).toBe(400);
    expect(nowhere.body.error).toMatch(/no botUrl/);
  });
});

describe('renderMrkdwn', () => {
  const dir: Directory = {
    users: { U2: 'Bob B' },
    channels: { C1: 'deploys' },
    groups: { S1: 'oncall' },
  };

  it('escapes markup in any form it arrives in', () => {
    const html = renderMrkdwn('<script>alert(1)</script> &lt;img src=x onerror=alert(1)&gt; "q" \'s\'', dir);
    expect(html).not.toMatch(/<(script|img)/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&quot;q&quot; &#39;s&#39;');
  });

  it('formats bold, italic, strike, code, pre, quotes and newlines', () => {
    expect(renderMrkdwn('*bold* _it_ ~gone~ `a<b` and snake_case_name', dir)).toBe(
      '<strong>bold</strong> <em>it</em> <del>gone</del> <code>a&lt;b</code> and snake_case_name',
    );
    expect(renderMrkdwn('rows:\n```1  *x*\n2  <none>```', dir)).toBe(
      'rows:<br><pre>1  *x*\n2  &lt;none&gt;</pre>',
    );
    expect(renderMrkdwn('> quoted\nafter :white_check_mark:', dir)).toBe(
      '<blockquote>quoted</blockquote>after ✅',
    );
  });

  it('resolves mentions and makes links only of http(s) and mailto URLs', () => {
    expect(renderMrkdwn('<@U2> <@U9> <!subteam^S1> <!subteam^S2|@sre> <#C1> <!here>', dir)).toBe(
      [
        '<span class="mention">@Bob B</span>',
        '<span class="mention">@U9</span>',
        '<span class="mention">@oncall</span>',
        '<span class="mention">@sre</span>',
        '<span class="mention">#deploys</span>',
        '<span class="mention">@here</span>',
      ].join(' '),
    );
    expect(renderMrkdwn('*<https://x.test/?a=1&amp;b=2|the "docs">*', dir)).toBe(
      '<strong><a href="https://x.test/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">the &quot;docs&quot;</a></strong>',
    );
    const js = renderMrkdwn('<javascript:alert(1)|click me>', dir);
    expect(js).not.toContain('<a');
    expect(js).toBe('&lt;javascript:alert(1)|click me&gt;');
  });

  it('escapes text inside blocks too', () => {
    const html = renderBlocks(
      [
        { type: 'header', text: { type: 'plain_text', text: '<b>hdr</b>' } },
        {
          type: 'actions',
          block_id: 'b"1',
          elements: [
            { type: 'button', action_id: 'x" onclick="y', text: { type: 'plain_text', text: '<i>go</i>' } },
          ],
        },
      ],
      { dir, ticked: () => [] },
    );
    expect(html).not.toMatch(/<(b|i)>/);
    expect(html).toContain('data-action-id="x&quot; onclick=&quot;y"');
    expect(html).toContain('&lt;i&gt;go&lt;/i&gt;');
  });
});
