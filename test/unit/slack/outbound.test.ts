// The Slack edge: what the SDK sends is redacted, postMessage never unfurls, foreign requests stop.
import { LogLevel } from '@slack/bolt';
import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../../src/redact.js';
import { createBoltLogger } from '../../../src/slack/bolt-logger.js';
import { foreignBecause, pinWorkspace, requestOrigin } from '../../../src/slack/middleware/pin-workspace.js';
import { createOutboundFetch } from '../../../src/slack/outbound-fetch.js';

const redactor = createRedactor(['configured-signing-secret']);

function capture() {
  const seen: { url: string; init: RequestInit | undefined }[] = [];
  const base = (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), init });
    return new Response('{"ok":true}');
  }) as typeof fetch;
  return { seen, fetch: createOutboundFetch(redactor, base) };
}

describe('outbound fetch', () => {
  it('redacts every form value (blocks deeply) and turns unfurling off for chat.postMessage', async () => {
    const { seen, fetch } = capture();
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: 'log: Bearer abcdefgh123 xoxb-9-9' } }];
    const body = new URLSearchParams({
      channel: 'C1',
      text: 'secret configured-signing-secret',
      blocks: JSON.stringify(blocks),
    }).toString();
    await fetch('http://slack/api/chat.postMessage', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Bearer xoxb-real' },
      body,
    });
    const sent = new URLSearchParams(String(seen[0]?.init?.body));
    expect(sent.get('channel')).toBe('C1');
    expect(sent.get('text')).toBe('secret [redacted]');
    expect(JSON.parse(sent.get('blocks') ?? '')[0].text.text).toBe('log: Bearer [redacted] xoxb-[redacted]');
    expect(sent.get('unfurl_links')).toBe('false');
    expect(sent.get('unfurl_media')).toBe('false');
    expect((seen[0]?.init?.headers as Record<string, string> | undefined)?.Authorization).toBe(
      'Bearer xoxb-real',
    );
  });

  it('redacts respond() JSON and leaves other methods and binary bodies alone', async () => {
    const { seen, fetch } = capture();
    await fetch('http://slack/response/abc', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'PGPASSWORD=hunter2', response_type: 'ephemeral' }),
    });
    expect(JSON.parse(String(seen[0]?.init?.body))).toEqual({
      text: 'PGPASSWORD=[redacted]',
      response_type: 'ephemeral',
    });
    await fetch('http://slack/api/chat.update', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'channel=C1&ts=1.2&text=ok',
    });
    expect(String(seen[1]?.init?.body)).toBe('channel=C1&ts=1.2&text=ok');
    const form = new FormData();
    await fetch('http://slack/upload/x', { method: 'POST', body: form });
    expect(seen[2]?.init?.body).toBe(form);
  });
});

describe('Slack call counting', () => {
  const answering = (answers: (Response | Error)[]) => {
    const counted: string[] = [];
    const base = (async () => {
      const a = answers.shift();
      if (a instanceof Error) throw a;
      return a ?? new Response('{"ok":true}');
    }) as typeof fetch;
    return { counted, fetch: createOutboundFetch(redactor, base, (m, o) => counted.push(`${m} ${o}`)) };
  };
  const form = {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'a=1',
  };

  it("counts each call by method and outcome: ok, Slack's error code, 429, HTTP and network failures", async () => {
    const { counted, fetch } = answering([
      new Response('{"ok":true}'),
      new Response('{"ok":false,"error":"channel_not_found"}'),
      new Response('{"ok":false,"error":"ratelimited"}', { status: 429, headers: { 'Retry-After': '1' } }),
      new Response('bad gateway', { status: 502 }),
      new Error('ECONNRESET'),
      new Response('ok'),
    ]);
    await fetch('http://slack/api/chat.postMessage', form);
    const failed = await fetch('http://slack/api/chat.update', form);
    // The SDK still reads the answer the counter read.
    expect(await failed.json()).toEqual({ ok: false, error: 'channel_not_found' });
    expect((await fetch('http://slack/api/chat.postMessage', form)).status).toBe(429);
    await fetch('http://slack/api/views.publish', form);
    await expect(fetch('http://slack/api/chat.postMessage', form)).rejects.toThrow('ECONNRESET');
    await fetch('http://slack/response/abc', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"text":"x"}',
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(counted.sort()).toEqual(
      [
        'chat.postMessage ok',
        'chat.update channel_not_found',
        'chat.postMessage rate_limited',
        'views.publish http_502',
        'chat.postMessage network',
        'response_url ok',
      ].sort(),
    );
  });
});

