// The paging port on PagerDuty's Events API v2, through @pagerduty/pdjs, wrapped so its known defects
// do not leak (facts checked against its source): its requestTimeout never fires, so a real deadline
// is an AbortSignal; it resolves (does not throw) on 400/5xx, so ok:false becomes a coded error; it
// retries 429 three times after retryTimeout (20 s by default), so that wait is shortened.
import type { Agent } from 'node:https';
import { event } from '@pagerduty/pdjs';
import { CodedError } from '../errors.js';
import { createRedactor, type Redactor } from '../redact.js';
import { statusOf } from '../rollback/check-results.js';
import type { Rollback } from '../rollback/model.js';
import type { Incident, Logger, PagerPort } from '../rollback/ports.js';

export interface PagerSettings {
  routingKey: string;
  /** Events API host; only changed for a local emulator. */
  server?: string;
  /** Extra trust for a local emulator's certificate. */
  agent?: Agent;
  timeoutMs?: number;
  /**
   * Masks secrets in everything sent but the routing key itself: summaries and custom_details quote
   * alerts, Kubernetes and people. Default: the patterns only (no configured secrets).
   */
  redactor?: Redactor;
}

type Payload = {
  summary: string;
  source: string;
  severity: 'critical' | 'error' | 'warning' | 'info';
  component?: string;
  group?: string;
  class?: string;
  custom_details?: object;
  timestamp?: string;
};

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** One PagerDuty incident per Deployment and bad revision: triggers for it collapse, resolve closes it. */
export function dedupKey(namespace: string, deployment: string, revision: number): string {
  return clip(`rollback-bot/${namespace}/${deployment}/revision-${revision}`, 255);
}

export function createPager(
  s: PagerSettings,
  logger: Logger,
): PagerPort & { send(kind: 'event' | 'change', data: object): Promise<string | undefined> } {
  const redactor = s.redactor ?? createRedactor();
  async function send(kind: 'event' | 'change', data: object): Promise<string | undefined> {
    const { routing_key, ...rest } = data as { routing_key?: unknown };
    const params = {
      data: { routing_key, ...redactor.redactValue(rest) },
      ...(kind === 'change' ? { type: 'change' } : {}),
      ...(s.server ? { server: s.server } : {}),
      ...(s.agent ? { agent: s.agent } : {}),
      signal: AbortSignal.timeout(s.timeoutMs ?? 10_000),
      requestTimeout: 0,
      retryTimeout: 1000,
    };
    let res: Awaited<ReturnType<typeof event>>;
    try {
      res = await event(params as unknown as Parameters<typeof event>[0]);
    } catch (err) {
      throw new CodedError('internal', `PagerDuty unreachable: ${(err as Error).message}`, { cause: err });
    }
    const body = (res as { data?: { dedup_key?: string; message?: string; errors?: string[] } }).data;
    if (!res.ok) {
      throw new CodedError(
        'internal',
        `PagerDuty refused the event (HTTP ${res.status}): ${body?.message ?? ''} ${(body?.errors ?? []).join('; ')}`.trim(),
      );
    }
    return body?.dedup_key;
  }

  const alert = (action: 'trigger' | 'resolve', key: string, payload?: Payload) =>
    send('event', {
      routing_key: s.routingKey,
      event_action: action,
      dedup_key: key,
      ...(payload ? { payload: { ...payload, summary: clip(payload.summary, 1024) } } : {}),
    });

  const details = (r: Rollback) => ({
    rollback_id: r.id,
    service: r.service,
    reason: r.reason,
    from: r.assessment?.from,
    to: r.assessment?.target,
    findings: r.assessment?.findings,
    thread: r.thread,
  });

  return {
    send,

    async rollbackStarted(r) {
      const from = r.assessment?.from?.revision ?? 0;
      const key = dedupKey(r.namespace, r.deployment, from);
      await alert('trigger', key, {
        summary: `Automatic rollback of ${r.service} (${r.namespace}/${r.deployment}) from revision ${from} to ${r.assessment?.target?.revision ?? '?'}: ${r.reason}`,
        source: 'rollback-bot',
        severity: 'critical',
        component: r.deployment,
        group: r.namespace,
        class: 'automatic rollback',
        custom_details: details(r),
      });
      return { action: 'trigger', dedupKey: key };
    },

    async rollbackFinished(r) {
      const from = r.assessment?.from?.revision ?? 0;
      const ok = r.state === 'completed';
      const summary = `${r.mode === 'auto' ? 'Automatic rollback' : 'Rollback'} of ${r.service} (${r.namespace}/${r.deployment}) from revision ${from} to ${r.assessment?.target?.revision ?? '?'}: ${ok ? 'verified' : `FAILED (${r.failure?.message ?? 'verification failed'})`}`;
      // A change event for every rollback, so it shows on the service's timeline.
      await send('change', {
        routing_key: s.routingKey,
        payload: {
          summary: clip(summary, 1024),
          source: 'rollback-bot',
          timestamp: new Date().toISOString(),
          custom_details: details(r),
        },
        links: [],
      }).catch((err: unknown) =>
        logger.warn('PagerDuty change event failed', { error: (err as Error).message }),
      );
      const key = dedupKey(r.namespace, r.deployment, from);
      // A verified rollback of the release resolves its incident, whoever opened it (an earlier failed
      // rollback of the same release, manual or automatic; resolving a key with no incident is a no-op).
      if (ok) {
        await alert('resolve', key);
        return { action: 'resolve', dedupKey: key };
      }
      // A failed one pages: automatic ones always, manual ones unless the service says not to.
      if (r.mode !== 'auto' && r.pageOnFailure === false) return { action: 'none' };
      await alert('trigger', key, {
        summary,
        source: 'rollback-bot',
        severity: 'critical',
        component: r.deployment,
        group: r.namespace,
        class: r.mode === 'auto' ? 'automatic rollback' : 'manual rollback',
        custom_details: {
          ...details(r),
          verification: r.verification?.checks.filter((c) => ['failed', 'unknown'].includes(statusOf(c))),
        },
      });
      return { action: 'trigger', dedupKey: key };
    },

    async rollbackSuppressed(incident: Incident, reason: string) {
      await alert('trigger', dedupKey(incident.namespace, incident.deployment, incident.revision), {
        summary: `Automatic rollback of ${incident.service} (revision ${incident.revision}) suppressed: ${reason}`,
        source: 'rollback-bot',
        severity: 'critical',
        class: 'automatic rollback suppressed',
        custom_details: { incident: incident.key, images: incident.images, thread: incident.thread, reason },
      });
    },
  };
}
