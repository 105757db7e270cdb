import { describe, expect, it } from 'vitest';
import { isCodedError } from '../../../src/errors.js';
import { canTransition, EVENTS, type STATES, TERMINAL, transition } from '../../../src/rollback/states.js';

describe('state table', () => {
  it('follows the procedure on the happy path', () => {
    const path = ['start', 'assessed', 'approve', 'notified', 'undone', 'verified', 'reported'] as const;
    let s: (typeof STATES)[number] = 'requested';
    const seen: string[] = [s];
    for (const e of path) {
      s = transition(s, e);
      seen.push(s);
    }
    expect(seen).toEqual([
      'requested',
      'assessing',
      'awaiting_approval',
      'notifying',
      'undoing',
      'verifying',
      'reporting',
      'completed',
    ]);
  });
  it('has no way out of a terminal state', () => {
    for (const t of TERMINAL) for (const e of EVENTS) expect(canTransition(t, e)).toBe(false);
  });
  it('refuses a second approval and approval after cancel with a coded error', () => {
    let err: unknown;
    try {
      transition('notifying', 'approve');
    } catch (e) {
      err = e;
    }
    expect(isCodedError(err, 'rollback_wrong_state')).toBe(true);
    expect(() => transition('cancelled', 'approve')).toThrow(/cannot approve a rollback that is cancelled/);
  });
  it('stops before a migration downgrade for its own approval, which may still cancel the rollback', () => {
    expect(transition('notifying', 'migration_needed')).toBe('awaiting_migration_approval');
    expect(transition('awaiting_migration_approval', 'approve_migration')).toBe('migrating');
    expect(transition('awaiting_migration_approval', 'cancel')).toBe('cancelled');
    // The rollback's approval is not the downgrade's, and nothing else moves it on.
    expect(canTransition('awaiting_migration_approval', 'approve')).toBe(false);
    expect(canTransition('awaiting_migration_approval', 'notified')).toBe(false);
    expect(canTransition('notifying', 'approve_migration')).toBe(false);
    expect(canTransition('awaiting_approval', 'approve_migration')).toBe(false);
  });
  it("routes every working step's failure to the report", () => {
    for (const s of ['assessing', 'notifying', 'migrating', 'undoing', 'verifying'] as const)
      expect(transition(s, 'fail')).toBe('reporting');
    expect(transition('reporting', 'reported_failure')).toBe('failed');
  });
});
