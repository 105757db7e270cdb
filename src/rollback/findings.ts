// The assessment in a few lines a person reads first: symptoms, then the target and why.
import type { CatalogEntry } from '../config/catalog-schema.js';
import type { Assessment } from './model.js';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** What an SRE would say after looking: the symptoms, then the target and why. */
export function buildFindings(a: Assessment, svc: CatalogEntry): string[] {
  const out: string[] = [];
  if (a.deployment.ok) {
    const dep = a.deployment.value;
    out.push(`${dep.available}/${dep.replicas} replicas available, ${dep.updated} updated`);
    const stuck = dep.conditions.find(
      (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
    );
    if (stuck) out.push(`rollout stuck: ProgressDeadlineExceeded (${stuck.message ?? ''})`);
    if (dep.paused) out.push('Deployment is paused: resume it before rolling back');
    if (dep.strategy?.partition)
      out.push(
        `partitioned rolling update (partition ${dep.strategy.partition}): pods with an ordinal below ${dep.strategy.partition} stay on their revision, as with kubectl`,
      );
    if (dep.strategy?.type === 'OnDelete')
      out.push(
        `updateStrategy OnDelete: the undo changes no pod until its pods are deleted; the bot waits for that and does not delete them`,
      );
  }
  if (a.gitops) out.push(`GitOps: ${a.gitops.reason}`);
  if (a.pods.ok) {
    const crash = a.pods.value.filter((p) =>
      p.containers.some((c) => c.waitingReason === 'CrashLoopBackOff'),
    );
    const notReady = a.pods.value.filter((p) => !p.ready);
    const restarts = a.pods.value.reduce(
      (n, p) => n + p.containers.reduce((m, c) => m + c.restartCount, 0),
      0,
    );
    if (crash.length) out.push(`${crash.length} pod(s) in CrashLoopBackOff`);
    if (notReady.length)
      out.push(
        `${notReady.length} of ${a.pods.value.length} pod(s) not ready, ${restarts} restart(s) in all`,
      );
  }
  if (a.errorLogs.ok) {
    const n = a.errorLogs.value.reduce((s, l) => s + l.lines.length, 0);
    if (n) out.push(`${n} ${svc.logs.pattern} line(s) in recent logs`);
  }
  if (a.health.ok && a.health.value.status !== 200)
    out.push(`/health answers ${a.health.value.status || a.health.value.error}`);
  if (a.metrics.ok) {
    const m = a.metrics.value;
    if (m.errorRatio !== undefined) {
      const base = m.baselineErrorRatio !== undefined ? ` (baseline ${pct(m.baselineErrorRatio)})` : '';
      const over =
        m.errorRatio > svc.metrics.triggerErrorRatio
          ? ` — above the ${pct(svc.metrics.triggerErrorRatio)} threshold`
          : '';
      out.push(`error rate ${pct(m.errorRatio)}${base}${over}`);
    }
    if (m.p99Seconds !== undefined) {
      const base =
        m.baselineP99Seconds !== undefined ? ` (baseline ${m.baselineP99Seconds.toFixed(2)} s)` : '';
      const over =
        m.p99Seconds > svc.metrics.p99ThresholdSeconds ? ` — above ${svc.metrics.p99ThresholdSeconds} s` : '';
      out.push(`p99 ${m.p99Seconds.toFixed(2)} s${base}${over}`);
    }
  }
  if (a.migration.ok && a.migration.value.ahead) {
    out.push(
      `database at migration ${a.migration.value.current}, target revision expects ${a.migration.value.targetHead}: downgrade needed first`,
    );
  }
  for (const [name, s] of Object.entries({
    deployment: a.deployment,
    pods: a.pods,
    metrics: a.metrics,
    logs: a.errorLogs,
    health: a.health,
  })) {
    if (!s.ok && s.unavailable) out.push(`${name} unavailable: ${s.unavailable}`);
  }
  if (a.target && a.from) {
    out.push(
      `target: revision ${a.target.revision} (${a.target.images.join(', ')}) from revision ${a.from.revision} (${a.from.images.join(', ')}): ${a.target.reason}`,
    );
  } else if (a.target) {
    out.push(`target: revision ${a.target.revision} (${a.target.images.join(', ')}): ${a.target.reason}`);
  } else if (a.targetError) {
    out.push(`no target: ${a.targetError.message}`);
  }
  return out;
}
