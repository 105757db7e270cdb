// The Alertmanager client on a local server: what it asks (API v2, namespace matcher, no silenced or
// inhibited alerts), which answers it keeps (the service's own alerts, matched as webhook alerts are),
// and which it refuses as alerts_unavailable.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertmanagerClient } from '../../../src/alerts/alertmanager-client.js';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { isCodedError } from '../../../src/errors.js';

const catalog = parseCatalog(`services:
  rm: { namespace: prod, deployment: rm-prod, approvers: { users: [U1] } }
  other: { namespace: prod, deployment: other, approvers: { users: [U1] } }
`);
const gettable = (labels: Record<string, string>, state = 'active') => ({
  annotations: { summary: `${labels.alertname} fires` },
  receivers: [{ name: 'bot' }],
  fingerprint: `fp-${labels.alertname}-${labels.deployment ?? labels.pod ?? ''}`,
  startsAt: '2026-03-01T11:00:00.000Z',
  updatedAt: '2026-03-01T11:00:05.000Z',
  endsAt: '2026-03-01T11:05:00.000Z',
  status: { state, silencedBy: [], inhibitedBy: [] },
  labels,
});

let answer: { status: number; body: unknown } = { status: 200, body: [] };
const asked: string[] = [];
const server = createServer((req, res) => {
  asked.push(req.url ?? '');
  res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
});
let url = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('Alertmanager client', () => {
  it("asks for the namespace's active alerts and keeps only the service's own", async () => {
    answer = {
      status: 200,
      body: [
        gettable({ alertname: 'HighErrorRate', namespace: 'prod', deployment: 'rm-prod' }),
        gettable({ alertname: 'PodCrashLooping', namespace: 'prod', pod: 'rm-prod-7d9f8b6c4-x2k9p' }),
        gettable({ alertname: 'HighErrorRate', namespace: 'prod', deployment: 'other' }),
        gettable({ alertname: 'Silenced', namespace: 'prod', deployment: 'rm-prod' }, 'suppressed'),
      ],
    };
    const am = createAlertmanagerClient({ url, catalog });
    const got = await am.firing('rm');
    expect(got.alerts.map((a) => [a.name, a.startsAt, a.summary])).toEqual([
      ['HighErrorRate', '2026-03-01T11:00:00.000Z', 'HighErrorRate fires'],
      ['PodCrashLooping', '2026-03-01T11:00:00.000Z', 'PodCrashLooping fires'],
    ]);
    const q = new URL(asked.at(-1) ?? '', 'http://x');
    expect(q.pathname).toBe('/api/v2/alerts');
    expect(Object.fromEntries(q.searchParams)).toEqual({
      active: 'true',
      silenced: 'false',
      inhibited: 'false',
      filter: 'namespace="prod"',
    });
    expect(got.source).toBe(
      `GET ${url.slice(0, -1)}/api/v2/alerts?active=true&silenced=false&inhibited=false&filter=namespace="prod"`,
    );
  });

  it('refuses an error status, a body that is not alerts, and an unreachable server', async () => {
    const am = createAlertmanagerClient({ url, catalog });
    answer = { status: 503, body: { error: 'not ready' } };
    await expect(am.firing('rm')).rejects.toSatisfy((e) => isCodedError(e, 'alerts_unavailable'));
    answer = { status: 200, body: { data: [] } };
    await expect(am.firing('rm')).rejects.toThrow(/not a list of alerts/);
    const gone = createAlertmanagerClient({ url: 'http://127.0.0.1:1', catalog, timeoutMs: 500 });
    await expect(gone.firing('rm')).rejects.toThrow(/Alertmanager unreachable/);
  });
});
