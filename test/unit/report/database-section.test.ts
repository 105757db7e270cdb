// The report's database section: gate, checks before the downgrade, the downgrade, integrity checks
// and the data cleanup, with outputs that cannot speak; nothing at all for a rollback without any.
import { describe, expect, it } from 'vitest';
import { databaseLines } from '../../../src/report/database-section.js';
import type { Rollback, RollbackEvent } from '../../../src/rollback/model.js';

const ALICE = { kind: 'user' as const, id: 'U0SRE00001', name: 'alice' };
const at = '2026-01-15T10:00:00.000Z';
const base = {
  id: 'r1',
  service: 'release-manager',
  namespace: 'production',
  deployment: 'release-manager-prod',
  state: 'completed',
} as Rollback;

const r: Rollback = {
  ...base,
  migrationGate: {
    kind: 'downgrade',
    current: 'bbb222',
    target: 'aaa111',
    checks: [
      {
        name: 'migration history',
        passed: true,
        command: 'alembic history',
        where: 'pod rm-1',
        detail: '`alembic history` in pod rm-1 lists aaa111 among 2 revision(s)',
        output: 'aaa111 -> bbb222 (head), add',
        at,
      },
      {
        name: 'schema check',
        passed: true,
        command: 'psql -c \\dt',
        where: 'pod db-1',
        detail: 'exited 0',
        output: 'public | alembic_version',
        at,
      },
    ],
  },
  migrationApproval: { by: ALICE, at },
  migration: {
    started: { at, by: 'bot', via: 'exec', pod: 'rm-1' },
    finished: { at, exitCode: 0, head: 'aaa111' },
  },
  verification: {
    at,
    passed: false,
    checks: [
      { name: 'pods ready', passed: true, evidence: { source: 's', value: '3/3', threshold: '3' } },
      {
        name: 'data integrity: orphaned records',
        passed: false,
        evidence: {
          source: './scripts/check-orphaned-records.sh in pod rm-2',
          value: 'exited 1',
          threshold: 'exit 0',
        },
        detail: 'short',
      },
    ],
  },
  cleanup: {
    by: ALICE,
    at,
    commands: [
      { name: 'drop', command: 'psql -c DROP', where: 'a pod selected by app=db' },
      { name: 'consistency', command: 'psql -c SELECT', where: 'a pod selected by app=db' },
      { name: 'after', command: 'psql -c X', where: 'a pod selected by app=db' },
    ],
    results: [
      {
        name: 'drop',
        command: 'psql -c DROP',
        where: 'pod db-1',
        passed: true,
        exitCode: 0,
        output: 'DROP TABLE',
        at,
        ms: 120,
      },
      {
        name: 'consistency',
        command: 'psql -c SELECT',
        where: 'pod db-1',
        passed: false,
        exitCode: 1,
        output: 'ERROR: relation "release_deployments" does not exist <!channel> `x`',
        at,
        ms: 80,
      },
    ],
    finished: { at, outcome: 'failed' },
  },
};

const events: RollbackEvent[] = [
  {
    id: 'r1',
    type: 'progress',
    from: 'verifying',
    to: 'verifying',
    actor: { kind: 'system', id: 'bot' },
    at,
    data: {
      kind: 'integrity_check',
      name: 'orphaned records',
      output: 'FAILED: release_deployments rows with no release: 11',
    },
  },
];

describe('report: database section', () => {
  it('tells the database story in order, with the outputs that matter', () => {
    const text = databaseLines(r, events).join('\n');
    expect(text.startsWith('## Database\n')).toBe(true);
    expect(text).toContain(
      "the database was at bbb222, ahead of the target's head aaa111: a downgrade was due",
    );
    expect(text).toMatch(
      /Before the downgrade, migration history \(`alembic history` in pod rm-1, 10:00:00 UTC\): passed/,
    );
    expect(text).toMatch(/Before the downgrade, schema check .*: passed/);
    expect(text).toContain('Downgrade approved by <@U0SRE00001> (alice)');
    expect(text).toContain('the database was at aaa111 after it (exit 0)');
    // Integrity: the audit trail's longer output wins over the record's excerpt.
    expect(text).toMatch(
      /\*\*FAIL\*\* orphaned records: `.\/scripts\/check-orphaned-records.sh in pod rm-2`: exited 1/,
    );
    expect(text).toContain('FAILED: release_deployments rows with no release: 11');
    expect(text).not.toContain('pods ready');
    expect(text).toMatch(/1\. pass drop: `psql -c DROP` in pod db-1: exit 0 \(0\.1 s\)/);
    expect(text).toMatch(/2\. \*\*FAIL\*\* consistency: .*exit 1/);
    expect(text).toContain('Stopped at its first failure at 10:00:00 UTC; not run: after');
  });

  it('keeps outputs inert: no mention, no code span ended', () => {
    const text = databaseLines(r, events).join('\n');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toContain('`x`');
  });

  it('says when a cleanup never reported back, and says nothing for a rollback without database care', () => {
    const interrupted = {
      ...r,
      cleanup: { ...r.cleanup!, results: r.cleanup!.results.slice(0, 1), finished: undefined },
    };
    expect(databaseLines(interrupted, []).join('\n')).toMatch(
      /\*\*Did not report back\*\*.*not known to have run: consistency, after\. The bot never starts it twice/,
    );
    expect(databaseLines(base, [])).toEqual([]);
    expect(
      databaseLines(
        { ...base, migrationGate: { kind: 'unknown', reasons: ['before the downgrade: no <@U1>'] } },
        [],
      ).join('\n'),
    ).toMatch(
      /Database gate: unknown, nothing changed until a person decided: before the downgrade: no &lt;@U1&gt;/,
    );
  });
});
