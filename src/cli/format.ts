// Plain-text renderings for the operator CLI (pure).
import type { Assessment, Rollback, Source } from '../rollback/model.js';
import type { RevisionEntry } from '../rollback/revisions.js';

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 2)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

const ago = (iso: string, now: Date) => {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};

export function formatHistory(
  h: Pick<
    RevisionEntry,
    'revision' | 'changeCause' | 'images' | 'createdAt' | 'current' | 'readyReplicas' | 'replicas'
  >[],
  now: Date,
  target?: number,
): string {
  if (!h.length) return 'No rollout history found.';
  return table([
    ['REVISION', 'CHANGE-CAUSE', 'IMAGE', 'AGE', 'PODS', ''],
    ...h.map((e) => [
      String(e.revision),
      e.changeCause ?? '<none>',
      e.images.join(','),
      ago(e.createdAt, now),
      `${e.readyReplicas}/${e.replicas}`,
      e.current ? '← current' : e.revision === target ? '← rollback target' : '',
    ]),
  ]);
}

const show = <T>(s: Source<T>, fn: (v: T) => string) =>
  s.ok ? fn(s.value) : `unavailable: ${s.unavailable}`;
const pct = (v: number | undefined) => (v === undefined ? 'no data' : `${(v * 100).toFixed(2)}%`);
const secs = (v: number | undefined) => (v === undefined ? 'no data' : `${v.toFixed(3)} s`);

export function formatAssessment(service: string, a: Assessment, now: Date): string {
  const out: string[] = [`Assessment of ${service} at ${a.at}`, ''];
  out.push('Findings:', ...a.findings.map((f) => `  - ${f}`), '');
  out.push(
    `${a.deployment.ok ? (a.deployment.value.kind ?? 'Deployment') : 'Workload'}: ${show(a.deployment, (d) => `${d.available}/${d.replicas} available, ${d.updated} updated, generation ${d.generation}${d.paused ? ', PAUSED' : ''}; ${d.conditions.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`).join(', ')}`)}`,
    '',
  );
  out.push(
    'History:',
    show(a.history, (h) => formatHistory(h, now, a.target?.revision)),
    '',
  );
  out.push(
    'Pods:',
    show(a.pods, (pods) =>
      pods.length
        ? table([
            ['NAME', 'PHASE', 'READY', 'RESTARTS', 'REASON', 'IMAGE'],
            ...pods.map((p) => [
              p.name,
              p.phase,
              p.ready ? 'yes' : 'no',
              String(p.containers.reduce((n, c) => n + c.restartCount, 0)),
              p.containers
                .map((c) => c.waitingReason ?? c.terminatedReason)
                .filter(Boolean)
                .join(',') || '-',
              p.images.join(','),
            ]),
          ])
        : 'no pods',
    ),
    '',
  );
  out.push(
    'Warning events:',
    show(a.events, (ev) =>
      ev.length
        ? ev.map((e) => `  ${e.lastSeen} ${e.reason} ${e.object}: ${e.message} (x${e.count})`).join('\n')
        : '  none',
    ),
    '',
  );
  out.push(
    'Error log lines:',
    show(a.errorLogs, (logs) =>
      logs.map((l) => `  ${l.pod}:\n${l.lines.map((x) => `    ${x}`).join('\n') || '    (none)'}`).join('\n'),
    ),
    '',
  );
  out.push(
    `Health: ${show(a.health, (h) => (h.status ? `HTTP ${h.status} in ${h.ms} ms` : `unreachable: ${h.error}`))}`,
  );
  out.push(
    `Ready:  ${show(a.ready, (h) => (h.status ? `HTTP ${h.status} in ${h.ms} ms` : `unreachable: ${h.error}`))}`,
  );
  out.push(
    `Metrics: ${show(a.metrics, (m) => `error rate ${pct(m.errorRatio)} (baseline ${pct(m.baselineErrorRatio)}), p99 ${secs(m.p99Seconds)} (baseline ${secs(m.baselineP99Seconds)})`)}`,
  );
  out.push(
    `Migrations: ${show(a.migration, (m) => `database at ${m.current ?? 'nothing'}, target expects ${m.targetHead ?? 'unrecorded'}${m.ahead ? ' — DOWNGRADE NEEDED FIRST' : ''}`)}`,
  );
  out.push('');
  out.push(
    a.target
      ? `Target: revision ${a.target.revision} (${a.target.images.join(', ')}) — ${a.target.reason}`
      : `Target: none — ${a.targetError?.message ?? 'unknown'}`,
  );
  return out.join('\n');
}

export function formatStatus(rows: Rollback[], now: Date): string {
  if (!rows.length) return 'No rollbacks recorded.';
  return table([
    ['ID', 'SERVICE', 'STATE', 'REQUESTED BY', 'AGE', 'TARGET', 'REASON'],
    ...rows.map((r) => [
      r.id.slice(0, 8),
      r.service,
      r.state,
      r.requestedBy.name ?? r.requestedBy.id,
      ago(r.requestedAt, now),
      r.assessment?.target ? `rev ${r.assessment.target.revision}` : '-',
      r.reason.slice(0, 60),
    ]),
  ]);
}
