// The procedure as a state machine: a pure table. Every transition the runner makes goes through
// transition(), so an impossible move (approve a cancelled rollback, undo twice) is a coded error.
import { CodedError } from '../errors.js';

export const STATES = [
  'requested',
  'assessing',
  'awaiting_approval',
  'notifying',
  'awaiting_migration_approval',
  'migrating',
  'undoing',
  'verifying',
  'reporting',
  'completed',
  'cancelled',
  'failed',
] as const;
export type State = (typeof STATES)[number];

export const EVENTS = [
  'start',
  'assessed',
  'auto_approved',
  'dry_run_done',
  'approve',
  'approve_migration',
  'skip_migration',
  'migration_unknown',
  'cancel',
  'notified',
  'migration_needed',
  'migrated',
  'undone',
  'verified',
  'fail',
  'reported',
  'reported_failure',
] as const;
export type EventType = (typeof EVENTS)[number];

const TABLE: Record<State, Partial<Record<EventType, State>>> = {
  requested: { start: 'assessing', cancel: 'cancelled', fail: 'failed' },
  assessing: {
    assessed: 'awaiting_approval',
    auto_approved: 'notifying',
    dry_run_done: 'completed',
    cancel: 'cancelled',
    fail: 'reporting',
  },
  awaiting_approval: { approve: 'notifying', cancel: 'cancelled' },
  // A schema downgrade is irreversible data work: it waits for its own explicit approval (DESIGN.md).
  // Cancel: an automatic rollback stops here when its service was paused meanwhile (notifying.ts).
  notifying: {
    notified: 'undoing',
    migration_needed: 'awaiting_migration_approval',
    cancel: 'cancelled',
    fail: 'reporting',
  },
  // Unknown database state: only a person may go on, without the downgrade, or cancel (fail closed).
  awaiting_migration_approval: {
    approve_migration: 'migrating',
    skip_migration: 'undoing',
    cancel: 'cancelled',
  },
  migrating: { migrated: 'undoing', migration_unknown: 'awaiting_migration_approval', fail: 'reporting' },
  undoing: { undone: 'verifying', fail: 'reporting' },
  verifying: { verified: 'reporting', fail: 'reporting' },
  reporting: { reported: 'completed', reported_failure: 'failed' },
  completed: {},
  cancelled: {},
  failed: {},
};

export const TERMINAL: ReadonlySet<State> = new Set(['completed', 'cancelled', 'failed']);

/** States in which a process owning the lease has work to do (the awaiting_ ones wait for a person). */
export const WORKING: ReadonlySet<State> = new Set([
  'requested',
  'assessing',
  'notifying',
  'migrating',
  'undoing',
  'verifying',
  'reporting',
]);

export function transition(state: State, event: EventType): State {
  const next = TABLE[state][event];
  if (!next) {
    throw new CodedError(
      'rollback_wrong_state',
      `cannot ${event.replaceAll('_', ' ')} a rollback that is ${state.replaceAll('_', ' ')}`,
      {
        details: { state, event },
      },
    );
  }
  return next;
}

export function canTransition(state: State, event: EventType): boolean {
  return TABLE[state][event] !== undefined;
}
