// What the store keeps of a rollback, bounded. A record lives in Redis for the retention period, and
// Redis has a fixed memory budget (manifests/redis.yaml): an assessment of a Deployment with hundreds
// of pods, or log lines of megabytes, must not turn one record into megabytes. The findings are
// computed from everything before the record is stored; the store keeps an excerpt big enough for
// the thread, the report and the audit trail, and says in the findings what it left out.
//
// Pure and idempotent: boundForStorage(boundForStorage(r)) equals boundForStorage(r), so a record
// bounded on create is not changed again (or annotated twice) by later commits.
import type { Assessment, Rollback, RollbackEvent } from './model.js';

/** The caps. Every string anywhere in a record is cut at `textChars`, unless a tighter cap says otherwise. */
export const STORAGE_LIMITS = {
  /** Pods listed in the assessment; pods that are not ready are kept first. */
  pods: 30,
  /** Containers listed per pod. */
  containersPerPod: 8,
  /** Warning events kept (the newest: the list is newest first). */
  events: 20,
  /** Pods whose error-log lines are kept (the assessment reads at most three). */
  logPods: 3,
  /** Error-log lines kept per pod (the last ones: the newest errors). */
  logLinesPerPod: 20,
  /** Characters per log line: a stack trace's head says what failed; its tail rarely adds to that. */
  logLineChars: 300,
  /** Characters per event message, finding, condition message. */
  messageChars: 500,
  /** Findings kept (the assessment's own, plus one line saying what storage left out). */
  findings: 30,
  /** Rollout-history entries kept (the newest). */
  historyEntries: 20,
  /** Verification checks kept. */
  checks: 50,
  /** Characters of the stored incident report (the full one was posted in the thread). */
  reportChars: 32_000,
  /** Characters of any other string (reason, why, errors, queries, evidence). */
  textChars: 2_000,
  /** Items of any other array. */
  arrayItems: 200,
} as const;
export type StorageLimits = { [K in keyof typeof STORAGE_LIMITS]: number };

const CUT = '…[cut]';
const REPORT_CUT =
  '\n\n…[the stored copy of this report is cut here; the full report was posted in the thread]';

/** `s` cut to at most `max` characters (marker included), never inside a surrogate pair. */
export function cutText(s: string, max: number, marker = CUT): string {
  if (s.length <= max) return s;
  let keep = Math.max(0, max - marker.length);
  const last = s.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep -= 1;
  return s.slice(0, keep) + marker.slice(0, max - keep);
}

/** Caps every string and array below `v` (JSON values only), except the `skip` keys of the top object. */
function capDeep(v: unknown, limits: StorageLimits, skip: ReadonlySet<string> = new Set()): unknown {
  if (typeof v === 'string') return cutText(v, limits.textChars);
  if (Array.isArray(v)) return v.slice(0, limits.arrayItems).map((x) => capDeep(x, limits));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = skip.has(k) ? x : capDeep(x, limits);
    return out;
  }
  return v;
}

/** Keeps `max` items, taking `first` ones before the others, in their original order. */
function keepPreferring<T>(items: T[], max: number, first: (t: T) => boolean): T[] {
  if (items.length <= max) return items;
  const kept = new Set([...items.filter(first), ...items.filter((t) => !first(t))].slice(0, max));
  return items.filter((t) => kept.has(t));
}

// Defensive about shape: records stored by earlier versions, or by tests, may lack sources.
function boundAssessment(a: Assessment, l: StorageLimits): Assessment {
  const cut: string[] = [];
  const out: Assessment = { ...a };
  const msg = (s: string) => cutText(s, l.messageChars);

  if (a.pods?.ok) {
    const pods = keepPreferring(a.pods.value, l.pods, (p) => !p.ready).map((p) =>
      (p.containers?.length ?? 0) > l.containersPerPod
        ? { ...p, containers: p.containers.slice(0, l.containersPerPod) }
        : p,
    );
    if (pods.length < a.pods.value.length) cut.push(`${pods.length} of ${a.pods.value.length} pods`);
    out.pods = { ...a.pods, value: pods };
  }
  if (a.events?.ok) {
    const events = a.events.value.slice(0, l.events).map((e) => ({ ...e, message: msg(e.message) }));
    if (events.length < a.events.value.length)
      cut.push(`${events.length} of ${a.events.value.length} events`);
    out.events = { ...a.events, value: events };
  }
  if (a.errorLogs?.ok) {
    const all = a.errorLogs.value.reduce((n, p) => n + (p.lines?.length ?? 0), 0);
    const logs = a.errorLogs.value.slice(0, l.logPods).map((p) => ({
      ...p,
      lines: (p.lines ?? []).slice(-l.logLinesPerPod).map((line) => cutText(line, l.logLineChars)),
    }));
    const kept = logs.reduce((n, p) => n + p.lines.length, 0);
    if (kept < all) cut.push(`${kept} of ${all} error-log lines`);
    out.errorLogs = { ...a.errorLogs, value: logs };
  }
  if (a.history?.ok && a.history.value.length > l.historyEntries) {
    const newest = [...a.history.value].sort((x, y) => y.revision - x.revision).slice(0, l.historyEntries);
    const keep = new Set(newest);
    cut.push(`${l.historyEntries} of ${a.history.value.length} revisions`);
    out.history = { ...a.history, value: a.history.value.filter((h) => keep.has(h)) };
  }
  if (a.deployment?.ok) {
    const d = a.deployment.value;
    out.deployment = {
      ...a.deployment,
      value: {
        ...d,
        conditions: d.conditions?.map((c) => (c.message ? { ...c, message: msg(c.message) } : c)),
      },
    };
  }
  let findings = (a.findings ?? []).map(msg);
  if (cut.length || findings.length > l.findings) {
    if (findings.length > l.findings - 1) cut.push(`${l.findings - 1} of ${findings.length} findings`);
    // The note takes one slot, so a second pass finds nothing more to cut and adds no second note.
    findings = [
      ...findings.slice(0, l.findings - 1),
      msg(`Stored excerpt: kept ${cut.join(', ')}; the findings above count them all.`),
    ];
  }
  if (a.findings || findings.length) out.findings = findings;
  return out;
}

/** The record as the store keeps it: every list and text capped (see STORAGE_LIMITS). */
export function boundForStorage(r: Rollback, limits: StorageLimits = STORAGE_LIMITS): Rollback {
  const shaped: Rollback = { ...r };
  if (r.assessment) shaped.assessment = boundAssessment(r.assessment, limits);
  if (r.verification?.checks && r.verification.checks.length > limits.checks) {
    shaped.verification = { ...r.verification, checks: r.verification.checks.slice(0, limits.checks) };
  }
  const out = capDeep(shaped, limits, new Set(['report'])) as Rollback;
  if (r.report !== undefined) out.report = cutText(r.report, limits.reportChars, REPORT_CUT);
  return out;
}

/** An event as the store keeps it: its texts and lists capped like a record's. */
export function boundEventForStorage(
  e: RollbackEvent,
  limits: StorageLimits = STORAGE_LIMITS,
): RollbackEvent {
  return capDeep(e, limits) as RollbackEvent;
}
