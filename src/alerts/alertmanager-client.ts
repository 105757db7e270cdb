// Asks Alertmanager (API v2, GET /api/v2/alerts) what is firing, for the verification's "no new
// alerts" check. Alertmanager is asked for the service's namespace only (a matcher it applies), and
// each alert is then matched to a catalog entry exactly as an incoming webhook alert is
// (serviceOfAlert), so the two never disagree about whose alert it is.
import axios from 'axios';
import { z } from 'zod';
import type { Catalog } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import type { AlertsPort, FiringAlert } from '../rollback/ports.js';
import { serviceOfAlert } from './map-alerts.js';

const labels = z.record(z.string(), z.string());

/** Alertmanager's gettableAlert, the fields relied on; unknown fields are kept. */
const gettableAlertSchema = z.looseObject({
  labels,
  annotations: labels.default({}),
  fingerprint: z.string().min(1),
  startsAt: z.string().min(1),
  endsAt: z.string().optional(),
  status: z.looseObject({ state: z.string() }),
});
const gettableAlertsSchema = z.array(gettableAlertSchema);

/** Matcher values are double-quoted strings: a backslash or quote in them is escaped. */
const quoted = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function createAlertmanagerClient(opts: {
  url: string;
  catalog: Catalog;
  timeoutMs?: number;
}): AlertsPort {
  const base = opts.url.replace(/\/+$/, '');
  const http = axios.create({
    timeout: opts.timeoutMs ?? 5000,
    validateStatus: () => true,
    // An alert storm in one namespace is thousands of alerts of a few hundred bytes each.
    maxContentLength: 8 << 20,
  });

  return {
    async firing(service) {
      const svc = opts.catalog.services.get(service);
      if (!svc) throw new CodedError('rollback_unknown_service', `${service} is not in the catalog`);
      // Built by hand: axios would send an array as filter[]=…, which Alertmanager does not read.
      const params = new URLSearchParams({ active: 'true', silenced: 'false', inhibited: 'false' });
      params.append('filter', `namespace=${quoted(svc.namespace)}`);
      const url = `${base}/api/v2/alerts?${params}`;
      const source = `GET ${base}/api/v2/alerts?active=true&silenced=false&inhibited=false&filter=namespace=${quoted(svc.namespace)}`;
      let res: { status: number; data: unknown };
      try {
        res = await http.get(url);
      } catch (err) {
        throw new CodedError(
          'alerts_unavailable',
          `Alertmanager unreachable at ${base}: ${(err as Error).message}`,
          { remedy: 'Check ALERTMANAGER_URL and that the bot may reach it.', cause: err },
        );
      }
      if (res.status !== 200) {
        throw new CodedError('alerts_unavailable', `Alertmanager answered ${res.status}`, {
          remedy: 'Check ALERTMANAGER_URL (the base URL, without /api/v2).',
        });
      }
      const parsed = gettableAlertsSchema.safeParse(res.data);
      if (!parsed.success) {
        throw new CodedError(
          'alerts_unavailable',
          `Alertmanager's answer is not a list of alerts: ${parsed.error.issues[0]?.message ?? 'unreadable'}`,
          { remedy: 'ALERTMANAGER_URL must point at Alertmanager (API v2).' },
        );
      }
      const alerts: FiringAlert[] = [];
      for (const a of parsed.data) {
        // Suppressed (silenced, inhibited) ones were asked away already; this holds if a proxy or an
        // older Alertmanager ignores the flags. Resolved alerts are never in Alertmanager's answer.
        if (a.status.state === 'suppressed') continue;
        if (serviceOfAlert(opts.catalog, a.labels)?.name !== service) continue;
        alerts.push({
          name: a.labels.alertname ?? 'alert',
          fingerprint: a.fingerprint,
          startsAt: a.startsAt,
          labels: a.labels,
          ...(a.annotations.summary ? { summary: a.annotations.summary } : {}),
        });
      }
      return { source, alerts };
    },
  };
}
