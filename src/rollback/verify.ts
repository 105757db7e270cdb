// Step 4 of the procedure: is the service healthy on the target revision? Every check says what it
// asked, what came back and the bar it had to clear. Restarts are sampled over a window and metrics
// are re-queried until they settle or the settle time runs out, concurrently.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { fillQuery } from './bounded.js';
import type { PodSnapshot } from './kube-types.js';
import type { Assessment, CheckResult, Verification } from './model.js';
import type { Clock, KubePort, ObservePort } from './ports.js';

export interface VerifyDeps {
  kube: KubePort;
  observe: ObservePort;
  clock: Clock;
  /** How often to re-query metrics while they settle. */
  pollMs: number;
  execTimeoutMs: number;
}

export interface VerifyInput {
  svc: CatalogEntry;
  selector: string;
  replicas: number;
  /**
   * How many pods must run the target revision: all of them, except a partitioned StatefulSet's pods
   * below the partition (kubectl's "partitioned roll out complete" leaves them as they are).
   */
  onTarget?: number;
  /** pod-template-hash of the target ReplicaSet: the pods must all be of it. */
  targetHash: string | undefined;
  targetHead: string | undefined;
  assessment: Assessment | undefined;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const restartsOf = (pods: PodSnapshot[]) =>
  Object.fromEntries(pods.map((p) => [p.name, p.containers.reduce((n, c) => n + c.restartCount, 0)]));

async function podsCheck(
  deps: VerifyDeps,
  v: VerifyInput,
): Promise<{ check: CheckResult; pods: PodSnapshot[] }> {
  const pods = (await deps.kube.listPods(v.svc.namespace, v.selector)).filter((p) => !p.deleting);
  const ready = pods.filter((p) => p.phase === 'Running' && p.ready);
  const good = ready.filter((p) => !v.targetHash || p.podTemplateHash === v.targetHash);
  const onTarget = v.onTarget ?? v.replicas;
  const partial = onTarget < v.replicas;
  const passed = partial
    ? ready.length === pods.length && pods.length === v.replicas && good.length >= onTarget
    : good.length === pods.length && pods.length === v.replicas;
  return {
    pods,
    check: {
      name: 'pods running and ready',
      passed,
      evidence: {
        source: `pods ${v.selector} in ${v.svc.namespace}`,
        value: partial
          ? `${ready.length}/${pods.length} Running+Ready, ${good.length} on the target revision`
          : `${good.length}/${pods.length} Running+Ready on the target revision`,
        threshold: partial
          ? `all ${v.replicas} ready, at least ${onTarget} on the target (partition)`
          : `all ${v.replicas}`,
      },
      ...(passed
        ? {}
        : {
            detail: pods
              .filter((p) => (partial ? !ready.includes(p) : !good.includes(p)))
              .map((p) => `${p.name}: ${p.phase}${p.ready ? '' : ', not ready'}`)
              .join('; '),
          }),
    },
  };
}

async function restartCheck(deps: VerifyDeps, v: VerifyInput, before: PodSnapshot[]): Promise<CheckResult> {
  const windowMs = v.svc.verify.restartWindowSeconds * 1000;
  await deps.clock.sleep(windowMs);
  const after = restartsOf(
    (await deps.kube.listPods(v.svc.namespace, v.selector)).filter((p) => !p.deleting),
  );
  const start = restartsOf(before);
  const grew = Object.entries(after).filter(([name, n]) => n > (start[name] ?? n));
  return {
    name: 'no restarts',
    passed: grew.length === 0,
    evidence: {
      source: `restartCount of ${Object.keys(after).length} pod(s) over ${v.svc.verify.restartWindowSeconds}s`,
      value: grew.length ? grew.map(([n, c]) => `${n}: ${start[n]}→${c}`).join(', ') : 'unchanged',
      threshold: 'no increase',
    },
  };
}

async function httpCheck(
  deps: VerifyDeps,
  name: string,
  url: string,
  expect: number,
  timeoutMs: number,
): Promise<CheckResult> {
  const r = await deps.observe.httpCheck(url, timeoutMs);
  return {
    name,
    passed: r.status === expect,
    evidence: {
      source: `GET ${url}`,
      value: r.status ? `HTTP ${r.status} in ${r.ms} ms` : `unreachable: ${r.error}`,
      threshold: `HTTP ${expect}`,
    },
  };
}

async function execCheck(
  deps: VerifyDeps,
  v: VerifyInput,
  pods: PodSnapshot[],
  name: string,
  argv: string[],
  container: string | undefined,
  expectOutput?: string,
): Promise<CheckResult> {
  const pod = pods.find((p) => p.ready);
  const source = `exec ${argv.join(' ')}${pod ? ` in ${pod.name}` : ''}`;
  if (!pod)
    return {
      name,
      passed: false,
      evidence: { source, value: 'no ready pod', threshold: expectOutput ?? 'exit 0' },
    };
  try {
    const r = await deps.kube.exec(v.svc.namespace, pod.name, container, argv, deps.execTimeoutMs);
    const out = r.stdout.trim();
    const first = out.split(/\s+/)[0] ?? '';
    const passed = expectOutput === undefined ? r.exitCode === 0 : r.exitCode === 0 && first === expectOutput;
    return {
      name,
      passed,
      evidence: {
        source,
        value:
          expectOutput === undefined ? `exit ${r.exitCode}` : `${first || '(empty)'} (exit ${r.exitCode})`,
        threshold: expectOutput ?? 'exit 0',
      },
      ...(r.exitCode !== 0 ? { detail: r.stderr.trim().slice(-300) } : {}),
    };
  } catch (err) {
    return {
      name,
      passed: false,
      evidence: { source, value: `failed: ${(err as Error).message}`, threshold: expectOutput ?? 'exit 0' },
    };
  }
}

/** Polls both metric checks until they pass or the settle time is over; the last reading is the evidence. */
async function metricChecks(deps: VerifyDeps, v: VerifyInput): Promise<CheckResult[]> {
  const m = v.svc.metrics;
  const vars = { namespace: v.svc.namespace, deployment: v.svc.deployment };
  const erq = fillQuery(m.errorRatioQuery, vars);
  const p99q = fillQuery(m.p99Query, vars);
  const baseline = v.assessment?.metrics.ok ? v.assessment.metrics.value.baselineP99Seconds : undefined;
  const p99Limit =
    baseline !== undefined && baseline > 0
      ? Math.min(baseline * m.p99BaselineFactor, m.p99ThresholdSeconds)
      : m.p99ThresholdSeconds;
  const deadline = deps.clock.now().getTime() + v.svc.verify.settleSeconds * 1000;
  for (;;) {
    let er: CheckResult;
    let p99: CheckResult;
    try {
      const [a, b] = await Promise.all([deps.observe.query(erq), deps.observe.query(p99q)]);
      er = {
        name: 'error rate',
        passed: a.value !== undefined && a.value < m.passErrorRatio,
        evidence: {
          source: erq,
          value: a.value === undefined ? 'no data' : pct(a.value),
          threshold: `< ${pct(m.passErrorRatio)}`,
        },
      };
      p99 = {
        name: 'p99 latency',
        passed: b.value !== undefined && b.value <= p99Limit,
        evidence: {
          source: p99q,
          value: b.value === undefined ? 'no data' : `${b.value.toFixed(3)} s`,
          threshold:
            baseline !== undefined
              ? `≤ ${p99Limit.toFixed(3)} s (baseline ${baseline.toFixed(3)} s × ${m.p99BaselineFactor})`
              : `≤ ${p99Limit} s`,
        },
      };
    } catch (err) {
      const value = `unavailable: ${(err as Error).message}`;
      er = {
        name: 'error rate',
        passed: false,
        evidence: { source: erq, value, threshold: `< ${pct(m.passErrorRatio)}` },
      };
      p99 = {
        name: 'p99 latency',
        passed: false,
        evidence: { source: p99q, value, threshold: `≤ ${p99Limit} s` },
      };
    }
    if ((er.passed && p99.passed) || deps.clock.now().getTime() >= deadline) return [er, p99];
    await deps.clock.sleep(deps.pollMs);
  }
}

export async function verify(deps: VerifyDeps, v: VerifyInput): Promise<Verification> {
  const { check: pods, pods: podList } = await podsCheck(deps, v);
  const svc = v.svc;
  const jobs: Promise<CheckResult | CheckResult[]>[] = [
    restartCheck(deps, v, podList),
    metricChecks(deps, v),
  ];
  if (svc.health.url) jobs.push(httpCheck(deps, '/health', svc.health.url, 200, svc.health.timeoutMs));
  if (svc.migrations) {
    if (v.targetHead) {
      jobs.push(
        execCheck(
          deps,
          v,
          podList,
          'migrations at the target revision',
          svc.migrations.currentCommand,
          svc.migrations.container ?? svc.container,
          v.targetHead,
        ),
      );
    } else {
      jobs.push(
        Promise.resolve({
          name: 'migrations at the target revision',
          // Unknown is never a pass: without the expected head nobody can say the schema is right.
          passed: false,
          evidence: {
            source: `pod-template annotation ${svc.migrations.expectedHeadAnnotation}`,
            value: 'not recorded on the target revision',
            threshold: 'the revision must record its expected head',
          },
        }),
      );
    }
  }
  for (const s of svc.smokeChecks) {
    if (s.http)
      jobs.push(httpCheck(deps, `smoke: ${s.name}`, s.http.url, s.http.expectStatus, svc.health.timeoutMs));
    if (s.exec)
      jobs.push(
        execCheck(deps, v, podList, `smoke: ${s.name}`, s.exec.command, s.exec.container ?? svc.container),
      );
  }
  const checks = [pods, ...(await Promise.all(jobs)).flat()];
  return { at: deps.clock.now().toISOString(), passed: checks.every((c) => c.passed), checks };
}
