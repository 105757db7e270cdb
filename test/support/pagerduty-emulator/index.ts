/**
 * A strict local PagerDuty Events API v2 for tests.
 *
 * Why it exists: PagerDuty has no sandbox, tests must not page anyone or reach the internet, and a
 * mock that answers 202 to anything would let a broken event (no `payload.source`, a 33-character
 * key, a resolve without `dedup_key`) pass every test and then be refused in production. This
 * server applies PagerDuty's documented contract instead: the same validation and answers
 * (202 / 400 "invalid event" / 429), dedup_key incident state per routing key, a per-key rate
 * limit, plus injected failures (`failNext`) and hanging requests (`hang`) for the client's error
 * paths.
 *
 * Why HTTPS: @pagerduty/pdjs 2.2.4 builds `https://${server}/v2/enqueue` with the scheme hard-coded
 * (node_modules/@pagerduty/pdjs/build/src/events.js), so pointing it here means
 * `server: emulator.host` and trusting `emulator.caPem` (an https.Agent with `ca`, passed as pdjs's
 * untyped `agent` option, or NODE_EXTRA_CA_CERTS=emulator.caFile for a child process).
 *
 * Choices where PagerDuty's behaviour is not documented are marked "Decision" below and in
 * validate.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCertificate } from './tls.js';
import type {
  AcceptedEvent,
  ChangeEvent,
  EventAction,
  EventOutcome,
  FailNext,
  Incident,
  PagerDutyEmulator,
  PagerDutyEmulatorOptions,
  ReceivedRequest,
  RejectedRequest,
  RejectionReason,
} from './types.js';
import { alertEventErrors, changeEventErrors, isObject, routingKeyErrors } from './validate.js';

export type * from './types.js';

const ENQUEUE = '/v2/enqueue';
const CHANGE_ENQUEUE = '/v2/change/enqueue';

// The Events API v2 answers (PagerDuty developer-docs and the events-v2 OpenAPI spec).
const INVALID_EVENT = { status: 'invalid event', message: 'Event object is invalid' };
// The spec's example error body for a body that is not JSON; used for non-objects too.
const UNRECOGNIZED = {
  status: 'Unrecognized object',
  message: 'Event object format is unrecognized',
  errors: ['JSON parse error'],
};
// Decision: PagerDuty does not document its 429 body. A JSON object keeps clients that parse every
// answer (pdjs does) working; use failNext(429, n, 'text') to test a non-JSON 429.
const THROTTLED = {
  status: 'throttle event',
  message: 'Requests for this integration key are arriving too quickly. Please retry later.',
};

function record<T>(list: T[]): T[] {
  return structuredClone(list);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the emulator on 127.0.0.1 on a free port with a fresh CA and server certificate. */
