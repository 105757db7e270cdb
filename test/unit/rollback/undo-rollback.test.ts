// Planning "Undo this rollback": only a completed rollback that patched the workload, only while the
// workload still runs what it put back, and only to the revision it left when that is still in the
// history with the same images. The reason says what it undoes and what still fires.
import { describe, expect, it } from 'vitest';
import { isCodedError } from '../../../src/errors.js';
import type { Rollback } from '../../../src/rollback/model.js';
import type { RevisionEntry } from '../../../src/rollback/revisions.js';
import { planUndo, undoReason } from '../../../src/rollback/undo-rollback.js';

const entry = (revision: number, image: string, current = false): RevisionEntry => ({
  revision,
  replicaSet: `rm-${revision}`,
  images: [image],
  changeCause: undefined,
  createdAt: '2026-12-07T00:00:00Z',
  current,
  replicas: current ? 3 : 0,
  readyReplicas: current ? 3 : 0,
  annotations: {},
  templateAnnotations: {},
});
const ref = (revision: number, image: string) => ({
  revision,
  replicaSet: `rm-${revision}`,
  images: [image],
  changeCause: undefined,
  createdAt: '2026-12-07T00:00:00Z',
});

const done = (o: Partial<Rollback> = {}): Rollback =>
  ({
    id: 'abcdef0123456789',
    service: 'release-manager',
    state: 'completed',
    dryRun: false,
    undo: { outcome: 'patched', at: '2026-12-07T00:10:00Z', generation: 4 },
    assessment: { from: ref(2, 'rm:v2'), target: ref(1, 'rm:v1') },
    ...o,
  }) as Rollback;

// After the rollback: v1 is revision 3 (renumbered, current), v2 is still revision 2.
const after = [entry(2, 'rm:v2'), entry(3, 'rm:v1', true)];
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('undo this rollback', () => {
  it('plans a roll forward to the revision the rollback left', () => {
    expect(planUndo(done(), after)).toEqual({ service: 'release-manager', toRevision: 2, images: ['rm:v2'] });
  });

  it('refuses what cannot be undone, saying why', () => {
    for (const r of [
      done({ state: 'failed' }),
      done({ dryRun: true }),
      done({ undo: { outcome: 'already_at_target', at: '', generation: 1 } }),
    ])
      expect(
        isCodedError(
          refusal(() => planUndo(r, after)),
          'rollback_wrong_state',
        ),
      ).toBe(true);
    // Someone released since: the workload no longer runs what the rollback put back.
    const moved = [entry(2, 'rm:v2'), entry(3, 'rm:v1'), entry(4, 'rm:v3', true)];
    expect(
      isCodedError(
        refusal(() => planUndo(done(), moved)),
        'rollback_concurrent_change',
      ),
    ).toBe(true);
    // The revision it left is gone from the history (revisionHistoryLimit), or is another release now.
    expect(
      isCodedError(
        refusal(() => planUndo(done(), [entry(3, 'rm:v1', true)])),
        'rollback_revision_not_found',
      ),
    ).toBe(true);
    expect(
      isCodedError(
        refusal(() => planUndo(done(), [entry(2, 'rm:v9'), entry(3, 'rm:v1', true)])),
        'rollback_revision_not_found',
      ),
    ).toBe(true);
  });

  it('says in the reason what still fires, that nothing does, or that nobody could tell', () => {
    const plan = planUndo(done(), after);
    const base =
      'Undo of rollback abcdef01: roll forward to revision 2 (rm:v2), the revision it rolled back from.';
    expect(undoReason(done(), plan, undefined)).toBe(base);
    expect(undoReason(done(), plan, [])).toBe(`${base} No alert fires for release-manager now.`);
    expect(undoReason(done(), plan, ['HighErrorRate'])).toContain(
      'Warning: still firing for release-manager: HighErrorRate.',
    );
    expect(undoReason(done(), plan, new Error('ECONNREFUSED'))).toContain(
      'Warning: the alerts for release-manager could not be read (ECONNREFUSED).',
    );
  });
});
