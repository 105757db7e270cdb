// The PagerDuty Events API v2 emulator keeps PagerDuty's contract (validation, dedup state, rate
// limit, TLS), and these tests pin down what @pagerduty/pdjs 2.2.4 does against it: how it is
// pointed at another server, and what it does on 400, 429, 5xx, non-JSON answers and timeouts.
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:https';
import { promisify } from 'node:util';
import { change, event } from '@pagerduty/pdjs';
import type { EventParameters, EventPayloadV2 } from '@pagerduty/pdjs/build/src/events.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type PagerDutyEmulator, startPagerDutyEmulator } from '../support/pagerduty-emulator/index.js';

const KEY_A = '0123456789abcdef0123456789abcdef';
const KEY_B = 'fedcba9876543210fedcba9876543210';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  text: string;
  body: unknown;
}

function post(
  emu: PagerDutyEmulator,
  path: string,
  body: unknown,
  opts: { trustCa?: boolean; host?: string } = {},
): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const url = `https://${opts.host ?? '127.0.0.1'}:${emu.port}${path}`;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        ...(opts.trustCa === false ? {} : { ca: emu.caPem }),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const t = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = t;
          try {
            parsed = JSON.parse(t);
          } catch {}
          resolve({ status: res.statusCode ?? 0, text: t, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

function trigger(overrides: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) {
  return {
    routing_key: KEY_A,
    event_action: 'trigger',
    dedup_key: 'release-manager/HighErrorRate',
    payload: {
      summary: 'Error rate 8% on release-manager',
      source: 'prod-cluster',
      severity: 'critical',
      ...payload,
    },
    ...overrides,
  };
}
const enqueue = (emu: PagerDutyEmulator, body: unknown) => post(emu, '/v2/enqueue', body);

describe('PagerDuty emulator: alert events and incident state', () => {
  let emu: PagerDutyEmulator;
  beforeAll(async () => {
    emu = await startPagerDutyEmulator();
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  it('answers a valid trigger 202 with the dedup_key and opens an incident', async () => {
    const before = Date.now();
    const a = await enqueue(emu, trigger());
    expect(a.status).toBe(202);
    expect(a.body).toEqual({
      status: 'success',
      message: 'Event processed',
      dedup_key: 'release-manager/HighErrorRate',
    });
    expect(emu.incidents()).toEqual([
      expect.objectContaining({
        routingKey: KEY_A,
        dedupKey: 'release-manager/HighErrorRate',
        status: 'triggered',
        triggerCount: 1,
        summary: 'Error rate 8% on release-manager',
        severity: 'critical',
        source: 'prod-cluster',
      }),
    ]);
    const [ev] = emu.events();
    expect(ev).toMatchObject({ action: 'trigger', outcome: 'created', body: trigger() });
    expect(ev?.receivedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(emu.rejected()).toEqual([]);
  });

  it('generates a dedup_key for a trigger without one, a new one each time', async () => {
    const { dedup_key: _omit, ...body } = trigger();
    const first = (await enqueue(emu, body)).body as { dedup_key: string };
    const second = (await enqueue(emu, body)).body as { dedup_key: string };
    expect(first.dedup_key).toMatch(/^[0-9a-f]{32}$/);
    expect(second.dedup_key).not.toBe(first.dedup_key);
    expect(emu.incidents().map((i) => i.dedupKey)).toEqual([first.dedup_key, second.dedup_key]);
  });

  it('de-duplicates a second trigger with the same dedup_key into the open incident', async () => {
    await enqueue(emu, trigger());
    const again = await enqueue(emu, trigger({}, { summary: 'Error rate 9%' }));
    expect(again.status).toBe(202);
    expect(emu.incidents()).toHaveLength(1);
    expect(emu.incident('release-manager/HighErrorRate')).toMatchObject({
      triggerCount: 2,
      status: 'triggered',
    });
    expect(emu.events().map((e) => e.outcome)).toEqual(['created', 'deduplicated']);
  });

  it('acknowledges, resolves, and opens a new incident on a trigger after the resolve', async () => {
    await enqueue(emu, trigger());
    // pdjs's types force a payload on every event: the payload of an acknowledge/resolve is ignored.
    const ack = await enqueue(emu, trigger({ event_action: 'acknowledge' }, { severity: 'nonsense' }));
    expect(ack.status).toBe(202);
    expect(emu.incident('release-manager/HighErrorRate')?.status).toBe('acknowledged');
    await enqueue(emu, trigger()); // a trigger on an acknowledged incident leaves it acknowledged
    expect(emu.incident('release-manager/HighErrorRate')).toMatchObject({
      status: 'acknowledged',
      triggerCount: 2,
    });

    const res = await enqueue(emu, {
      routing_key: KEY_A,
      event_action: 'resolve',
      dedup_key: 'release-manager/HighErrorRate',
    });
    expect(res.body).toEqual({
      status: 'success',
      message: 'Event processed',
      dedup_key: 'release-manager/HighErrorRate',
    });
    expect(emu.incident('release-manager/HighErrorRate')).toMatchObject({ status: 'resolved' });
    expect(emu.incident('release-manager/HighErrorRate')?.resolvedAt).toBeInstanceOf(Date);

    await enqueue(emu, trigger());
    expect(emu.incidents().map((i) => i.status)).toEqual(['resolved', 'triggered']);
  });

  it('accepts and drops an acknowledge/resolve with no open incident, or sent with another routing key', async () => {
    await enqueue(emu, trigger());
    const other = await enqueue(emu, {
      routing_key: KEY_B,
      event_action: 'resolve',
      dedup_key: 'release-manager/HighErrorRate',
    });
    const none = await enqueue(emu, {
      routing_key: KEY_A,
      event_action: 'acknowledge',
      dedup_key: 'nothing-open',
    });
    expect([other.status, none.status]).toEqual([202, 202]);
    expect(emu.events().map((e) => e.outcome)).toEqual(['created', 'dropped', 'dropped']);
    expect(emu.incidents()).toEqual([expect.objectContaining({ status: 'triggered' })]);
  });

  it('accepts the boundaries: 1024-character summary, 255-character dedup_key, ISO 8601 timestamps', async () => {
    const ok = [
      trigger({}, { summary: 's'.repeat(1024) }),
      trigger({ dedup_key: 'd'.repeat(255) }),
      trigger({}, { timestamp: '2015-07-17T08:42:58.315+0000' }),
      trigger({}, { timestamp: '2024-02-29T23:59:59Z' }),
      trigger({}, { timestamp: '2024-02-29T10:00:00.123456+02:00' }),
      trigger({}, { severity: 'info', summary: '😀'.repeat(1024) }),
    ];
    for (const body of ok) expect((await enqueue(emu, body)).status).toBe(202);
  });
});

describe('PagerDuty emulator: validation answers 400 like PagerDuty', () => {
  let emu: PagerDutyEmulator;
  beforeAll(async () => {
    emu = await startPagerDutyEmulator();
  });
  afterAll(() => emu.close());
  beforeEach(() => emu.reset());

  const { payload: _p, ...noPayload } = trigger();
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing routing_key', { ...trigger(), routing_key: undefined }, /'routing_key' is missing or blank/],
    [
      '31-character routing_key',
      trigger({ routing_key: KEY_A.slice(1) }),
      /Length of 'routing_key' is incorrect \(should be 32 characters\)/,
    ],
    [
      'non-alphanumeric routing_key',
      trigger({ routing_key: `${KEY_A.slice(2)}-_` }),
      /'routing_key' cannot contain non-alphanumeric/,
    ],
    ['numeric routing_key', trigger({ routing_key: 12345 }), /'routing_key' is missing or blank/],
    ['missing event_action', trigger({ event_action: undefined }), /'event_action' is missing or blank/],
    [
      'unknown event_action',
      trigger({ event_action: 'create' }),
      /'event_action' is invalid \(should be one of trigger, acknowledge, resolve\)/,
    ],
    ['trigger without payload', noPayload, /'payload.summary' is missing or blank/],
    ['missing payload.summary', trigger({}, { summary: undefined }), /'payload.summary' is missing or blank/],
    ['blank payload.summary', trigger({}, { summary: '   ' }), /'payload.summary' is missing or blank/],
    ['missing payload.source', trigger({}, { source: undefined }), /'payload.source' is missing or blank/],
    [
      'missing payload.severity',
      trigger({}, { severity: undefined }),
      /'payload.severity' is missing or blank/,
    ],
    [
      '1025-character summary',
      trigger({}, { summary: 's'.repeat(1025) }),
      /'payload.summary' is too long \(maximum is 1024 characters\)/,
    ],
    [
      'unknown severity',
      trigger({}, { severity: 'fatal' }),
      /'payload.severity' is invalid \(should be one of critical, error, warning, info\)/,
    ],
    ['upper-case severity', trigger({}, { severity: 'CRITICAL' }), /'payload.severity' is invalid/],
    [
      '256-character dedup_key',
      trigger({ dedup_key: 'd'.repeat(256) }),
      /'dedup_key' is too long \(maximum is 255 characters\)/,
    ],
    ['non-string dedup_key', trigger({ dedup_key: 42 }), /'dedup_key' must be a string/],
    [
      'acknowledge without dedup_key',
      { routing_key: KEY_A, event_action: 'acknowledge' },
      /'dedup_key' is missing or blank \(required for acknowledge events\)/,
    ],
    [
      'resolve without dedup_key',
      { routing_key: KEY_A, event_action: 'resolve', dedup_key: '' },
      /'dedup_key' is missing or blank \(required for resolve events\)/,
    ],
    ['free-text timestamp', trigger({}, { timestamp: 'yesterday' }), /'payload.timestamp' is invalid/],
    ['impossible date', trigger({}, { timestamp: '2023-02-29T10:00:00Z' }), /'payload.timestamp' is invalid/],
    ['month 13', trigger({}, { timestamp: '2024-13-01T00:00:00Z' }), /'payload.timestamp' is invalid/],
    ['epoch-number timestamp', trigger({}, { timestamp: 1_700_000_000 }), /'payload.timestamp' is invalid/],
  ];

  for (const [name, body, error] of cases) {
    it(`refuses ${name}`, async () => {
      const a = await enqueue(emu, body);
      expect(a.status).toBe(400);
      expect(a.body).toMatchObject({ status: 'invalid event', message: 'Event object is invalid' });
      const errors = (a.body as { errors: string[] }).errors;
      expect(
        errors.some((e) => error.test(e)),
        JSON.stringify(errors),
      ).toBe(true);
      expect(emu.events()).toEqual([]);
      expect(emu.incidents()).toEqual([]);
      expect(emu.rejected()).toEqual([expect.objectContaining({ status: 400, reason: 'invalid', errors })]);
    });
  }

  it('lists every broken field of a trigger at once', async () => {
    const a = await enqueue(emu, { ...noPayload, routing_key: 'short' });
    expect((a.body as { errors: string[] }).errors).toEqual([
      "Length of 'routing_key' is incorrect (should be 32 characters)",
      "'payload.summary' is missing or blank",
      "'payload.source' is missing or blank",
      "'payload.severity' is missing or blank",
    ]);
  });

  it('answers invalid JSON and non-object JSON with the spec\'s "Unrecognized object" 400', async () => {
    for (const raw of ['{"routing_key":', '[]', '"trigger"', '']) {
      const a = await post(emu, '/v2/enqueue', raw);
      expect(a.status).toBe(400);
      expect(a.body).toEqual({
        status: 'Unrecognized object',
        message: 'Event object format is unrecognized',
        errors: ['JSON parse error'],
      });
    }
    expect(emu.rejected().map((r) => r.reason)).toEqual([
      'unrecognized',
      'unrecognized',
      'unrecognized',
      'unrecognized',
    ]);
  });

  it('answers 404 off the Events API paths and 405 for other methods', async () => {
    expect((await post(emu, '/v1/enqueue', trigger())).status).toBe(404);
    const get = await new Promise<number>((resolve, reject) => {
      request(`${emu.url}/v2/enqueue`, { ca: emu.caPem, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(get).toBe(405);
  });
});

describe('PagerDuty emulator: change events, routing keys, rate limit, injected failures', () => {
  const emulators: PagerDutyEmulator[] = [];
  const start = async (...args: Parameters<typeof startPagerDutyEmulator>) => {
    const emu = await startPagerDutyEmulator(...args);
    emulators.push(emu);
    return emu;
  };
  afterEach(async () => {
    await Promise.all(emulators.splice(0).map((e) => e.close()));
  });

  it('accepts change events without opening incidents, and validates them', async () => {
    const emu = await start();
    const body = {
      routing_key: KEY_A,
      payload: {
        summary: 'Rolled back release-manager to revision 7',
        source: 'rollback-bot',
        timestamp: '2026-01-02T03:04:05Z',
      },
      links: [{ href: 'https://example.test/rollbacks/1', text: 'report' }],
    };
    const ok = await post(emu, '/v2/change/enqueue', body);
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ status: 'success', message: 'Change event processed' });
    expect(emu.changeEvents()).toEqual([
      expect.objectContaining({ routingKey: KEY_A, body, unrouted: false }),
    ]);
    expect(emu.incidents()).toEqual([]);
    expect(emu.events()).toEqual([]);

    const bad = [
      [{ routing_key: KEY_A, payload: {} }, "'payload.summary' is missing or blank"],
      [
        { routing_key: KEY_A, payload: { summary: 'x'.repeat(1025) } },
        "'payload.summary' is too long (maximum is 1024 characters)",
      ],
      [
        { routing_key: `R${KEY_A.slice(1)}`, payload: { summary: 'x' } },
        "'routing_key' is a ruleset key; change events need a service integration key",
      ],
      [
        { routing_key: KEY_A, payload: { summary: 'x', timestamp: 'now' } },
        expect.stringMatching(/'payload.timestamp' is invalid/),
      ],
    ] as const;
    for (const [b, error] of bad) {
      const a = await post(emu, '/v2/change/enqueue', b);
      expect(a.status).toBe(400);
      expect(a.body).toEqual({
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: [error],
      });
    }
    expect(emu.changeEvents()).toHaveLength(1);
  });

  it('accepts a well-formed unknown routing key with 202 and routes it nowhere (PagerDuty default)', async () => {
    const emu = await start({ routingKeys: [KEY_A] });
    const a = await enqueue(emu, trigger({ routing_key: KEY_B }));
    expect(a.status).toBe(202);
    expect(emu.events()).toEqual([expect.objectContaining({ routingKey: KEY_B, outcome: 'unrouted' })]);
    expect(emu.incidents()).toEqual([]);
    await enqueue(emu, trigger());
    expect(emu.incidents()).toEqual([expect.objectContaining({ routingKey: KEY_A })]);
  });

  it("refuses unknown routing keys with 400 when told to (unknownRoutingKeys: 'reject')", async () => {
    const emu = await start({ routingKeys: [KEY_A], unknownRoutingKeys: 'reject' });
    const a = await enqueue(emu, trigger({ routing_key: KEY_B }));
    expect(a.status).toBe(400);
    expect(a.body).toEqual({
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ['Invalid routing key'],
    });
    const c = await post(emu, '/v2/change/enqueue', { routing_key: KEY_B, payload: { summary: 'x' } });
    expect(c.status).toBe(400);
    expect(emu.events()).toEqual([]);
  });

  it('refuses a malformed routingKeys option', async () => {
    await expect(startPagerDutyEmulator({ routingKeys: ['too-short'] })).rejects.toThrow(
      /Length of 'routing_key'/,
    );
  });

  it('answers 429 once a routing key exceeds its rate in the sliding window, per key', async () => {
    const emu = await start({ ratePerMinute: 3, rateWindowMs: 400 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await enqueue(emu, trigger({ dedup_key: `k${i}` }))).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    // change events share the key's budget
    expect(
      (await post(emu, '/v2/change/enqueue', { routing_key: KEY_A, payload: { summary: 'x' } })).status,
    ).toBe(429);
    expect((await enqueue(emu, trigger({ routing_key: KEY_B }))).status).toBe(202);
    expect(emu.rejected()).toEqual([
      expect.objectContaining({
        status: 429,
        reason: 'rate-limited',
        response: expect.objectContaining({ status: 'throttle event' }),
      }),
      expect.objectContaining({ status: 429, reason: 'rate-limited' }),
    ]);
    expect(emu.incidents()).toHaveLength(4);
    await sleep(450);
    expect((await enqueue(emu, trigger({ dedup_key: 'later' }))).status).toBe(202);
  });

  it('defaults to 120 requests per key per minute', async () => {
    const emu = await start();
    const statuses = await Promise.all(
      Array.from({ length: 121 }, (_, i) =>
        enqueue(emu, trigger({ dedup_key: `k${i}` })).then((a) => a.status),
      ),
    );
    expect(statuses.filter((s) => s === 202)).toHaveLength(120);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
  });

  it('fails the next N requests with failNext (option or method), then recovers', async () => {
    const emu = await start({ failNext: { status: 503, count: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await enqueue(emu, trigger())).status);
    expect(statuses).toEqual([503, 503, 202]);
    emu.failNext(500, 1, '<html>oops</html>');
    const a = await enqueue(emu, trigger());
    expect([a.status, a.text]).toEqual([500, '<html>oops</html>']);
    expect(emu.rejected().map((r) => [r.status, r.reason])).toEqual([
      [503, 'injected'],
      [503, 'injected'],
      [500, 'injected'],
    ]);
    expect(emu.incidents()).toEqual([expect.objectContaining({ triggerCount: 1 })]);
  });

  it('hangs the next N requests (read, never answered) until the client gives up', async () => {
    const emu = await start();
    emu.hang(1);
    const hung = new Promise<string>((resolve) => {
      const req = request(`${emu.url}/v2/enqueue`, {
        method: 'POST',
        ca: emu.caPem,
        agent: false,
        timeout: 200,
      });
      req.on('timeout', () => {
        req.destroy();
        resolve('client timed out');
      });
      req.on('response', () => resolve('answered'));
      req.on('error', () => {});
      req.end(JSON.stringify(trigger()));
    });
    expect(await hung).toBe('client timed out');
    expect((await enqueue(emu, trigger())).status).toBe(202);
    expect(emu.requests().map((r) => r.status)).toEqual([undefined, 202]);
    expect(emu.events()).toHaveLength(1);
  });
});

describe('PagerDuty emulator: TLS', () => {
  let emu: PagerDutyEmulator;
  beforeAll(async () => {
    emu = await startPagerDutyEmulator();
  });
  afterAll(() => emu.close());

  it('is trusted with its CA, for 127.0.0.1 and localhost', async () => {
    expect(emu.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect((await post(emu, '/v2/enqueue', trigger())).status).toBe(202);
    expect((await post(emu, '/v2/enqueue', trigger(), { host: 'localhost' })).status).toBe(202);
  });

  it('fails TLS verification without its CA, before any HTTP request reaches it', async () => {
    const before = emu.requests().length;
    await expect(post(emu, '/v2/enqueue', trigger(), { trustCa: false })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(emu.requests()).toHaveLength(before);
  });

  it('is trusted by a child process given NODE_EXTRA_CA_CERTS=caFile, and only then', async () => {
    const script = `
      const req = require('node:https').request(process.argv[1], { method: 'POST' }, (res) => {
        console.log(res.statusCode); res.resume();
      });
      req.on('error', (e) => console.log(e.code));
      req.end(process.argv[2]);`;
    const run = async (extra: Record<string, string>) => {
      const { NODE_EXTRA_CA_CERTS: _drop, ...env } = process.env;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['-e', script, `${emu.url}/v2/enqueue`, JSON.stringify(trigger())],
        { env: { ...env, ...extra } },
      );
      return stdout.trim();
    };
    expect(await run({ NODE_EXTRA_CA_CERTS: emu.caFile })).toBe('202');
    expect(await run({})).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

// What @pagerduty/pdjs 2.2.4 does (node_modules/@pagerduty/pdjs/build/src/events.js, common.js):
// event() POSTs JSON.stringify(data) to `https://${server}/v2/enqueue` through cross-fetch →
// node-fetch 2.7.0, retrying only on 429, and never rejecting on an HTTP status.
describe('@pagerduty/pdjs event() against the emulator', () => {
  let emu: PagerDutyEmulator;
  let agent: Agent;
  beforeAll(async () => {
    emu = await startPagerDutyEmulator();
    agent = new Agent({ ca: emu.caPem });
  });
  afterAll(async () => {
    agent.destroy();
    await emu.close();
  });
  beforeEach(() => emu.reset());

  type Extra = Partial<Omit<EventParameters, 'data'>> & { agent?: Agent };
  // `agent` is passed through to node-fetch but is not in pdjs's types; a typed variable avoids a cast.
  // requestTimeout: 0 stops pdjs arming a 30 s do-nothing timer that can outlive the call.
  const send = (target: PagerDutyEmulator, data: unknown, extra: Extra = {}) => {
    const params: EventParameters & { agent: Agent } = {
      server: target.host,
      // Each emulator has its own CA.
      agent: target === emu ? agent : new Agent({ ca: target.caPem }),
      requestTimeout: 0,
      data: data as EventPayloadV2,
      ...extra,
    };
    return event(params);
  };
  const errorOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err as { name: string; type?: string; code?: string; message: string };
    }
    throw new Error('expected a rejection');
  };

  it('is pointed at the emulator with server: "127.0.0.1:PORT" plus an https.Agent trusting the CA', async () => {
    const res = await send(emu, trigger());
    expect(res.status).toBe(202);
    expect(res.ok).toBe(true);
    expect(res.data).toEqual({
      status: 'success',
      message: 'Event processed',
      dedup_key: 'release-manager/HighErrorRate',
    });
    const [req] = emu.requests();
    expect(req).toMatchObject({ method: 'POST', path: '/v2/enqueue' });
    expect(req?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(req?.headers['user-agent']).toMatch(/^pdjs\/2\.0\.0 \(v\d+\.\d+\.\d+\/linux\)$/);
    expect(JSON.parse(req?.rawBody ?? '')).toEqual(trigger());
    expect(emu.incident('release-manager/HighErrorRate')?.status).toBe('triggered');
  });

  it('sends change() to /v2/change/enqueue (its 2.2.4 types demand an alert payload: cast needed)', async () => {
    const res = await change({
      server: emu.host,
      agent,
      requestTimeout: 0,
      data: { routing_key: KEY_A, payload: { summary: 'rollback done' } } as unknown as EventPayloadV2,
    } as EventParameters);
    expect(res.status).toBe(202);
    expect(emu.changeEvents()).toHaveLength(1);
  });

  it('rejects with a node-fetch FetchError when the certificate is not trusted', async () => {
    const err = await errorOf(send(emu, trigger(), { agent: undefined }));
    expect(err).toMatchObject({
      name: 'FetchError',
      type: 'system',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(emu.requests()).toEqual([]);
  });

  it('resolves (does not throw) on 400, with ok=false and the error body in data, without retrying', async () => {
    const res = await send(emu, trigger({}, { source: '' }));
    expect(res.status).toBe(400);
    expect(res.ok).toBe(false);
    expect(res.data).toEqual({
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ["'payload.source' is missing or blank"],
    });
    expect(emu.requests()).toHaveLength(1);
  });

  it('resolves on a JSON 5xx without retrying', async () => {
    emu.failNext(503, 5);
    const res = await send(emu, trigger());
    expect([res.status, res.ok]).toEqual([503, false]);
    expect(emu.requests()).toHaveLength(1);
  });

  it('rejects (FetchError invalid-json) on any answer whose body is not JSON, e.g. a proxy 502 page', async () => {
    emu.failNext(502, 1, '<html>Bad Gateway</html>');
    const err = await errorOf(send(emu, trigger()));
    expect(err).toMatchObject({ name: 'FetchError', type: 'invalid-json' });
    expect(emu.requests()).toHaveLength(1);
  });

  it('retries a 429 exactly 3 times (4 requests, retryTimeout apart, retryCount ignored), then resolves with the 429', async () => {
    emu.failNext(429, 10);
    const t0 = Date.now();
    const res = await send(emu, trigger(), { retryTimeout: 30, retryCount: 0 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect([res.status, res.ok]).toEqual([429, false]);
    expect(res.data).toMatchObject({ status: 'throttle event' });
    expect(emu.requests()).toHaveLength(4);
  });

  it('hides a 429 that clears within its retries: resolves 202 after the retry', async () => {
    emu.failNext(429, 2);
    const res = await send(emu, trigger(), { retryTimeout: 10 });
    expect(res.status).toBe(202);
    expect(emu.requests().map((r) => r.status)).toEqual([429, 429, 202]);
    expect(emu.incidents()).toHaveLength(1);
  });

  it('rejects (FetchError invalid-json) after 4 requests when the 429 body is not JSON', async () => {
    emu.failNext(429, 4, 'Too Many Requests');
    const err = await errorOf(send(emu, trigger(), { retryTimeout: 10 }));
    expect(err).toMatchObject({ name: 'FetchError', type: 'invalid-json' });
    expect(emu.requests()).toHaveLength(4);
  });

  it('is rate limited by the emulator like by PagerDuty', async () => {
    const limited = await startPagerDutyEmulator({ ratePerMinute: 1 });
    try {
      expect((await send(limited, trigger())).status).toBe(202);
      const res = await send(limited, trigger({ dedup_key: 'second' }), { retryTimeout: 10 });
      expect(res.status).toBe(429);
      expect(limited.requests().map((r) => r.status)).toEqual([202, 429, 429, 429, 429]);
    } finally {
      await limited.close();
    }
  });

  it('does not abort on requestTimeout: a hung request stays pending until the socket dies', async () => {
    const hanging = await startPagerDutyEmulator();
    try {
      hanging.hang(1);
      let settled = false;
      const p = send(hanging, trigger(), { requestTimeout: 100 }).finally(() => {
        settled = true;
      });
      const outcome = errorOf(p);
      await sleep(500);
      expect(settled).toBe(false);
      expect(hanging.requests().map((r) => r.status)).toEqual([undefined]); // received, unanswered
      await hanging.close(); // destroys the socket
      expect(await outcome).toMatchObject({ name: 'FetchError', type: 'system', code: 'ECONNRESET' });
    } finally {
      await hanging.close();
    }
  });

  it("rejects with FetchError 'request-timeout' when given node-fetch's timeout option", async () => {
    emu.hang(1);
    const t0 = Date.now();
    const err = await errorOf(send(emu, trigger(), { timeout: 200 }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(err).toMatchObject({ name: 'FetchError', type: 'request-timeout' });
  });

  it('rejects with AbortError when given signal: AbortSignal.timeout(ms)', async () => {
    emu.hang(1);
    const err = await errorOf(send(emu, trigger(), { signal: AbortSignal.timeout(200) }));
    expect(err).toMatchObject({ name: 'AbortError', type: 'aborted' });
  });

  it('rejects with FetchError ECONNREFUSED when nothing listens', async () => {
    const gone = await startPagerDutyEmulator();
    await gone.close();
    const err = await errorOf(send(gone, trigger()));
    expect(err).toMatchObject({ name: 'FetchError', type: 'system', code: 'ECONNREFUSED' });
  });
});
