// The PagerDuty wrapper against the strict emulator: pdjs's defects must not leak.
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPager, dedupKey } from '../../../src/pagerduty/create-pager.js';
import { createRedactor } from '../../../src/redact.js';
import type { Rollback } from '../../../src/rollback/model.js';
import { silentLogger } from '../../../src/rollback/ports.js';
import { type PagerDutyEmulator, startPagerDutyEmulator } from '../../support/pagerduty-emulator/index.js';

const KEY = 'unit0routing0key0000000000000001';
let pd: PagerDutyEmulator;

const rollback = (o: Partial<Rollback> = {}): Rollback => ({
  id: 'r1',
  service: 'release-manager',
  namespace: 'production',
  deployment: 'release-manager-prod',
  state: 'completed',
  version: 9,
  mode: 'auto',
  dryRun: false,
  toRevision: 0,
  reason: 'HighErrorRate: Error ratio 8.3%',
  requestedBy: { kind: 'alert', id: 'fp', name: 'HighErrorRate' },
  requestedAt: '2026-11-27T12:00:00.000Z',
  updatedAt: '2026-11-27T12:05:00.000Z',
  approvals: [],
  assessment: {
    from: { revision: 9, replicaSet: 'rs9', images: ['app:v9'], changeCause: undefined, createdAt: '' },
    target: {
      revision: 8,
      replicaSet: 'rs8',
      images: ['app:v8'],
      changeCause: undefined,
      createdAt: '',
      reason: '',
    },
    findings: ['error rate 8.3%'],
  } as unknown as Rollback['assessment'],
  ...o,
});

beforeAll(async () => {
  pd = await startPagerDutyEmulator({ routingKeys: [KEY] });
});
afterAll(() => pd.close());

const pager = (timeoutMs = 2000) =>
  createPager(
    { routingKey: KEY, server: pd.host, agent: new Agent({ ca: pd.caPem }), timeoutMs },
    silentLogger,
  );

describe('PagerDuty adapter', () => {
  it('triggers, then resolves on the same dedup_key when the automatic rollback is verified, with a change event', async () => {
    pd.reset();
    const p = pager();
    await p.rollbackStarted(rollback({ state: 'undoing' }));
    await p.rollbackFinished(rollback());
    const key = dedupKey('production', 'release-manager-prod', 9);
    expect(pd.events().map((e) => [e.action, e.dedupKey])).toEqual([
      ['trigger', key],
      ['resolve', key],
    ]);
    expect(pd.incident(key, KEY)?.status).toBe('resolved');
    expect(pd.changeEvents()).toHaveLength(1);
  });

  it('leaves the incident open with the failure when verification failed', async () => {
    pd.reset();
    const p = pager();
    await p.rollbackStarted(rollback({ state: 'undoing' }));
    await p.rollbackFinished(
      rollback({
        state: 'failed',
        failure: { step: 'verifying', code: 'x', message: 'error rate 4%', at: '' },
      }),
    );
    const key = dedupKey('production', 'release-manager-prod', 9);
    const inc = pd.incident(key, KEY);
    expect(inc?.status).toBe('triggered');
    expect(inc?.triggerCount).toBe(2);
    expect(pd.events()[1]?.body).toMatchObject({
      payload: { summary: expect.stringContaining('FAILED (error rate 4%)') },
    });
  });

  it("a verified manual rollback resolves its release's incident; a failed one pages unless the service says not to", async () => {
    pd.reset();
    const key = 'rollback-bot/production/release-manager-prod/revision-9';
    expect(await pager().rollbackFinished(rollback({ mode: 'manual' }))).toEqual({
      action: 'resolve',
      dedupKey: key,
    });
    expect(pd.events().map((e) => [e.action, e.dedupKey])).toEqual([['resolve', key]]);
    expect(pd.changeEvents()).toHaveLength(1);

    pd.reset();
    const failed = rollback({
      mode: 'manual',
      state: 'failed',
      failure: { step: 'undoing', code: 'rollback_timeout', message: 'timed out', at: '' },
    });
    expect(await pager().rollbackFinished(failed)).toEqual({ action: 'trigger', dedupKey: key });
    expect(pd.events()[0]).toMatchObject({ action: 'trigger', dedupKey: key });
    expect(pd.events()[0]?.body).toMatchObject({ payload: { class: 'manual rollback' } });

    pd.reset();
    expect(await pager().rollbackFinished({ ...failed, pageOnFailure: false })).toEqual({ action: 'none' });
    expect(pd.events()).toEqual([]);
    expect(pd.changeEvents()).toHaveLength(1);
  });

  it('turns an HTTP error into an error, instead of resolving like pdjs', async () => {
    pd.reset();
    pd.failNext(500, 1, '{"status":"error","message":"Internal error"}');
    await expect(pager().rollbackStarted(rollback())).rejects.toThrow(
      /PagerDuty refused the event \(HTTP 500\)/,
    );
  });

  it('gives up at its deadline when PagerDuty does not answer', async () => {
    pd.reset();
    pd.hang(1);
    const t = Date.now();
    await expect(pager(300).rollbackStarted(rollback())).rejects.toThrow(/PagerDuty unreachable/);
    expect(Date.now() - t).toBeLessThan(3000);
  });

  it('redacts summary and custom_details, never the routing key it authenticates with', async () => {
    pd.reset();
    const p = createPager(
      {
        routingKey: KEY,
        server: pd.host,
        agent: new Agent({ ca: pd.caPem }),
        redactor: createRedactor([KEY, 'configured-webhook-token']),
      },
      silentLogger,
    );
    const leaky = 'pod said postgres://app:hunter2@db/app and Bearer abcdefgh12 and configured-webhook-token';
    await p.rollbackStarted(rollback({ state: 'undoing', reason: leaky }));
    const [sent] = pd.events();
    const body = JSON.stringify(sent?.body);
    expect(sent?.body.routing_key).toBe(KEY);
    expect(body).not.toMatch(/hunter2|abcdefgh12|configured-webhook-token/);
    expect(body).toContain('postgres://app:***@db/app');
  });
});
