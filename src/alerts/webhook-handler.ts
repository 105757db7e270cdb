// POST /alerts: Alertmanager's webhook. Bearer token (constant-time compare), a size limit, schema
// validation, then 202 at once; the signals are handled after the answer. Alertmanager re-sends a group
// every group_interval, so handling is idempotent further in (the incident dedupes signals).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Catalog } from '../config/catalog-schema.js';
import { formatIssues } from '../config/format-issues.js';
import type { Logger } from '../rollback/ports.js';
import type { Signal } from '../rollback/signal.js';
import { webhookSchema } from './alertmanager-schema.js';
import { alertsToSignals } from './map-alerts.js';

export const MAX_BODY_BYTES = 1 << 20;

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export function createWebhookHandler(o: {
  token: string;
  catalog: Catalog;
  logger: Logger;
  onSignals: (s: Signal[]) => void;
}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const auth = req.headers.authorization ?? '';
    if (!o.token || !auth.startsWith('Bearer ') || !sameToken(auth.slice(7), o.token)) {
      reply(res, 401, { error: 'missing or wrong bearer token' });
      req.resume();
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      reply(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (tooBig) return reply(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
      let json: unknown;
      try {
        json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(res, 400, { error: 'body is not JSON' });
      }
      const parsed = webhookSchema.safeParse(json);
      if (!parsed.success)
        return reply(res, 400, {
          error: 'not an Alertmanager v4 webhook body',
          problems: formatIssues(parsed.error.issues, 'body'),
        });
      const { signals, unmatched } = alertsToSignals(o.catalog, parsed.data);
      reply(res, 202, { accepted: signals.length, unmatched });
      if (signals.length) setImmediate(() => o.onSignals(signals));
      if (unmatched)
        o.logger.info('alerts for services not in the catalog', {
          unmatched,
          groupKey: parsed.data.groupKey,
        });
    });
    req.on('error', () => reply(res, 400, { error: 'request aborted' }));
  };
}
