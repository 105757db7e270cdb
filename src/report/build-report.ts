// The incident report: the procedure's template, filled from the rollback's record and event log.
// Deterministic (same inputs, same text); what only people know stays a placeholder.
// The report is posted to Slack as a Markdown file and may be pasted anywhere: every value that came
// from pods, alerts, Kubernetes or people goes through `v()` (mrkdwn-inert, and no Markdown link or
// HTML). Secrets are not this module's business: the composition root redacts the finished text.
import { escapeMrkdwn } from '../escape-mrkdwn.js';
import { statusOf } from '../rollback/check-results.js';
import { checklistState, POST_ROLLBACK_CHECKLIST } from '../rollback/checklist.js';
import type { Actor, Rollback, RollbackEvent } from '../rollback/model.js';
import { databaseLines } from './database-section.js';

/** An untrusted value: Slack-inert (escapeMrkdwn) and no `[label](url)` link in a Markdown viewer. */
const v = (s: string) => escapeMrkdwn(s).replace(/[[\]]/g, '\\$&');
const time = (iso: string) => `${iso.slice(11, 19)} UTC`;
const day = (iso: string) => iso.slice(0, 10);
const who = (a: Actor) =>
  a.kind === 'user' ? `<@${a.id}>${a.name ? ` (${v(a.name)})` : ''}` : `${v(a.name ?? a.id)} (${a.kind})`;
