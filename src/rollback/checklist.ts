// The procedure's post-rollback checks ("User-Facing Verification", "Data Integrity", "Monitoring"):
// people tick them in the thread; each tick is an event in the audit trail.
import type { Actor, RollbackEvent } from './model.js';

export const POST_ROLLBACK_CHECKLIST = [
  'Test login functionality',
  'Verify deployment history display',
  'Confirm release notes are accessible',
  'Check that previous releases are still visible',
  'Verify API endpoints respond correctly',
  'Run data integrity checks',
  'Check for orphaned records from the failed deployment',
  'No new alerts firing',
];

/** The latest tick per item, from "checklist" note events. */
export function checklistState(
  events: RollbackEvent[],
): Map<string, { done: boolean; by: Actor; at: string }> {
  const out = new Map<string, { done: boolean; by: Actor; at: string }>();
  for (const e of events) {
    if (e.type === 'note' && e.data?.kind === 'checklist') {
      out.set(String(e.data.item), { done: e.data.done === true, by: e.actor, at: e.at });
    }
  }
  return out;
}
