// What counts as a known migration head. An alembic revision id is a plain identifier; anything
// else (`base`, `head`, a relative target like `-1` or `ae10+2`, several heads, nothing) is not a
// state the bot may act on, so it is refused and a person decides (fail closed).

const REVISION_ID = /^[A-Za-z0-9_]{1,64}$/;
const SYMBOLIC = new Set(['base', 'head', 'heads', 'current']);

/** Why `value` is not a usable revision id, or undefined when it is one. */
export function headProblem(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return 'empty';
  const v = value.trim();
  if (SYMBOLIC.has(v.toLowerCase())) return `"${v}" is symbolic, not a revision id`;
  if (!REVISION_ID.test(v)) return `"${v.slice(0, 80)}" is not a revision id (letters, digits, "_")`;
  return undefined;
}

/**
 * The head printed by `alembic current`-style output: `9c2b3f1a4e5d (head)`, maybe after log lines.
 * Several revision lines mean several heads: not one known state.
 */
export function parseCurrentHead(stdout: string): { head: string } | { problem: string } {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(INFO|WARNING|WARN|DEBUG)\b/.test(l));
  if (lines.length === 0)
    return { problem: 'printed no revision (an empty database, or no alembic_version)' };
  if (lines.length > 1) return { problem: `printed ${lines.length} revisions (several heads)` };
  const head = (lines[0] ?? '').split(/\s+/)[0] ?? '';
  const problem = headProblem(head);
  return problem ? { problem } : { head };
}

/** The left side of a history line: `<base>`, or one or more revision ids (a merge) separated by commas. */
const DOWN_REVISIONS = /^(<base>|[A-Za-z0-9_]+(\s*,\s*[A-Za-z0-9_]+)*)$/;

/**
 * The revisions an `alembic history`-style output names as revisions: the right side of each
 * `<down>[, <down>…] -> <rev> (head), message` line, and verbose output's `Rev: <rev>` lines. Only
 * those positions count: a message that mentions a revision id ("revert aaa111") is not that revision.
 */
export function historyRevisions(stdout: string): string[] {
  const revs: string[] = [];
  for (const raw of stdout.split('\n')) {
    const l = raw.trim();
    if (/^(INFO|WARNING|WARN|DEBUG|ERROR)\b/.test(l)) continue;
    const i = l.indexOf('->');
    const left = i >= 0 ? l.slice(0, i).trim() : '';
    const arrow = DOWN_REVISIONS.test(left) ? /^\s*([A-Za-z0-9_]+)/.exec(l.slice(i + 2)) : null;
    const verbose = /^Rev:\s*([A-Za-z0-9_]+)/.exec(l);
    const rev = arrow?.[1] ?? verbose?.[1];
    if (rev && !headProblem(rev)) revs.push(rev);
  }
  return [...new Set(revs)];
}
