// The incident report's database section: what the gate found, what was confirmed before a
// downgrade (migration history, schema check), the downgrade itself, the data integrity checks at the
// end of verification, and the data cleanup an approver ran afterwards, with each command's output.
// Pure, from the record and its audit trail; empty when the rollback touched no database care at all.
// Values that came from pods, the database or people are made inert as in build-report.ts; secrets are
// the composition root's business (it redacts the finished report), and outputs were redacted when run.
import { escapeMrkdwn } from '../escape-mrkdwn.js';
import { INTEGRITY_PREFIX } from '../rollback/integrity-checks.js';
import type { Actor, Rollback, RollbackEvent } from '../rollback/model.js';

const v = (s: string) => escapeMrkdwn(s).replace(/[[\]]/g, '\\$&');
const line = (s: string) => v(s).replace(/\s*\n\s*/g, ' ');
const time = (iso: string) => `${iso.slice(11, 19)} UTC`;
const who = (a: Actor) =>
  a.kind === 'user' ? `<@${a.id}>${a.name ? ` (${v(a.name)})` : ''}` : `${v(a.name ?? a.id)} (${a.kind})`;

/** Output as an indented block: escaped (no backtick can end it), so it reads as it was printed. */
function output(text: string | undefined): string[] {
  if (!text?.trim()) return [];
  return [
    '',
    ...v(text)
      .split('\n')
      .map((l) => `      ${l}`),
    '',
  ];
}

/** The longer output the audit trail kept for an event of `kind` named `name`, if any. */
function trailOutput(events: RollbackEvent[], kind: string, name: string): string | undefined {
  const e = events.findLast((x) => x.data?.kind === kind && x.data.name === name);
  return typeof e?.data?.output === 'string' ? e.data.output : undefined;
}

function gateLines(r: Rollback): string[] {
  const g = r.migrationGate;
  if (!g) return [];
  const out: string[] = [];
  if (g.kind === 'none')
    out.push(
      `- Database gate: the database was at ${line(g.current)}, the target's head: no downgrade needed`,
    );
  else if (g.kind === 'downgrade')
    out.push(
      `- Database gate: the database was at ${line(g.current)}, ahead of the target's head ${line(g.target)}: a downgrade was due`,
    );
  else
    out.push(
      `- Database gate: unknown, nothing changed until a person decided: ${g.reasons.map((x) => line(x)).join('; ')}`,
    );
  for (const c of 'checks' in g ? (g.checks ?? []) : []) {
    out.push(
      `- Before the downgrade, ${c.name} (\`${line(c.command)}\` in ${line(c.where)}, ${time(c.at)}): ${c.passed ? 'passed' : '**FAILED**'}: ${line(c.detail)}`,
    );
    if (!c.passed) out.push(...output(c.output));
  }
  return out;
}

function downgradeLines(r: Rollback): string[] {
  const out: string[] = [];
  if (r.migrationApproval)
    out.push(`- Downgrade approved by ${who(r.migrationApproval.by)} at ${time(r.migrationApproval.at)}`);
  const m = r.migration;
  if (m) {
    const place = m.started.via === 'exec' ? `pod ${m.started.pod ?? '?'}` : `Job ${m.started.job ?? '?'}`;
    out.push(
      `- Downgrade started at ${time(m.started.at)} in ${line(place)} with the current revision's image${m.finished ? `; the database was at ${line(m.finished.head ?? '?')} after it (exit ${m.finished.exitCode})` : '; it did not report back'}`,
    );
  }
  if (r.migrationSkipped)
    out.push(
      `- Rolled back without the downgrade, decided by ${who(r.migrationSkipped.by)} at ${time(r.migrationSkipped.at)}`,
    );
  return out;
}

function integrityLines(r: Rollback, events: RollbackEvent[]): string[] {
  const checks = (r.verification?.checks ?? []).filter((c) => c.name.startsWith(INTEGRITY_PREFIX));
  if (!checks.length) return [];
  const out = ['', 'Data integrity checks (end of verification; a failed one fails verification):'];
  for (const c of checks) {
    const name = c.name.slice(INTEGRITY_PREFIX.length);
    out.push(
      `- ${c.passed ? 'pass' : '**FAIL**'} ${line(name)}: \`${line(c.evidence.source)}\`: ${line(c.evidence.value)}`,
    );
    out.push(...output(trailOutput(events, 'integrity_check', name) ?? c.detail));
  }
  return out;
}

function cleanupLines(r: Rollback, events: RollbackEvent[]): string[] {
  const c = r.cleanup;
  if (!c) return [];
  const out = [
    '',
    `Data cleanup, run by ${who(c.by)} at ${time(c.at)} (in order, stopping at the first failure):`,
  ];
  for (const [i, res] of c.results.entries()) {
    const how =
      res.exitCode === undefined ? `could not run: ${line(res.error ?? '?')}` : `exit ${res.exitCode}`;
    out.push(
      `${i + 1}. ${res.passed ? 'pass' : '**FAIL**'} ${line(res.name)}: \`${line(res.command)}\` in ${line(res.where)}: ${how} (${(res.ms / 1000).toFixed(1)} s)`,
    );
    out.push(...output(trailOutput(events, 'cleanup_step', res.name) ?? res.output));
  }
  const left = c.commands.slice(c.results.length);
  if (c.finished?.outcome === 'passed')
    out.push(`- Finished at ${time(c.finished.at)}: every command passed`);
  else if (c.finished)
    out.push(
      `- Stopped at its first failure at ${time(c.finished.at)}; not run: ${left.map((x) => line(x.name)).join(', ') || 'none'}`,
    );
  else
    out.push(
      `- **Did not report back** (the process running it stopped); not known to have run: ${left.map((x) => line(x.name)).join(', ') || 'none'}. The bot never starts it twice: finish by hand`,
    );
  return out;
}

/** `## Database` and its lines, or nothing when the rollback involved no database care. */
export function databaseLines(r: Rollback, events: RollbackEvent[]): string[] {
  const body = [
    ...gateLines(r),
    ...downgradeLines(r),
    ...integrityLines(r, events),
    ...cleanupLines(r, events),
  ];
  if (!body.length) return [];
  return ['## Database', ...(body[0] === '' ? body.slice(1) : body), ''];
}
