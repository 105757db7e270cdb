// The verification's rules on fakes of its ports: what passes, what fails, what is unknown (never a
// pass) and what is not configured (shown, not counted), the resource baseline, the dashboard
// follow-up and which alerts count as new.
import { describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../../../src/config/catalog-schema.js';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { blockingChecks, statusOf, verificationPassed } from '../../../src/rollback/check-results.js';
import type { PodSnapshot } from '../../../src/rollback/kube-types.js';
import type { Assessment, CheckResult } from '../../../src/rollback/model.js';
import { podNamePattern } from '../../../src/rollback/pod-names.js';
import type {
  AlertsPort,
  ExecResult,
  FiringAlert,
  KubePort,
  ObservePort,
} from '../../../src/rollback/ports.js';
import { type VerifyDeps, type VerifyInput, verify } from '../../../src/rollback/verify.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const RELEASED = '2026-03-01T11:00:00.000Z'; // the bad revision's creation
const UNDONE = '2026-03-01T11:58:00.000Z';

function service(tweak?: (svc: CatalogEntry) => void): CatalogEntry {
  const svc = parseCatalog(
    `services:
  rm:
    namespace: prod
    deployment: rm-prod
    approvers: { users: [U1] }
    health: { url: "http://rm/health", readyUrl: "http://rm/ready" }
    migrations: { expectedHeadAnnotation: head }
    smokeChecks:
      - { name: api, http: { url: "http://rm/api" } }
`,
  ).services.get('rm')!;
  svc.verify.restartWindowSeconds = 1;
  svc.verify.settleSeconds = 30;
  svc.verify.dashboardWindowSeconds = 60;
  tweak?.(svc);
  return svc;
}

const pod = (name: string, hash = 'good'): PodSnapshot => ({
  name,
  phase: 'Running',
  ready: true,
  nodeName: 'n',
  images: ['rm:v1'],
  podTemplateHash: hash,
  deleting: false,
  containers: [
    {
      name: 'app',
      ready: true,
      running: true,
      restartCount: 0,
      waitingReason: undefined,
      exitCode: undefined,
      terminatedReason: undefined,
      lastTerminatedReason: undefined,
    },
  ],
});

const assessment = { from: { createdAt: RELEASED }, metrics: { ok: false } } as unknown as Assessment;

interface World {
  /** Prometheus: the value of a query (by a word it contains) now, or at the baseline time. */
  now: Record<string, number | undefined>;
  before: Record<string, number | undefined>;
  exec: ExecResult | Error;
  http: Record<string, number>;
  alerts?: FiringAlert[] | Error;
  /** Queries asked, with their time (undefined = now). */
  asked: { q: string; at: Date | undefined }[];
}

const KEYS = ['errors_total', 'request_duration', 'cpu', 'memory'] as const;
const keyOf = (q: string) => KEYS.find((k) => q.includes(k)) ?? q;

function fakes(w: Partial<World> = {}): { deps: VerifyDeps; world: World } {
  const world: World = {
    now: { errors_total: 0.0002, request_duration: 0.05, cpu: 0.1, memory: 100 * 2 ** 20 },
    before: { errors_total: 0.0001, request_duration: 0.05, cpu: 0.1, memory: 100 * 2 ** 20 },
    exec: { stdout: 'aaa111 (head)\n', stderr: '', exitCode: 0 },
    http: {},
    alerts: [],
    asked: [],
    ...w,
  };
  let t = T0;
  const kube = {
    listPods: async () => [pod('rm-prod-abc12-x1y2z'), pod('rm-prod-abc12-q3w4e')],
    exec: async () => {
      if (world.exec instanceof Error) throw world.exec;
      return world.exec;
    },
  } as unknown as KubePort;
  const observe: ObservePort = {
    async query(q, at) {
      world.asked.push({ q, at });
      const k = keyOf(q);
      // The dashboard query is the error ratio over a window: keyed apart from the step-4 one.
      const v = q.includes('increase(') ? world.now.dashboard : (at ? world.before : world.now)[k];
      return { value: v, query: q, at: at ?? new Date(t) };
    },
    async httpCheck(url) {
      const status = world.http[url] ?? 200;
      return status ? { status, ms: 3 } : { status: 0, ms: 3, error: 'ECONNREFUSED' };
    },
  };
  const alerts: AlertsPort = {
    async firing() {
      if (world.alerts instanceof Error) throw world.alerts;
      return { source: 'GET am/api/v2/alerts', alerts: world.alerts ?? [] };
    },
  };
  const deps: VerifyDeps = {
    kube,
    observe,
    ...(w.alerts === undefined && 'alerts' in w ? {} : { alerts }),
    clock: {
      now: () => new Date(t),
      sleep: async (ms) => {
        t += ms;
      },
    },
    pollMs: 5000,
    execTimeoutMs: 1000,
  };
  if (!('dashboard' in world.now)) world.now.dashboard = 0.0002;
  return { deps, world };
}

function input(svc = service(), o: Partial<VerifyInput> = {}): VerifyInput {
  return {
    svc,
    selector: 'app=rm',
    replicas: 2,
    targetHash: 'good',
    targetHead: 'aaa111',
    assessment,
    undoneAt: UNDONE,
    ...o,
  };
}

const byName = (checks: CheckResult[], name: string) => {
  const c = checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name} in ${checks.map((x) => x.name).join(', ')}`);
  return c;
};

describe('the verdict', () => {
  const c = (status: CheckResult['status'], passed = status === 'passed'): CheckResult => ({
    name: String(status),
    passed,
    ...(status ? { status } : {}),
    evidence: { source: '', value: '', threshold: '' },
  });

  it('passes with passed and not-configured checks, never on not-configured alone', () => {
    expect(verificationPassed([c('passed'), c('not_configured')])).toBe(true);
    expect(verificationPassed([c('not_configured'), c('not_configured')])).toBe(false);
    expect(verificationPassed([])).toBe(false);
  });

  it('fails on a failed or an unknown check', () => {
    expect(verificationPassed([c('passed'), c('unknown')])).toBe(false);
    expect(verificationPassed([c('passed'), c('failed')])).toBe(false);
    expect(blockingChecks([c('passed'), c('unknown'), c('failed'), c('not_configured')])).toEqual([
      'unknown',
      'failed',
    ]);
  });

  it('reads records made before statuses from `passed`', () => {
    expect(statusOf(c(undefined, true))).toBe('passed');
    expect(statusOf(c(undefined, false))).toBe('failed');
  });
});

describe('verify', () => {
  it('passes a healthy service, with every check and the dashboard follow-up met', async () => {
    const { deps } = fakes();
    const v = await verify(deps, input());
    expect(v.checks.map((x) => [x.name, statusOf(x)])).toEqual([
      ['pods running and ready', 'passed'],
      ['no restarts', 'passed'],
      ['error rate', 'passed'],
      ['p99 latency', 'passed'],
      ['cpu', 'passed'],
      ['memory', 'passed'],
      ['/health', 'passed'],
      ['/ready', 'passed'],
      ['migrations at the target revision', 'passed'],
      ['smoke: api', 'passed'],
      ['no new alerts firing', 'passed'],
    ]);
    expect(v.checks.every((x) => x.passed === (x.status === 'passed'))).toBe(true);
    expect(v.passed).toBe(true);
    expect(v.followUps).toEqual([
      {
        name: 'error rate back to normal (dashboard review)',
        met: true,
        evidence: {
          source: expect.stringContaining('[60s]'),
          value: '0.02%',
          threshold: '< 0.10%',
        },
        detail: expect.stringContaining('over the 60 s after the metrics settled'),
      },
    ]);
    // The settle loop stopped at the first reading, then the dashboard window ran (the fake clock adds
    // the 1 s restart window too): not the 30 s settle time on top.
    expect(Date.parse(v.at) - T0).toBe(61_000);
  });

  it('shows what has nothing to check as not configured, and still passes on the rest', async () => {
    const svc = service((s) => {
      delete s.health.url;
      delete s.health.readyUrl;
      delete s.migrations;
      s.smokeChecks = [];
    });
    const { deps } = fakes({ alerts: undefined });
    const v = await verify(deps, input(svc));
    const nc = v.checks.filter((x) => statusOf(x) === 'not_configured');
    expect(nc.map((x) => [x.name, x.evidence.source, x.passed])).toEqual([
      ['/health', 'catalog health.url', false],
      ['/ready', 'catalog health.readyUrl', false],
      ['migrations at the target revision', 'catalog migrations', false],
      ['smoke checks', 'catalog smokeChecks', false],
      ['no new alerts firing', 'ALERTMANAGER_URL', false],
    ]);
    expect(nc.every((x) => x.evidence.value === 'not configured')).toBe(true);
    expect(v.passed).toBe(true);
  });

  it('fails a migration check that cannot know, never passes it', async () => {
    const cases: [Partial<VerifyInput>, Partial<World>, RegExp][] = [
      [{ targetHead: undefined }, {}, /not recorded on the target revision/],
      [{ targetHead: '' }, {}, /not usable.*empty/],
      [{ targetHead: 'head' }, {}, /symbolic/],
      [{}, { exec: new Error('container not found') }, /failed: container not found/],
      [{}, { exec: { stdout: '', stderr: 'FAILED: no DB', exitCode: 1 } }, /exit 1/],
      [{}, { exec: { stdout: '', stderr: '', exitCode: 0 } }, /printed no revision/],
      [{}, { exec: { stdout: 'aaa111 (head)\nccc333 (head)\n', stderr: '', exitCode: 0 } }, /several/],
    ];
    for (const [o, w, why] of cases) {
      const { deps } = fakes(w);
      const v = await verify(deps, input(service(), o));
      const m = byName(v.checks, 'migrations at the target revision');
      expect(statusOf(m), JSON.stringify(o) + JSON.stringify(w)).toBe('unknown');
      expect(m.passed).toBe(false);
      expect(`${m.evidence.value} ${m.detail ?? ''}`).toMatch(why);
      expect(v.passed).toBe(false);
    }
    const { deps } = fakes({ exec: { stdout: 'bbb222 (head)\n', stderr: '', exitCode: 0 } });
    const m = byName((await verify(deps, input())).checks, 'migrations at the target revision');
    expect([statusOf(m), m.evidence.value, m.evidence.threshold]).toEqual([
      'failed',
      'bbb222 (exit 0)',
      'aaa111',
    ]);
  });

  it('does not call ready pods of an unknown revision a pass', async () => {
    const { deps } = fakes();
    const v = await verify(deps, input(service(), { targetHash: undefined }));
    expect(statusOf(byName(v.checks, 'pods running and ready'))).toBe('unknown');
    expect(v.passed).toBe(false);
  });

  it('compares CPU and memory with the baseline before the bad revision, × resourceFactor', async () => {
    const { deps, world } = fakes({
      now: { errors_total: 0, request_duration: 0.05, cpu: 0.16, memory: 140 * 2 ** 20 },
    });
    const v = await verify(deps, input());
    const cpu = byName(v.checks, 'cpu');
    const mem = byName(v.checks, 'memory');
    // 0.16 > 0.1 × 1.5; 140 MiB ≤ 100 MiB × 1.5.
    expect([statusOf(cpu), cpu.evidence.value, cpu.evidence.threshold]).toEqual([
      'failed',
      '0.160 cores',
      '≤ 0.150 cores (baseline 0.100 cores at 2026-03-01T10:59:00.000Z × 1.5)',
    ]);
    expect([statusOf(mem), mem.evidence.value]).toEqual(['passed', '140.0 MiB']);
    expect(v.passed).toBe(false);
    // The baseline is read at the metrics' baseline time (offset 60 s before the release), by pod name.
    const base = world.asked.find((a) => a.at && a.q.includes('container_cpu_usage_seconds_total'))!;
    expect(base.at?.toISOString()).toBe('2026-03-01T10:59:00.000Z');
    expect(base.q).toContain(`pod=~"${podNamePattern('Deployment', 'rm-prod')}"`);
    expect(base.q).toContain('container!="",container!="POD"');
    expect(cpu.detail).toBe(`baseline: ${base.q}`);
    // Now: the verified pods by name, so a pod the rollout deleted does not linger in rate()'s window.
    expect(cpu.evidence.source).toContain('pod=~"rm-prod-abc12-x1y2z|rm-prod-abc12-q3w4e"');
    // It kept trying until the settle time ran out (CPU could still come down).
    expect(world.asked.filter((a) => a.q.includes('cpu') && !a.at).length).toBeGreaterThan(3);
  });

  it('says there is no baseline, does not pass, and does not wait for one', async () => {
    const { deps, world } = fakes({ before: { cpu: undefined, memory: 0 } });
    const v = await verify(deps, input());
    const cpu = byName(v.checks, 'cpu');
    const mem = byName(v.checks, 'memory');
    expect(statusOf(cpu)).toBe('unknown');
    expect(cpu.detail).toMatch(/^no pre-release baseline: no data at 2026-03-01T10:59:00\.000Z \(max\(/);
    expect(statusOf(mem)).toBe('unknown');
    expect(mem.detail).toMatch(/it is 0/);
    expect(v.passed).toBe(false);
    // Everything else settled at once: one round of queries, not the whole settle time.
    expect(world.asked.filter((a) => a.q.includes('cpu') && !a.at)).toHaveLength(1);
    // Without an assessment of the current revision there is no time to read it at either.
    const again = await verify(fakes().deps, input(service(), { assessment: undefined }));
    expect(byName(again.checks, 'cpu').detail).toMatch(/no current revision/);
  });

  it('keeps the pass/fail bar at passErrorRatio; the dashboard bar only makes a follow-up', async () => {
    const { deps } = fakes({
      now: { errors_total: 0.005, request_duration: 0.05, cpu: 0.1, memory: 2 ** 20, dashboard: 0.004 },
      before: { cpu: 0.1, memory: 2 ** 20 },
    });
    const v = await verify(deps, input());
    expect(statusOf(byName(v.checks, 'error rate'))).toBe('passed');
    expect(v.passed).toBe(true);
    expect(v.followUps?.[0]).toMatchObject({
      met: false,
      evidence: { value: '0.40%', threshold: '< 0.10%' },
    });
    const none = await verify(
      fakes({
        now: {
          errors_total: 0,
          request_duration: 0.05,
          cpu: 0.1,
          memory: 100 * 2 ** 20,
          dashboard: undefined,
        },
      }).deps,
      input(),
    );
    expect(none.followUps?.[0]).toMatchObject({ met: false, evidence: { value: 'no data' } });
  });

  it('fails on an alert that started after the undo, lists older ones without counting them', async () => {
    const alert = (name: string, startsAt: string, pod?: string): FiringAlert => ({
      name,
      fingerprint: name,
      startsAt,
      labels: { alertname: name, namespace: 'prod', deployment: 'rm-prod', ...(pod ? { pod } : {}) },
    });
    const older = alert('HighErrorRate', '2026-03-01T11:50:00Z');
    const { deps } = fakes({ alerts: [older] });
    const v = await verify(deps, input());
    const a = byName(v.checks, 'no new alerts firing');
    expect([statusOf(a), a.evidence.value]).toEqual(['passed', '0 new, 1 from before the undo']);
    expect(a.detail).toBe(
      'started before the undo and still firing (resolving, not counted): HighErrorRate (rm-prod) since 2026-03-01T11:50:00Z',
    );
    expect(a.evidence.threshold).toContain(`started after the undo at ${UNDONE}`);

    const fresh = alert('PodCrashLooping', '2026-03-01T11:59:00Z', 'rm-prod-abc12-x1y2z');
    const bad = await verify(fakes({ alerts: [older, fresh] }).deps, input());
    const b = byName(bad.checks, 'no new alerts firing');
    expect([statusOf(b), b.evidence.value]).toEqual(['failed', '1 new, 1 from before the undo']);
    expect(b.detail).toMatch(
      /^new: PodCrashLooping \(rm-prod-abc12-x1y2z\) since 2026-03-01T11:59:00Z\. started before/,
    );
    expect(bad.passed).toBe(false);

    const down = await verify(fakes({ alerts: new Error('Alertmanager unreachable') }).deps, input());
    expect(statusOf(byName(down.checks, 'no new alerts firing'))).toBe('unknown');
    expect(down.passed).toBe(false);
  });

  it('reads a new alert again until it resolves, and fails on one still firing when the settle time is over', async () => {
    // HighLatencyP99 fires after the undo on samples from before it (Alertmanager's startsAt is the
    // firing time, and the rule's rate window still holds the bad release's slow requests).
    const lingering: FiringAlert = {
      name: 'HighLatencyP99',
      fingerprint: 'p99',
      startsAt: '2026-03-01T12:00:01Z',
      labels: { alertname: 'HighLatencyP99', namespace: 'prod', deployment: 'rm-prod' },
    };
    // Undone just now; the dashboard window ends inside the settle time (30 s after the undo).
    const svc = service();
    svc.verify.dashboardWindowSeconds = 5;
    const justUndone = () => input(svc, { undoneAt: new Date(T0).toISOString() });
    const { deps } = fakes({ alerts: [lingering] });
    const reads: number[] = [];
    const firing = deps.alerts!.firing;
    deps.alerts = {
      async firing(svc) {
        reads.push(deps.clock.now().getTime());
        const got = await firing(svc);
        return reads.length >= 3 ? { ...got, alerts: [] } : got;
      },
    };
    const v = await verify(deps, justUndone());
    const a = byName(v.checks, 'no new alerts firing');
    expect([statusOf(a), a.evidence.value]).toEqual(['passed', '0 new, 0 from before the undo']);
    expect(a.detail).toBe(
      'fired after the undo and resolved while the metrics settled (not counted): HighLatencyP99 (rm-prod) since 2026-03-01T12:00:01Z',
    );
    expect(reads).toHaveLength(3);
    expect(reads[1]! - reads[0]!).toBe(deps.pollMs);
    expect(v.passed).toBe(true);

    // Still firing: failed, but only once the settle time after the undo is out.
    const stuck = fakes({ alerts: [lingering] }).deps;
    const bad = await verify(stuck, justUndone());
    expect(statusOf(byName(bad.checks, 'no new alerts firing'))).toBe('failed');
    expect(stuck.clock.now().getTime() - T0).toBeGreaterThanOrEqual(30_000);
    expect(bad.passed).toBe(false);

    // Read after the settle time (the other cases here: undone two minutes ago): once.
    const late = fakes({ alerts: [lingering] }).deps;
    let lateReads = 0;
    const lateFiring = late.alerts!.firing;
    late.alerts = {
      firing: (x) => {
        lateReads += 1;
        return lateFiring(x);
      },
    };
    const once = await verify(late, input(svc));
    expect(statusOf(byName(once.checks, 'no new alerts firing'))).toBe('failed');
    expect(lateReads).toBe(1);
  });

  it('treats an unreachable endpoint as unknown and a wrong status as failed', async () => {
    const { deps } = fakes({ http: { 'http://rm/health': 0, 'http://rm/ready': 503 } });
    const v = await verify(deps, input());
    expect(statusOf(byName(v.checks, '/health'))).toBe('unknown');
    expect(statusOf(byName(v.checks, '/ready'))).toBe('failed');
  });
});

describe('pod names', () => {
  const matches = (re: string, name: string) => new RegExp(`^(?:${re})$`).test(name);

  it("matches a workload's own pods, not those of a workload whose name extends it", () => {
    const d = podNamePattern('Deployment', 'rm-prod');
    expect(matches(d, 'rm-prod-7d9f8b6c4-x2k9p')).toBe(true);
    expect(matches(d, 'rm-prod-worker-7d9f8b6c4-x2k9p')).toBe(false);
    const s = podNamePattern('StatefulSet', 'ledger');
    expect(matches(s, 'ledger-0')).toBe(true);
    expect(matches(s, 'ledger-cache-0')).toBe(false);
    const ds = podNamePattern('DaemonSet', 'agent');
    expect(matches(ds, 'agent-x2k9p')).toBe(true);
    expect(matches(ds, 'agent-x-x2k9p')).toBe(false);
  });
});