const cell = (s: string) => v(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** One line of a list: an untrusted value with its line breaks folded, so it cannot start a heading. */
const line = (s: string) => v(s).replace(/\s*\n\s*/g, ' ');

function timeline(r: Rollback, events: RollbackEvent[]): string[] {
  const lines: { at: string; text: string }[] = [];
  const from = r.assessment?.from;
  if (from)
    lines.push({
      at: from.createdAt,
      text: `Revision ${from.revision} (${line(from.images.join(', '))}) rolled out${from.changeCause ? `: ${line(from.changeCause)}` : ''}`,
    });
  if (r.signal)
    lines.push({
      at: r.signal.since,
      text: `Error spike detected: ${line(r.signal.name)} (${line(r.signal.summary)})`,
    });
  for (const e of events) {
    const text = describeEvent(r, e);
    if (text) lines.push({ at: e.at, text });
  }
  lines.sort((a, b) => a.at.localeCompare(b.at));
  return lines.map((l) => `- **${day(l.at)} ${time(l.at)}**: ${l.text}`);
}

function describeEvent(r: Rollback, e: RollbackEvent): string | undefined {
  const d = e.data ?? {};
  switch (e.type) {
    case 'created':
      return `${r.mode === 'auto' ? 'Automatic rollback' : 'Rollback'} requested by ${who(e.actor)}: ${line(r.reason)}`;
    case 'assessed':
    case 'auto_approved':
      return `Assessment complete${r.assessment?.target ? `: target revision ${r.assessment.target.revision}` : ''}${typeof d.summary === 'string' ? ` (${line(d.summary)})` : ''}`;
    case 'approve':
      return `Approved by ${who(e.actor)}`;
    case 'cancel':
      return d.expired
        ? `Expired after ${String(d.waitedMinutes ?? '?')} min with no decision; cancelled, nothing changed`
        : `Cancelled by ${who(e.actor)}`;
    case 'notified':
      return 'Stakeholder notification sent out';
    case 'migration_needed':
    case 'migration_unknown': {
      const gate = d.gate as
        | { kind?: string; reasons?: string[]; current?: string; target?: string }
        | undefined;
      if (gate?.kind === 'unknown')
        return `Database state unknown, nothing changed; a person must decide: ${(gate.reasons ?? []).map((x) => line(x)).join('; ')}`;
      return `The database (at ${line(gate?.current ?? '?')}) is ahead of the target revision (${line(gate?.target ?? '?')}): its downgrade awaits a separate approval`;
    }
    case 'approve_migration':
      return `Database downgrade approved by ${who(e.actor)}`;
    case 'skip_migration':
      return `Rolled back without the database downgrade, decided by ${who(e.actor)} (database state was unknown)`;
    case 'migrated':
      return `Database migrated down to ${line(String(d.head ?? '?'))} with the current revision's image`;
    case 'progress':
      return typeof d.milestone === 'string' ? line(d.milestone) : undefined;
    case 'note':
      if (d.kind === 'sign_off')
        return `Report signed off as ${d.role === 'release_manager' ? 'Release Manager' : 'Engineering Manager'} by ${who(e.actor)}`;
      if (d.kind === 'resume_sync')
        return `Resume sync by ${who(e.actor)}: ${d.outcome === 'restored' ? 'settings restored' : 'owner changed by someone else, left as it was'}`;
      if (d.kind === 'notified' && Array.isArray(d.to))
        return `Notified via Slack: ${d.to.map((x) => line(String(x))).join(', ')}`;
      if (d.kind === 'paged')
        return d.action === 'trigger'
          ? `Opened incident ticket in PagerDuty (dedup key \`${line(String(d.dedupKey ?? '?'))}\`)`
          : `PagerDuty incident resolved (dedup key \`${line(String(d.dedupKey ?? '?'))}\`)`;
      return undefined;
    case 'undone':
      return `Rollout complete: ${line(String(d.message ?? ''))}`;
    case 'verified':
      return `Verification ${d.passed ? 'passed' : 'FAILED'}`;
    case 'fail':
      return `Failed in ${e.from ?? 'unknown step'}: ${line(String(d.message ?? ''))}`;
    default:
      return undefined;
  }
}

const RESULT = {
  passed: 'pass',
  failed: '**FAIL**',
  unknown: '**UNKNOWN** (not a pass)',
  not_configured: 'not configured',
} as const;

const has = (events: RollbackEvent[], type: RollbackEvent['type']) => events.some((e) => e.type === type);
const notes = (events: RollbackEvent[], kind: string) =>
  events.filter((e) => e.type === 'note' && e.data?.kind === kind);

/** Only what the audit trail shows was done: no line for an action without its event. */
function actionsTaken(r: Rollback, events: RollbackEvent[]): string[] {
  const to = r.assessment?.target;
  const out: string[] = [];
  const told = notes(events, 'notified').at(-1)?.data?.to;
  if (Array.isArray(told) && told.length)
    out.push(`Notified stakeholders via Slack: ${told.map((x) => line(String(x))).join(', ')}`);
  else if (has(events, 'notified'))
    out.push('Stakeholder notification queued, but its delivery is not recorded (see the thread)');
  if (has(events, 'migrated'))
    out.push(
      `Migrated the database down to ${line(String(events.find((e) => e.type === 'migrated')?.data?.head ?? '?'))}`,
    );
  out.push(...gitopsActions(r));
  if (r.undo) {
    const how =
      r.undo.outcome === 'already_at_target'
        ? ` (the ${r.kind ?? 'Deployment'} was already at the target; nothing was patched)`
        : '';
    out.push(
      `${r.mode === 'auto' ? 'Executed automatic rollback' : 'Executed rollback'}${to ? ` to revision ${to.revision} (${line(to.images.join(', '))})` : ''} with \`kubectl rollout undo\` semantics${how}${has(events, 'undone') ? '' : '; the rollout did not finish'}`,
    );
  }
  const verified = events.find((e) => e.type === 'verified');
  if (verified)
    out.push(
      r.verification?.passed
        ? 'Verified application health post-rollback'
        : 'Verification of application health FAILED',
    );
  for (const p of notes(events, 'paged'))
    out.push(
      p.data?.action === 'trigger'
        ? `Opened incident ticket for investigation (PagerDuty dedup key \`${line(String(p.data?.dedupKey ?? '?'))}\`)`
        : `Resolved the PagerDuty incident (dedup key \`${line(String(p.data?.dedupKey ?? '?'))}\`)`,
    );
  return out;
}

/** The procedure's budgets per step (rollback-procedure.md: assess 1–2 min, notify 1, execute 2–3, verify 3–5 + the 5 min dashboard review). */
const BUDGETS: { step: string; states: string[]; budgetMin: number }[] = [
  { step: 'Assess', states: ['requested', 'assessing'], budgetMin: 2 },
  { step: 'Notify', states: ['notifying'], budgetMin: 1 },
  { step: 'Execute', states: ['migrating', 'undoing'], budgetMin: 3 },
  // Step 4 (3–5 min) plus the dashboard review's window (5 min), which verification now waits out.
  { step: 'Verify', states: ['verifying'], budgetMin: 10 },
];

/** Time spent in each step, from the state changes in the audit trail; waits for people apart. */
function stepDurations(events: RollbackEvent[]): string[] {
  const spent = new Map<string, number>();
  const changes = events.filter((e) => e.to !== undefined && e.from !== e.to);
  for (const [i, e] of changes.entries()) {
    const next = changes[i + 1];
    if (!next || !e.to) continue;
    spent.set(e.to, (spent.get(e.to) ?? 0) + (Date.parse(next.at) - Date.parse(e.at)));
  }
  const fmt = (ms: number) =>
    ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
  const rows = ['| step | took | budget | |', '|---|---|---|---|'];
  for (const b of BUDGETS) {
    const ran = b.states.some((st) => spent.has(st));
    const ms = b.states.reduce((n, st) => n + (spent.get(st) ?? 0), 0);
    rows.push(
      `| ${b.step} | ${ran ? fmt(ms) : 'did not run'} | ${b.budgetMin} min | ${ran && ms > b.budgetMin * 60_000 ? '**over budget**' : ''} |`,
    );
  }
  const waited = ['awaiting_approval', 'awaiting_migration_approval'].reduce(
    (n, st) => n + (spent.get(st) ?? 0),
    0,
  );
  if (waited) rows.push(`| Waiting for a person | ${fmt(waited)} | | |`);
  return rows;
}

/** The GitOps owner's suspension and its resume, as actions taken (workloads-gitops.md). */
function gitopsActions(r: Rollback): string[] {
  const g = r.gitops;
  if (!g) return [];
  const owner = `${g.owner.tool} ${g.owner.kind} ${g.owner.namespace}/${g.owner.name}`;
  if (g.alreadySuspended) return [`${line(owner)} was already suspended; the bot did not change it`];
  if (!g.suspendedAt) return [`Suspension of ${line(owner)} was started at ${time(g.at)} but not confirmed`];
  const out = [
    `Suspended ${line(owner)}'s sync at ${time(g.suspendedAt)} (was \`${line(JSON.stringify(g.previous))}\`): Git still holds the bad release and must be reverted`,
  ];
  if (g.resumed)
    out.push(
      g.resumed.outcome === 'restored'
        ? `Sync of ${line(owner)} resumed by ${who(g.resumed.by)} at ${time(g.resumed.at)}; its settings restored as they were`
        : `Resume sync by ${who(g.resumed.by)} at ${time(g.resumed.at)} found ${line(owner)} changed by someone else; left as it was`,
    );
  else out.push(`Sync of ${line(owner)} is still suspended: resume it once Git is reverted`);
  return out;
}

export function buildReport(r: Rollback, events: RollbackEvent[]): string {
  const a = r.assessment;
  const from = a?.from;
  const to = a?.target;
  const passed = r.verification?.passed === true;
  const title = from ? `${r.service} revision ${from.revision} (${line(from.images.join(', '))})` : r.service;
  const out: string[] = [];
  out.push(`# Incident Report: Rollback of ${title}`, '');
  out.push('## Summary');
  const outcome = r.failure
    ? `The rollback did not complete: ${line(r.failure.message)}`
    : passed
      ? 'Verification passed: the service is healthy on the previous revision.'
      : 'Verification FAILED: the service is not healthy after the rollback; see the evidence below.';
  out.push(
    `\`${r.namespace}/${r.deployment}\` was rolled back${from ? ` from revision ${from.revision}` : ''}${to ? ` to revision ${to.revision} (${line(to.images.join(', '))})` : ''} because: ${line(r.reason)}. ${outcome}`,
    '',
  );
  if (a?.findings.length) {
    out.push('What the assessment found:', ...a.findings.map((f) => `- ${line(f)}`), '');
  }
  out.push('## Timeline', ...timeline(r, events), '');
  out.push('## Root Cause', '[To be completed by the owning team: why the deployment failed]', '');
  out.push('## Immediate Actions Taken');
  const actions = actionsTaken(r, events);
  out.push(
    ...(actions.length ? actions.map((x, i) => `${i + 1}. ${x}`) : ['None: nothing was changed.']),
    '',
  );
  out.push('## Step Durations', ...stepDurations(events), '');
  out.push('## Verification Evidence');
  if (r.verification) {
    out.push('| check | result | value | threshold | source |', '|---|---|---|---|---|');
    for (const c of r.verification.checks) {
      out.push(
        `| ${cell(c.name)} | ${RESULT[statusOf(c)]} | ${cell(c.evidence.value)} | ${cell(c.evidence.threshold)} | \`${cell(c.evidence.source)}\` |`,
      );
    }
    // The dashboard review's bars: reported, never a verdict (the procedure's step 4 bars decide).
    const followUps = r.verification.followUps ?? [];
    if (followUps.length) {
      out.push('', 'Follow-up findings (dashboard review, not part of the verdict):');
      for (const f of followUps)
        out.push(
          `- ${f.met ? 'met' : '**not met**'}: ${line(f.name)}: ${line(f.evidence.value)} (bar ${line(f.evidence.threshold)}; \`${line(f.evidence.source)}\`)`,
        );
    }
  } else {
    out.push('No verification was run.');
  }
  const database = databaseLines(r, events);
  if (database.length) out.push('', ...database);
  out.push('', '## Investigation Results', '[Detailed findings from post-mortems and testing]', '');
  out.push('## Resolution', '[How the issue was fixed in code review]', '');
  out.push('## Prevention', '[Process improvements to prevent similar incidents]', '');
  out.push('## Follow-up Items');
  out.push(
    '- [ ] Code review identified specific issue by [engineer]',
    '- [ ] Tests added to catch regression by [date]',
    '- [ ] Documentation updated by [date]',
    '',
  );
  const ticks = checklistState(events);
  out.push('## Post-rollback Checklist');
  for (const item of POST_ROLLBACK_CHECKLIST) {
    const t = ticks.get(item);
    out.push(`- [${t?.done ? 'x' : ' '}] ${item}${t?.done ? ` — ${who(t.by)} at ${time(t.at)}` : ''}`);
  }
  out.push('');
  out.push('## Severity Level');
  out.push(
    r.failure || !passed
      ? 'P1 - Rollback did not restore service health; incident still open'
      : 'P2 - Deployment failed but successfully rolled back (user impact to be confirmed)',
    '',
  );
  out.push('## People');
  out.push(`- Requested by: ${who(r.requestedBy)} at ${day(r.requestedAt)} ${time(r.requestedAt)}`);
  for (const ap of r.approvals) out.push(`- Approved by: ${who(ap.by)} at ${day(ap.at)} ${time(ap.at)}`);
  if (r.mode === 'auto') out.push('- Approved by: automatic policy (no human approval)');
  const m = r.migrationApproval;
  if (m) out.push(`- Database downgrade approved by: ${who(m.by)} at ${day(m.at)} ${time(m.at)}`);
  const skip = r.migrationSkipped;
  if (skip)
    out.push(
      `- Rollback without the database downgrade decided by: ${who(skip.by)} at ${day(skip.at)} ${time(skip.at)}`,
    );
  out.push('', '## Assigned To', '[Engineer responsible for fix]', '');
  // Signed in Slack by the configured people (Sign off buttons); a blank line stays blank.
  const signed = (role: 'release_manager' | 'engineering_manager', label: string) => {
    const so = r.signOffs?.find((x) => x.role === role);
    return so
      ? `${label}: ${who(so.by)}  Date: ${day(so.at)} ${time(so.at)}`
      : `${label}: ________________  Date: __________`;
  };
  out.push(
    '## Approval',
    signed('release_manager', 'Release Manager'),
    signed('engineering_manager', 'Engineering Manager'),
    '',
  );
  return out.join('\n');
}
