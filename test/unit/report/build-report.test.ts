import { describe, expect, it } from 'vitest';
import { buildReport } from '../../../src/report/build-report.js';
import type { Rollback, RollbackEvent } from '../../../src/rollback/model.js';

const alice = { kind: 'user' as const, id: 'U1', name: 'alice' };
const bob = { kind: 'user' as const, id: 'U2', name: 'bob' };

const r: Rollback = {
  id: 'r1',
  service: 'release-manager',
  namespace: 'production',
  deployment: 'release-manager-prod',
  state: 'completed',
  version: 9,
  mode: 'manual',
  dryRun: false,
  toRevision: 0,
  reason: 'error rate 8%',
  requestedBy: alice,
  requestedAt: '2024-01-15T14:35:10.000Z',
  updatedAt: '2024-01-15T14:39:00.000Z',
  approvals: [{ by: bob, at: '2024-01-15T14:36:00.000Z' }],
  verification: {
    at: '2024-01-15T14:39:00.000Z',
    passed: true,
    checks: [
      { name: 'error rate', passed: true, evidence: { source: 'q|x', value: '0.10%', threshold: '< 1.00%' } },
    ],
  },
};

const ev = (
  type: RollbackEvent['type'],
  at: string,
  actor = alice,
  data?: Record<string, unknown>,
): RollbackEvent => ({
  id: 'r1',
  type,
  from: undefined,
  to: undefined,
  actor,
  at,
  ...(data ? { data } : {}),
});

describe('incident report', () => {
  const events = [
    ev('created', '2024-01-15T14:35:10.000Z'),
    ev('approve', '2024-01-15T14:36:00.000Z', bob),
    ev('verified', '2024-01-15T14:39:00.000Z', alice, { passed: true }),
    ev('note', '2024-01-15T14:45:00.000Z', bob, {
      kind: 'checklist',
      item: 'Test login functionality',
      done: true,
    }),
  ];

  it('is deterministic and follows the procedure template', () => {
    const a = buildReport(r, events);
    expect(buildReport(structuredClone(r), structuredClone(events))).toBe(a);
    for (const h of [
      '## Summary',
      '## Timeline',
      '## Root Cause',
      '## Immediate Actions Taken',
      '## Verification Evidence',
      '## Prevention',
      '## Severity Level',
      '## Approval',
    ]) {
      expect(a).toContain(h);
    }
  });

  it('puts the timeline in UTC order with who did what, and escapes table cells', () => {
    const a = buildReport(r, [...events].reverse());
    const lines = a.split('\n').filter((l) => l.startsWith('- **2024'));
    expect(lines[0]).toBe(
      '- **2024-01-15 14:35:10 UTC**: Rollback requested by <@U1> (alice): error rate 8%',
    );
    expect(lines[1]).toBe('- **2024-01-15 14:36:00 UTC**: Approved by <@U2> (bob)');
    expect(a).toContain('| error rate | pass | 0.10% | &lt; 1.00% | `q\\|x` |');
  });

  it('shows ticked checklist items with who ticked them', () => {
    expect(buildReport(r, events)).toContain('- [x] Test login functionality — <@U2> (bob) at 14:45:00 UTC');
    expect(buildReport(r, events)).toContain('- [ ] Verify deployment history display');
  });

  it('says P1 when verification failed', () => {
    const failed = { ...r, state: 'failed' as const, verification: { ...r.verification!, passed: false } };
    expect(buildReport(failed, events)).toContain('P1 - Rollback did not restore service health');
  });
});
