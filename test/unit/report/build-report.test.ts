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

  const actionsOf = (text: string) => {
    const start = text.indexOf('## Immediate Actions Taken');
    return text
      .slice(start, text.indexOf('\n## ', start + 5))
      .split('\n')
      .filter((l) => /^\d+\. /.test(l));
  };
  const change = (
    type: RollbackEvent['type'],
    from: string,
    to: string,
    at: string,
    data?: Record<string, unknown>,
  ) => ({ ...ev(type, at, alice, data), from, to }) as RollbackEvent;

  it('lists only actions that have their event: a rollback that failed before the undo did nothing', () => {
    const failedEarly: Rollback = { ...r, state: 'failed', verification: undefined, approvals: [] };
    const onlyCreated = [ev('created', '2024-01-15T14:35:10.000Z')];
    expect(actionsOf(buildReport(failedEarly, onlyCreated))).toEqual([]);
    expect(buildReport(failedEarly, onlyCreated)).toContain('None: nothing was changed.');
  });

  it('names who was notified and the PagerDuty ticket only from the audit trail, and each action line has its event', () => {
    const full: Rollback = {
      ...r,
      signal: { name: 'HighErrorRate', since: '2024-01-15T14:35:00.000Z', summary: 'Error ratio 8.3%' },
      undo: { outcome: 'patched', at: '2024-01-15T14:37:00.000Z', generation: 4 },
    };
    const trail = [
      ...events,
      change('notified', 'notifying', 'undoing', '2024-01-15T14:36:30.000Z'),
      ev('note', '2024-01-15T14:36:31.000Z', alice, {
        kind: 'notified',
        to: ['the incident thread in <#C1>', 'engineering manager <@U9> (direct message)'],
      }),
      ev('note', '2024-01-15T14:36:32.000Z', alice, {
        kind: 'paged',
        action: 'trigger',
        dedupKey: 'rollback-bot/p/d/revision-2',
      }),
      change('undone', 'undoing', 'verifying', '2024-01-15T14:38:00.000Z'),
    ];
    const text = buildReport(full, trail);
    const actions = actionsOf(text);
    expect(actions).toEqual([
      '1. Notified stakeholders via Slack: the incident thread in &lt;#C1&gt;, engineering manager &lt;@U9&gt; (direct message)',
      expect.stringMatching(/^2\. Executed rollback with `kubectl rollout undo` semantics$/),
      '3. Verified application health post-rollback',
      '4. Opened incident ticket for investigation (PagerDuty dedup key `rollback-bot/p/d/revision-2`)',
    ]);
    // Every action line is backed by its event: without them, the lines go.
    const bare = buildReport({ ...full, undo: undefined }, events);
    expect(actionsOf(bare)).toEqual(['1. Verified application health post-rollback']);
    expect(text).toContain(
      '- **2024-01-15 14:35:00 UTC**: Error spike detected: HighErrorRate (Error ratio 8.3%)',
    );
  });

  it('gives each step its duration against the procedure budget, marking one over it', () => {
    const trail = [
      change('start', 'requested', 'assessing', '2024-01-15T14:35:10.000Z'),
      change('assessed', 'assessing', 'awaiting_approval', '2024-01-15T14:35:40.000Z'),
      change('approve', 'awaiting_approval', 'notifying', '2024-01-15T14:40:40.000Z'),
      change('notified', 'notifying', 'undoing', '2024-01-15T14:40:50.000Z'),
      change('undone', 'undoing', 'verifying', '2024-01-15T14:45:50.000Z'),
      change('verified', 'verifying', 'reporting', '2024-01-15T14:47:50.000Z'),
    ];
    const text = buildReport(r, trail);
    expect(text).toContain('| Assess | 30.0 s | 2 min |  |');
    expect(text).toContain('| Notify | 10.0 s | 1 min |  |');
    expect(text).toContain('| Execute | 5.0 min | 3 min | **over budget** |');
    expect(text).toContain('| Verify | 2.0 min | 10 min |  |');
    expect(text).toContain('| Waiting for a person | 5.0 min | | |');
  });

  it('marks unknown and not-configured checks for what they are, and lists follow-ups apart from the verdict', () => {
    const v: Rollback = {
      ...r,
      state: 'failed',
      verification: {
        at: r.verification!.at,
        passed: false,
        checks: [
          {
            name: 'cpu',
            passed: false,
            status: 'unknown',
            evidence: { source: 'q', value: 'no baseline', threshold: '≤ 1.5×' },
          },
          {
            name: '/ready',
            passed: false,
            status: 'not_configured',
            evidence: { source: 'health.readyUrl', value: 'not configured', threshold: '200' },
          },
        ],
        followUps: [
          {
            name: 'error rate back to normal (dashboard review)',
            met: false,
            evidence: { source: 'q2', value: '0.25%', threshold: '< 0.10%' },
          },
        ],
      },
    };
    const text = buildReport(v, events);
    expect(text).toContain('| cpu | **UNKNOWN** (not a pass) | no baseline |');
    expect(text).toContain('| /ready | not configured | not configured |');
    expect(text).toContain(
      '- **not met**: error rate back to normal (dashboard review): 0.25% (bar &lt; 0.10%; `q2`)',
    );
  });
});