describe('Bolt logger', () => {
  it('sends Bolt lines at or above its level to the bot logger, redacted', () => {
    const lines: string[] = [];
    const sink = (l: string) => (m: string) => lines.push(`${l} ${m}`);
    const bolt = createBoltLogger(
      { info: sink('info'), warn: sink('warn'), error: sink('error') },
      redactor.redact,
      LogLevel.WARN,
    );
    bolt.info('hidden');
    bolt.warn('An API error occurred:', new Error('invalid_auth xoxb-1-2'));
    bolt.error({ body: 'configured-signing-secret' });
    expect(lines[0]).toMatch(/^warn An API error occurred: Error: invalid_auth xoxb-\[redacted\]/);
    expect(lines[1]).toBe('error {"body":"[redacted]"}');
    expect(lines).toHaveLength(2);
    bolt.setLevel(LogLevel.DEBUG);
    bolt.debug('now shown');
    expect(bolt.getLevel()).toBe(LogLevel.DEBUG);
    expect(lines[2]).toBe('info now shown');
  });
});

describe('workspace and app pinning', () => {
  const command = { command: '/rollback', team_id: 'T0OURS', api_app_id: 'A0OURS', user_id: 'U1' };
  const action = {
    type: 'block_actions',
    team: { id: 'T0OURS' },
    user: { id: 'U1', team_id: 'T0OURS' },
    api_app_id: 'A0OURS',
  };
  const event = { type: 'event_callback', team_id: 'T0OURS', api_app_id: 'A0OURS', event: {} };
  const pin = { teamId: 'T0OURS', appId: 'A0OURS' };

  it.each([
    ['our command', command, undefined],
    ['our click', action, undefined],
    ['our event', event, undefined],
    ['a command from another workspace', { ...command, team_id: 'T0THEIRS' }, 'team T0THEIRS is not T0OURS'],
    ['a click from another app', { ...action, api_app_id: 'A0OTHER' }, 'app A0OTHER is not A0OURS'],
    ['an event naming no team', { ...event, team_id: undefined }, 'team unknown is not T0OURS'],
    ['a command naming no app', { ...command, api_app_id: '' }, 'app unknown is not A0OURS'],
  ])('%s', (_name, body, why) => {
    expect(foreignBecause(requestOrigin(body), pin)).toBe(why);
  });

  it('accepts an org id for an org-wide install, and anything when not pinned', () => {
    expect(foreignBecause(requestOrigin({ ...command, enterprise_id: 'E0ORG' }), { teamId: 'E0ORG' })).toBe(
      undefined,
    );
    expect(foreignBecause(requestOrigin({ ...command, team_id: 'T0ANY' }), {})).toBe(undefined);
  });

  it('acks a foreign command with an ephemeral refusal and a log line, and calls no listener', async () => {
    const warned: unknown[] = [];
    const mw = pinWorkspace(pin, { info() {}, warn: (...a) => warned.push(a), error() {} });
    const acks: unknown[] = [];
    let nexted = false;
    const args = (body: object) =>
      ({
        body,
        ack: async (r?: unknown) => {
          acks.push(r);
        },
        next: async () => {
          nexted = true;
        },
      }) as never;
    await mw(args({ ...command, team_id: 'T0THEIRS' }));
    expect(nexted).toBe(false);
    expect(acks).toEqual([
      { response_type: 'ephemeral', text: expect.stringMatching(/serves another workspace/) },
    ]);
    expect(warned).toHaveLength(1);
    await mw(args({ ...action, api_app_id: 'A0OTHER' }));
    expect(acks[1]).toBeUndefined();
    expect(nexted).toBe(false);
    await mw(args(command));
    expect(nexted).toBe(true);
  });
});
