// Step 4 of the procedure, and its "Monitoring Dashboard Review": is the service healthy on the target
// revision? Every check says what it asked, what came back and the bar it had to clear, and ends
// passed, failed, unknown (could not be checked: never a pass) or not configured (nothing to check:
// shown, left out of the verdict). Restarts are sampled over a window; error rate, p99, CPU and memory
// are re-queried until they settle or the settle time runs out; then the dashboard window follows,
// after which the stricter dashboard error ratio is recorded as a follow-up and firing alerts are read.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { fillQuery } from './bounded.js';
import { checkResult, notConfigured, verificationPassed } from './check-results.js';
import type { PodSnapshot } from './kube-types.js';
import { headProblem, parseCurrentHead } from './migration-heads.js';
import type { Assessment, CheckResult, CheckStatus, FollowUp, Verification } from './model.js';
import { podNamePattern } from './pod-names.js';
import type { AlertsPort, Clock, FiringAlert, KubePort, ObservePort } from './ports.js';

export interface VerifyDeps {
  kube: KubePort;
  observe: ObservePort;
  /** Unset when ALERTMANAGER_URL is not: "no new alerts firing" is then not configured. */
  alerts?: AlertsPort;
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
  /** When the undo was made (the record's undo.at): an alert that started after it is new. */
  undoneAt: string | undefined;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const cores = (v: number) => `${v.toFixed(3)} cores`;
const mib = (v: number) => `${(v / 2 ** 20).toFixed(1)} MiB`;
const restartsOf = (pods: PodSnapshot[]) =>
  Object.fromEntries(pods.map((p) => [p.name, p.containers.reduce((n, c) => n + c.restartCount, 0)]));
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function podsCheck(
  deps: VerifyDeps,
  v: VerifyInput,
): Promise<{ check: CheckResult; pods: PodSnapshot[] }> {
  const pods = (await deps.kube.listPods(v.svc.namespace, v.selector)).filter((p) => !p.deleting);
  const ready = pods.filter((p) => p.phase === 'Running' && p.ready);
  const good = ready.filter((p) => p.podTemplateHash === v.targetHash);
  const onTarget = v.onTarget ?? v.replicas;
  const partial = onTarget < v.replicas;
  const source = `pods ${v.svc.namespace}/${v.selector}`;
  if (!v.targetHash) {
    // Without the target's hash nobody can say which pods run it: ready pods alone are not a pass.
    return {
      pods,
      check: checkResult(
        'pods running and ready',
        'unknown',
        {
          source,
          value: `${ready.length}/${pods.length} Running+Ready, revision unknown`,
          threshold: `all ${v.replicas} on the target revision`,
        },
        "the target revision's pod hash could not be read",
      ),
    };
  }
  const passed = partial
    ? ready.length === pods.length && pods.length === v.replicas && good.length >= onTarget
    : good.length === pods.length && pods.length === v.replicas;
  return {
    pods,
    check: checkResult(
      'pods running and ready',
      passed ? 'passed' : 'failed',
      {
        source,
        value: partial
          ? `${ready.length}/${pods.length} Running+Ready, ${good.length} on the target revision`
          : `${good.length}/${pods.length} Running+Ready on the target revision`,
        threshold: partial
          ? `all ${v.replicas} ready, at least ${onTarget} on the target (partition)`
          : `all ${v.replicas}`,
      },
      passed
        ? undefined
        : pods
            .filter((p) => (partial ? !ready.includes(p) : !good.includes(p)))
            .map((p) => `${p.name}: ${p.phase}${p.ready ? '' : ', not ready'}`)
            .join('; '),
    ),
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
  return checkResult('no restarts', grew.length === 0 ? 'passed' : 'failed', {
    source: `restartCount of ${Object.keys(after).length} pod(s) over ${v.svc.verify.restartWindowSeconds}s`,
    value: grew.length ? grew.map(([n, c]) => `${n}: ${start[n]}→${c}`).join(', ') : 'unchanged',
    threshold: 'no increase',
  });
}

async function httpCheck(
  deps: VerifyDeps,
  name: string,
  url: string,
  expect: number,
  timeoutMs: number,
): Promise<CheckResult> {
  const r = await deps.observe.httpCheck(url, timeoutMs);
  // Unreachable is "could not check", not "checked and bad": both keep the verification from passing.
  const status: CheckStatus = r.status === expect ? 'passed' : r.status === 0 ? 'unknown' : 'failed';
  return checkResult(name, status, {
    source: `GET ${url}`,
    value: r.status ? `HTTP ${r.status} in ${r.ms} ms` : `unreachable: ${r.error}`,
    threshold: `HTTP ${expect}`,
  });
}

/** A ready pod to exec in, preferring one of the target revision. */
const execPod = (pods: PodSnapshot[], targetHash: string | undefined) =>
  pods.find((p) => p.ready && p.podTemplateHash === targetHash) ?? pods.find((p) => p.ready);

async function smokeExecCheck(
  deps: VerifyDeps,
  v: VerifyInput,
  pods: PodSnapshot[],
  name: string,
  argv: string[],
  container: string | undefined,
): Promise<CheckResult> {
  const pod = execPod(pods, v.targetHash);
  const source = `exec ${argv.join(' ')}${pod ? ` in ${pod.name}` : ''}`;
  if (!pod) return checkResult(name, 'unknown', { source, value: 'no ready pod', threshold: 'exit 0' });
  try {
    const r = await deps.kube.exec(v.svc.namespace, pod.name, container, argv, deps.execTimeoutMs);
    return checkResult(
      name,
      r.exitCode === 0 ? 'passed' : 'failed',
      { source, value: `exit ${r.exitCode}`, threshold: 'exit 0' },
      r.exitCode !== 0 ? r.stderr.trim().slice(-300) : undefined,
    );
  } catch (err) {
    return checkResult(name, 'unknown', { source, value: `failed: ${message(err)}`, threshold: 'exit 0' });
  }
}

/**
 * Is the database at the target's expected head? Unknown is never a pass: a target revision that
 * records no head, a command that cannot run or fails, or output that names no single head, are
 * `unknown`; only a head read and different from the expected one is `failed`.
 */
export async function migrationCheck(
  deps: VerifyDeps,
  v: VerifyInput,
  pods: PodSnapshot[],
): Promise<CheckResult> {
  const name = 'migrations at the target revision';
  const m = v.svc.migrations;
  if (!m) return notConfigured(name, 'catalog migrations', "the target revision's expected head");
  const head = v.targetHead?.trim() ?? '';
  const recorded = headProblem(v.targetHead);
  if (recorded) {
    return checkResult(name, 'unknown', {
      source: `pod-template annotation ${m.expectedHeadAnnotation}`,
      value:
        v.targetHead === undefined
          ? 'not recorded on the target revision'
          : `not usable on the target revision: ${recorded}`,
      threshold: 'the revision must record its expected head',
    });
  }
  const pod = execPod(pods, v.targetHash);
  const argv = m.currentCommand;
  const source = `exec ${argv.join(' ')}${pod ? ` in ${pod.name}` : ''}`;
  if (!pod) return checkResult(name, 'unknown', { source, value: 'no ready pod', threshold: head });
  try {
    const r = await deps.kube.exec(
      v.svc.namespace,
      pod.name,
      m.container ?? v.svc.container,
      argv,
      deps.execTimeoutMs,
    );
    if (r.exitCode !== 0)
      return checkResult(
        name,
        'unknown',
        { source, value: `exit ${r.exitCode}`, threshold: head },
        r.stderr.trim().slice(-300) || undefined,
      );
    const read = parseCurrentHead(r.stdout);
    if ('problem' in read)
      return checkResult(name, 'unknown', { source, value: `unreadable: ${read.problem}`, threshold: head });
    return checkResult(name, read.head === head ? 'passed' : 'failed', {
      source,
      value: `${read.head} (exit 0)`,
      threshold: head,
    });
  } catch (err) {
    return checkResult(name, 'unknown', { source, value: `failed: ${message(err)}`, threshold: head });
  }
}

/** One metric reading of the settle loop; `final` when waiting longer cannot change it. */
interface Reading {
  check: CheckResult;
  final: boolean;
}

type Baseline = { kind: 'value'; value: number } | { kind: 'none'; why: string } | undefined;

/**
 * The CPU and memory checks: the busiest pod now against the busiest pod before the bad release, at
 * most resourceFactor × that. The baseline is read once (retried while Prometheus does not answer);
 * without one the check is unknown at once, and final: no amount of waiting creates the past.
 */
function resourceReading(
  name: string,
  query: string,
  baselineQuery: string,
  baseline: Baseline,
  baselineAt: Date | undefined,
  now: number | undefined | Error,
  factor: number,
  fmt: (v: number) => string,
): Reading {
  const value =
    now instanceof Error ? `unavailable: ${now.message}` : now === undefined ? 'no data' : fmt(now);
  if (!baselineAt || baseline?.kind === 'none') {
    const why = !baselineAt
      ? 'the assessment has no current revision to date the baseline from'
      : (baseline as { why: string }).why;
    return {
      check: checkResult(
        name,
        'unknown',
        { source: query, value, threshold: `≤ baseline × ${factor}: no baseline` },
        `no pre-release baseline: ${why}${baselineAt ? ` (${baselineQuery})` : ''}`,
      ),
      final: true,
    };
  }
  if (!baseline) {
    return {
      check: checkResult(
        name,
        'unknown',
        {
          source: query,
          value,
          threshold: `≤ baseline × ${factor} (baseline at ${baselineAt.toISOString()} unavailable)`,
        },
        `baseline: ${baselineQuery}`,
      ),
      final: false,
    };
  }
  const limit = baseline.value * factor;
  const threshold = `≤ ${fmt(limit)} (baseline ${fmt(baseline.value)} at ${baselineAt.toISOString()} × ${factor})`;
  const status: CheckStatus = typeof now !== 'number' ? 'unknown' : now <= limit ? 'passed' : 'failed';
  return {
    check: checkResult(name, status, { source: query, value, threshold }, `baseline: ${baselineQuery}`),
    final: false,
  };
}

async function readBaseline(
  deps: VerifyDeps,
  query: string,
  at: Date | undefined,
  had: Baseline,
): Promise<Baseline> {
  if (!at || had) return had;
  try {
    const s = await deps.observe.query(query, at);
    if (s.value === undefined) return { kind: 'none', why: `no data at ${at.toISOString()}` };
    if (s.value <= 0) return { kind: 'none', why: `it is 0 at ${at.toISOString()}: nothing to scale` };
    return { kind: 'value', value: s.value };
  } catch {
    return undefined; // Prometheus did not answer: asked again on the next round
  }
}

const valueOr = async (deps: VerifyDeps, q: string): Promise<number | undefined | Error> =>
  deps.observe.query(q).then(
    (s) => s.value,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );

/** The pods' exact names as a PromQL regex (a dot in a name is literal). */
const namesPattern = (pods: PodSnapshot[]) => pods.map((p) => p.name.replaceAll('.', '[.]')).join('|');

/**
 * Polls error rate, p99, CPU and memory until each has passed or cannot change by waiting, or the
 * settle time is over; the last reading is the evidence.
 */
async function settleChecks(deps: VerifyDeps, v: VerifyInput, pods: PodSnapshot[]): Promise<CheckResult[]> {
  const m = v.svc.metrics;
  const vars = { namespace: v.svc.namespace, deployment: v.svc.deployment };
  const erq = fillQuery(m.errorRatioQuery, vars);
  const p99q = fillQuery(m.p99Query, vars);
  // Now: the pods verified, by name. A pod deleted by the rollout (the bad release's) stays in a
  // rate() window for the window's length after it is gone, and would hold CPU up for that long.
  // Before: the pods that ran then are gone, so they are matched by the names their controller gives.
  const cpuq = fillQuery(m.cpuQuery, { ...vars, pods: namesPattern(pods) });
  const memq = fillQuery(m.memoryQuery, { ...vars, pods: namesPattern(pods) });
  const before = { ...vars, pods: podNamePattern(v.svc.kind, v.svc.deployment) };
  const cpuBaseQ = fillQuery(m.cpuQuery, before);
  const memBaseQ = fillQuery(m.memoryQuery, before);
  const factor = v.svc.verify.resourceFactor;
  const baseline = v.assessment?.metrics.ok ? v.assessment.metrics.value.baselineP99Seconds : undefined;
  const p99Limit =
    baseline !== undefined && baseline > 0
      ? Math.min(baseline * m.p99BaselineFactor, m.p99ThresholdSeconds)
      : m.p99ThresholdSeconds;
  const p99Threshold =
    baseline !== undefined && baseline > 0
      ? `≤ ${p99Limit.toFixed(3)} s (baseline ${baseline.toFixed(3)} s × ${m.p99BaselineFactor})`
      : `≤ ${p99Limit} s`;
  // The same moment as the metrics' baseline: before the revision being rolled back from was created.
  const from = v.assessment?.from?.createdAt;
  const baselineAt = from ? new Date(Date.parse(from) - m.baselineOffsetSeconds * 1000) : undefined;
  let cpuBase: Baseline;
  let memBase: Baseline;
  const deadline = deps.clock.now().getTime() + v.svc.verify.settleSeconds * 1000;
  for (;;) {
    [cpuBase, memBase] = await Promise.all([
      readBaseline(deps, cpuBaseQ, baselineAt, cpuBase),
      readBaseline(deps, memBaseQ, baselineAt, memBase),
    ]);
    const [a, b, cpu, mem] = await Promise.all([
      valueOr(deps, erq),
      valueOr(deps, p99q),
      valueOr(deps, cpuq),
      valueOr(deps, memq),
    ]);
    const metric = (
      name: string,
      source: string,
      x: number | undefined | Error,
      ok: (x: number) => boolean,
      fmt: (x: number) => string,
      threshold: string,
    ): Reading => ({
      check: checkResult(name, typeof x !== 'number' ? 'unknown' : ok(x) ? 'passed' : 'failed', {
        source,
        value: x instanceof Error ? `unavailable: ${x.message}` : x === undefined ? 'no data' : fmt(x),
        threshold,
      }),
      final: false,
    });
    const readings = [
      metric('error rate', erq, a, (x) => x < m.passErrorRatio, pct, `< ${pct(m.passErrorRatio)}`),
      metric(
        'p99 latency',
        p99q,
        b,
        (x) => x <= p99Limit,
        (x) => `${x.toFixed(3)} s`,
        p99Threshold,
      ),
      resourceReading('cpu', cpuq, cpuBaseQ, cpuBase, baselineAt, cpu, factor, cores),
      resourceReading('memory', memq, memBaseQ, memBase, baselineAt, mem, factor, mib),
    ];
    const settled = readings.every((r) => r.check.passed || r.final);
    if (settled || deps.clock.now().getTime() >= deadline) return readings.map((r) => r.check);
    await deps.clock.sleep(deps.pollMs);
  }
}

/** The dashboard review's error ratio over the window that just ended: a follow-up, never a verdict. */
async function dashboardFollowUp(deps: VerifyDeps, v: VerifyInput): Promise<FollowUp> {
  const m = v.svc.metrics;
  const seconds = v.svc.verify.dashboardWindowSeconds;
  const q = fillQuery(m.dashboardErrorRatioQuery, {
    namespace: v.svc.namespace,
    deployment: v.svc.deployment,
    window: `${seconds}s`,
  });
  const threshold = `< ${pct(m.dashboardErrorRatio)}`;
  const x = await valueOr(deps, q);
  return {
    name: 'error rate back to normal (dashboard review)',
    met: typeof x === 'number' && x < m.dashboardErrorRatio,
    evidence: {
      source: q,
      value: x instanceof Error ? `unavailable: ${x.message}` : x === undefined ? 'no data' : pct(x),
      threshold,
    },
    detail: `over the ${seconds} s after the metrics settled; the pass/fail bar is ${pct(m.passErrorRatio)}`,
  };
}

const MAX_LISTED = 10;
function describeAlerts(alerts: FiringAlert[]): string {
  const one = (a: FiringAlert) => {
    const where = a.labels.pod ?? a.labels.deployment ?? a.labels.statefulset ?? a.labels.daemonset;
    return `${a.name}${where ? ` (${where})` : ''} since ${a.startsAt}`;
  };
  const shown = alerts.slice(0, MAX_LISTED).map(one).join('; ');
  return alerts.length > MAX_LISTED ? `${shown}; and ${alerts.length - MAX_LISTED} more` : shown;
}

/**
 * "No new alerts should be firing": an alert for the service that started after the undo fails the
 * check. One that started before and still fires is resolving (its condition may take its `for`
 * and rate window to clear): listed in the detail, not counted.
 *
 * Alertmanager's startsAt is when an alert fired, not when its condition began, and the condition
 * reads a rate window of samples that predate the undo: the bad release can fire an alert after
 * the rollback. So, until the settle time after the undo is over, a new alert is read again until
 * it stops firing, like the metrics: one that resolved is named in the detail, one still firing
 * then fails the check. Read later than that (the dashboard window usually ends later), once.
 */
export async function alertsCheck(deps: VerifyDeps, v: VerifyInput): Promise<CheckResult> {
  const name = 'no new alerts firing';
  const undoneAt = v.undoneAt ? Date.parse(v.undoneAt) : undefined;
  const deadline = undoneAt === undefined ? 0 : undoneAt + v.svc.verify.settleSeconds * 1000;
  const threshold = `none for ${v.svc.name} started after the undo${v.undoneAt ? ` at ${v.undoneAt}` : ''}`;
  if (!deps.alerts) return notConfigured(name, 'ALERTMANAGER_URL', threshold);
  // Without an undo time every firing alert counts: nobody can say it is older than the rollback.
  const isNew = (a: FiringAlert) => undoneAt === undefined || !(Date.parse(a.startsAt) <= undoneAt);
  const seen = new Map<string, FiringAlert>();
  for (;;) {
    let got: Awaited<ReturnType<AlertsPort['firing']>> | Error;
    try {
      got = await deps.alerts.firing(v.svc.name);
    } catch (err) {
      got = err instanceof Error ? err : new Error(String(err));
    }
    const fresh = got instanceof Error ? [] : got.alerts.filter(isNew);
    const over = deps.clock.now().getTime() >= deadline;
    if (got instanceof Error) {
      if (over)
        return checkResult(name, 'unknown', {
          source: 'Alertmanager',
          value: `unavailable: ${got.message}`,
          threshold,
        });
    } else if (fresh.length === 0 || over) {
      const firing = new Set(got.alerts.map((a) => a.fingerprint));
      const resolved = [...seen.values()].filter((a) => !firing.has(a.fingerprint));
      return alertsResult(
        name,
        got,
        fresh,
        got.alerts.filter((a) => !isNew(a)),
        resolved,
        threshold,
      );
    }
    for (const a of fresh) seen.set(a.fingerprint, a);
    await deps.clock.sleep(deps.pollMs);
  }
}

function alertsResult(
  name: string,
  got: { source: string },
  fresh: FiringAlert[],
  older: FiringAlert[],
  resolved: FiringAlert[],
  threshold: string,
): CheckResult {
  const detail = [
    fresh.length ? `new: ${describeAlerts(fresh)}` : '',
    older.length
      ? `started before the undo and still firing (resolving, not counted): ${describeAlerts(older)}`
      : '',
    resolved.length
      ? `fired after the undo and resolved while the metrics settled (not counted): ${describeAlerts(resolved)}`
      : '',
  ]
    .filter(Boolean)
    .join('. ');
  return checkResult(
    name,
    fresh.length === 0 ? 'passed' : 'failed',
    {
      source: got.source,
      value: `${fresh.length} new, ${older.length} from before the undo`,
      threshold,
    },
    detail || undefined,
  );
}

/** The review after the settle loop: the dashboard window, then its follow-up and the alerts. */
async function settleThenReview(
  deps: VerifyDeps,
  v: VerifyInput,
  pods: PodSnapshot[],
): Promise<{ settled: CheckResult[]; alerts: CheckResult; followUps: FollowUp[] }> {
  const settled = await settleChecks(deps, v, pods);
  await deps.clock.sleep(v.svc.verify.dashboardWindowSeconds * 1000);
  const [followUp, alerts] = await Promise.all([dashboardFollowUp(deps, v), alertsCheck(deps, v)]);
  return { settled, alerts, followUps: [followUp] };
}

export async function verify(deps: VerifyDeps, v: VerifyInput): Promise<Verification> {
  const { check: pods, pods: podList } = await podsCheck(deps, v);
  const svc = v.svc;
  const review = settleThenReview(deps, v, podList);
  const jobs: Promise<CheckResult>[] = [restartCheck(deps, v, podList)];
  jobs.push(
    svc.health.url
      ? httpCheck(deps, '/health', svc.health.url, 200, svc.health.timeoutMs)
      : Promise.resolve(notConfigured('/health', 'catalog health.url', 'HTTP 200')),
    svc.health.readyUrl
      ? httpCheck(deps, '/ready', svc.health.readyUrl, 200, svc.health.timeoutMs)
      : Promise.resolve(notConfigured('/ready', 'catalog health.readyUrl', 'HTTP 200')),
    migrationCheck(deps, v, podList),
  );
  if (svc.smokeChecks.length === 0)
    jobs.push(Promise.resolve(notConfigured('smoke checks', 'catalog smokeChecks', 'each check passes')));
  for (const s of svc.smokeChecks) {
    if (s.http)
      jobs.push(httpCheck(deps, `smoke: ${s.name}`, s.http.url, s.http.expectStatus, svc.health.timeoutMs));
    if (s.exec)
      jobs.push(
        smokeExecCheck(
          deps,
          v,
          podList,
          `smoke: ${s.name}`,
          s.exec.command,
          s.exec.container ?? svc.container,
        ),
      );
  }
  const [[restarts, ...others], reviewed] = await Promise.all([Promise.all(jobs), review]);
  // The table's order: pods, restarts, metrics and resources, endpoints, database, smoke, alerts.
  const checks = [pods, ...(restarts ? [restarts] : []), ...reviewed.settled, ...others, reviewed.alerts];
  return {
    at: deps.clock.now().toISOString(),
    passed: verificationPassed(checks),
    checks,
    followUps: reviewed.followUps,
  };
}