export async function startPagerDutyEmulator(
  opts: PagerDutyEmulatorOptions = {},
): Promise<PagerDutyEmulator> {
  const ratePerMinute = opts.ratePerMinute ?? 120;
  const rateWindowMs = opts.rateWindowMs ?? 60_000;
  const knownKeys = opts.routingKeys ? new Set(opts.routingKeys) : undefined;
  const unknownKeys = opts.unknownRoutingKeys ?? 'accept';
  for (const key of opts.routingKeys ?? []) {
    const errors = routingKeyErrors(key);
    if (errors.length > 0) throw new Error(`routingKeys: ${JSON.stringify(key)}: ${errors.join('; ')}`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'pd-emulator-'));
  const tls = await makeTestCertificate(dir).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });

  let seq = 0;
  let requests: ReceivedRequest[] = [];
  let events: AcceptedEvent[] = [];
  let changes: ChangeEvent[] = [];
  let rejected: RejectedRequest[] = [];
  let incidents: Incident[] = [];
  /** Open (triggered or acknowledged) incidents by routing key + dedup_key. */
  let open = new Map<string, Incident>();
  /** Per routing key: times of the requests counted in the current window. */
  let windows = new Map<string, number[]>();
  let failing: FailNext | undefined = opts.failNext ? { ...opts.failNext } : undefined;
  let hangCount = 0;
  let incidentCounter = 0;
  const sockets = new Set<Socket>();

  const openKey = (routingKey: string, dedupKey: string) => `${routingKey}\n${dedupKey}`;
  const routed = (key: string) => knownKeys === undefined || knownKeys.has(key);

  /** Sliding-window limit per routing key. Counts requests it lets through, valid or not. */
  function admit(routingKey: string, now: number): boolean {
    const times = (windows.get(routingKey) ?? []).filter((t) => t > now - rateWindowMs);
    windows.set(routingKey, times);
    if (times.length >= ratePerMinute) return false;
    times.push(now);
    return true;
  }

  function applyAlert(
    body: Record<string, unknown>,
    entry: ReceivedRequest,
  ): { dedupKey: string; outcome: EventOutcome; incidentId?: string } {
    const routingKey = body.routing_key as string;
    const action = body.event_action as EventAction;
    const given =
      typeof body.dedup_key === 'string' && body.dedup_key.trim() !== '' ? body.dedup_key : undefined;
    // PagerDuty generates a UUID for a trigger without a dedup_key. Decision: 32 hex digits, no dashes.
    const dedupKey = given ?? randomUUID().replaceAll('-', '');
    if (!routed(routingKey)) return { dedupKey, outcome: 'unrouted' };
    const key = openKey(routingKey, dedupKey);
    const current = open.get(key);
    const at = entry.receivedAt;
    if (action === 'trigger') {
      if (current) {
        // Same open alert: a new trigger log entry; an acknowledged incident stays acknowledged.
        current.triggerCount += 1;
        return { dedupKey, outcome: 'deduplicated', incidentId: current.id };
      }
      const payload = body.payload as Record<string, unknown>;
      incidentCounter += 1;
      const incident: Incident = {
        id: `PEMU${String(incidentCounter).padStart(4, '0')}`,
        routingKey,
        dedupKey,
        status: 'triggered',
        triggerCount: 1,
        summary: String(payload.summary),
        severity: String(payload.severity),
        source: String(payload.source),
        createdAt: at,
      };
      incidents.push(incident);
      open.set(key, incident);
      return { dedupKey, outcome: 'created', incidentId: incident.id };
    }
    // Acknowledge or resolve with no open alert on this routing key: accepted, then dropped.
    if (!current) return { dedupKey, outcome: 'dropped' };
    if (action === 'acknowledge') {
      if (current.status === 'triggered') {
        current.status = 'acknowledged';
        current.acknowledgedAt = at;
      }
      return { dedupKey, outcome: 'acknowledged', incidentId: current.id };
    }
    current.status = 'resolved';
    current.resolvedAt = at;
    open.delete(key);
    return { dedupKey, outcome: 'resolved', incidentId: current.id };
  }

  function answer(res: ServerResponse, entry: ReceivedRequest, status: number, body: unknown): void {
    entry.status = status;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  function refuse(
    res: ServerResponse,
    entry: ReceivedRequest,
    status: number,
    reason: RejectionReason,
    body: unknown,
  ): void {
    const errors = isObject(body) && Array.isArray(body.errors) ? body.errors.map(String) : [];
    rejected.push({
      seq: entry.seq,
      receivedAt: entry.receivedAt,
      method: entry.method,
      path: entry.path,
      status,
      reason,
      errors,
      response: body,
      rawBody: entry.rawBody,
    });
    answer(res, entry, status, body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    seq += 1;
    const entry: ReceivedRequest = {
      seq,
      receivedAt: new Date(),
      method: req.method ?? '',
      path: req.url ?? '/',
      headers: { ...req.headers },
      rawBody,
    };
    requests.push(entry);

    if (hangCount > 0) {
      hangCount -= 1;
      return; // never answered; close() destroys the socket
    }
    if (failing && failing.count > 0) {
      failing.count -= 1;
      const body =
        failing.body ??
        (failing.status === 429
          ? THROTTLED
          : { status: 'error', message: `Emulated failure (HTTP ${failing.status})`, errors: [] });
      refuse(res, entry, failing.status, 'injected', body);
      return;
    }

    const path = new URL(entry.path, 'https://emulator').pathname;
    if (path !== ENQUEUE && path !== CHANGE_ENQUEUE) {
      refuse(res, entry, 404, 'not-found', { status: 'Not Found', message: `No such endpoint: ${path}` });
      return;
    }
    if (entry.method !== 'POST') {
      res.setHeader('allow', 'POST');
      refuse(res, entry, 405, 'method-not-allowed', {
        status: 'Method Not Allowed',
        message: `${path} takes POST only`,
      });
      return;
    }

    // Decision: the body is parsed whatever the Content-Type (PagerDuty's handling of others is undocumented).
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      refuse(res, entry, 400, 'unrecognized', UNRECOGNIZED);
      return;
    }
    if (!isObject(body)) {
      refuse(res, entry, 400, 'unrecognized', UNRECOGNIZED);
      return;
    }

    // Decision: the limit is checked before validation and counts invalid events too (PagerDuty's
    // limit is per integration key and its order is undocumented). Alert and change events share it.
    if (typeof body.routing_key === 'string' && !admit(body.routing_key, entry.receivedAt.getTime())) {
      refuse(res, entry, 429, 'rate-limited', THROTTLED);
      return;
    }

    const errors = path === ENQUEUE ? alertEventErrors(body) : changeEventErrors(body);
    if (errors.length === 0 && !routed(body.routing_key as string) && unknownKeys === 'reject')
      errors.push('Invalid routing key');
    if (errors.length > 0) {
      refuse(res, entry, 400, 'invalid', { ...INVALID_EVENT, errors });
      return;
    }

    const routingKey = body.routing_key as string;
    if (path === CHANGE_ENQUEUE) {
      changes.push({
        seq: entry.seq,
        receivedAt: entry.receivedAt,
        routingKey,
        body,
        unrouted: !routed(routingKey),
      });
      // Decision: PagerDuty's change-event success body is not in the spec; no dedup_key is returned.
      answer(res, entry, 202, { status: 'success', message: 'Change event processed' });
      return;
    }
    const applied = applyAlert(body, entry);
    events.push({
      seq: entry.seq,
      receivedAt: entry.receivedAt,
      routingKey,
      action: body.event_action as EventAction,
      dedupKey: applied.dedupKey,
      body,
      outcome: applied.outcome,
      ...(applied.incidentId ? { incidentId: applied.incidentId } : {}),
    });
    answer(res, entry, 202, { status: 'success', message: 'Event processed', dedup_key: applied.dedupKey });
  }

  const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', message: `emulator bug: ${String(err)}` }));
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A client that refuses the certificate aborts the handshake; that is the client's business.
  server.on('tlsClientError', () => {});

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  let closed = false;

  return {
    url: `https://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    caPem: tls.caPem,
    caFile: tls.caFile,
    events: () => record(events),
    changeEvents: () => record(changes),
    rejected: () => record(rejected),
    incidents: () => record(incidents),
    incident(dedupKey, routingKey) {
      const found = incidents.filter(
        (i) => i.dedupKey === dedupKey && (routingKey === undefined || i.routingKey === routingKey),
      );
      const last = found[found.length - 1];
      return last ? structuredClone(last) : undefined;
    },
    requests: () => record(requests),
    failNext(status, count, body) {
      failing = { status, count, ...(body === undefined ? {} : { body }) };
    },
    hang(count) {
      hangCount = count;
    },
    reset() {
      requests = [];
      events = [];
      changes = [];
      rejected = [];
      incidents = [];
      open = new Map();
      windows = new Map();
      failing = undefined;
      hangCount = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await stopped;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
