// The webhook's front door: token, size, schema, mapping to catalogued services; answered before work.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsToSignals } from '../../../src/alerts/map-alerts.js';
import { createWebhookHandler, MAX_BODY_BYTES } from '../../../src/alerts/webhook-handler.js';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { silentLogger } from '../../../src/rollback/ports.js';
import type { Signal } from '../../../src/rollback/signal.js';
import { alertmanagerNotification } from '../../support/alert-payloads.js';

const catalog = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
);
const received: Signal[][] = [];
const server = createServer(
  createWebhookHandler({
    token: 's3cret-token',
    catalog,
    logger: silentLogger,
    onSignals: (s) => received.push(s),
  }),
);
let url = '';

const alert = (labels: Record<string, string>, status = 'firing') => ({
  status,
  labels,
  annotations: {
    summary: 'Error ratio 8.3% on production/release-manager-prod (threshold 5%)',
    threshold: '0.05',
  },
  startsAt: '2026-11-27T11:23:58.611Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prom:9090/graph?g0.expr=sum%28rate%28errors_total%5B1m%5D%29%29+%3E+0.05&g0.tab=1',
  fingerprint: '1a48895ddf2a4ccc',
});
// notification_reason: a field newer Alertmanagers add, which the schema must tolerate.
const body = (alerts: unknown[]) => ({
  ...alertmanagerNotification(alerts),
  notification_reason: 'first notification',
});
const post = (payload: string, token = 's3cret-token') =>
  fetch(`${url}/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: payload,
  });

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('alert webhook', () => {
  it('accepts a v4 body (with newer fields) and maps namespace+deployment to the catalogued service', async () => {
    received.length = 0;
    const res = await post(
      JSON.stringify(
        body([
          alert({ alertname: 'HighErrorRate', namespace: 'production', deployment: 'release-manager-prod' }),
          alert({ alertname: 'X', namespace: 'other', deployment: 'y' }),
        ]),
      ),
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, unmatched: 1 });
    await new Promise((r) => setTimeout(r, 10));
    const s = received.flat()[0];
    expect(s).toMatchObject({
      service: 'release-manager',
      source: 'alert',
      name: 'HighErrorRate',
      status: 'firing',
      key: '1a48895ddf2a4ccc',
    });
    expect(s?.why).toMatchObject({
      query: 'sum(rate(errors_total[1m])) > 0.05',
      threshold: '0.05',
      since: '2026-11-27T11:23:58.611Z',
    });
  });

  it('refuses a wrong or missing token with 401 and does nothing', async () => {
    received.length = 0;
    expect(
      (
        await post(
          JSON.stringify(body([alert({ namespace: 'production', deployment: 'release-manager-prod' })])),
          'wrong',
        )
      ).status,
    ).toBe(401);
    expect((await fetch(`${url}/alerts`, { method: 'POST', body: '{}' })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 10));
    expect(received).toEqual([]);
  });

  it('refuses malformed and oversized bodies with 4xx and says why', async () => {
    received.length = 0;
    expect((await post('{not json')).status).toBe(400);
    const wrongVersion = await post(JSON.stringify({ ...body([]), version: '3' }));
    expect(wrongVersion.status).toBe(400);
    expect(JSON.stringify(await wrongVersion.json())).toContain('body.version');
    const noFingerprint = await post(JSON.stringify(body([{ ...alert({}), fingerprint: undefined }])));
    expect(noFingerprint.status).toBe(400);
    expect((await post('x'.repeat(MAX_BODY_BYTES + 1))).status).toBe(413);
    await new Promise((r) => setTimeout(r, 10));
    expect(received).toEqual([]);
  });
});

describe('alert mapping', () => {
  const map = (labels: Record<string, string>) =>
    alertsToSignals(catalog, alertmanagerNotification([alert(labels)]) as never).signals;

  it('maps a `service` label only in the entry namespace: staging is not production', () => {
    expect(map({ alertname: 'HighErrorRate', service: 'release-manager', namespace: 'staging' })).toEqual([]);
    expect(map({ alertname: 'HighErrorRate', service: 'release-manager' })).toEqual([]);
    expect(
      map({ alertname: 'HighErrorRate', service: 'release-manager', namespace: 'production' }),
    ).toHaveLength(1);
    // A `service` label does not override a deployment label naming another Deployment.
    expect(
      map({
        alertname: 'HighErrorRate',
        service: 'release-manager',
        namespace: 'production',
        deployment: 'other',
      }),
    ).toEqual([]);
  });

  it('needs namespace and deployment (or a pod of the Deployment) to match together', () => {
    expect(
      map({ alertname: 'HighErrorRate', namespace: 'staging', deployment: 'release-manager-prod' }),
    ).toEqual([]);
    expect(map({ alertname: 'HighErrorRate', deployment: 'release-manager-prod' })).toEqual([]);
    const byPod = map({
      alertname: 'KubePodCrashLooping',
      namespace: 'production',
      pod: 'release-manager-prod-7d9c5b6f4-x2k8q',
    });
    expect(byPod[0]).toMatchObject({ service: 'release-manager', kind: 'crash_loop' });
    expect(byPod[0]?.context).toBeUndefined();
  });

  it('keeps alerts outside the allow-list as context only, and names the kind of the ones inside', () => {
    const [noise] = map({
      alertname: 'CPUThrottlingHigh',
      namespace: 'production',
      deployment: 'release-manager-prod',
    });
    expect(noise?.context).toMatch(/not in the service's triggers.alerts/);
    expect(noise?.kind).toBeUndefined();
    const [rule] = map({
      alertname: 'HighLatencyP99',
      rollback_trigger: 'latency_p99',
      namespace: 'production',
      deployment: 'release-manager-prod',
    });
    expect(rule).toMatchObject({ kind: 'latency_p99' });
    expect(rule?.context).toBeUndefined();
  });
});
