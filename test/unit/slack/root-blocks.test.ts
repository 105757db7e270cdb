// The root message's Cancel: offered on an automatic rollback only while a step works before the
// patch (requested, assessing, notifying), valid Block Kit behind an "are you sure?", and gone once
// the patch is sent, for a person's rollback (cancelled at its approval) and for a dry run.
import { describe, expect, it } from 'vitest';
import type { Rollback } from '../../../src/rollback/model.js';
import type { State } from '../../../src/rollback/states.js';
import { buildRoot } from '../../../src/slack/blocks/rollback-blocks.js';
import { ACTION } from '../../../src/slack/ids.js';
import { checkBlocks } from '../../support/slack-emulator/block-kit.js';
import type { Json } from '../../support/slack-emulator/types.js';

const rollback = (state: State, o: Partial<Rollback> = {}) =>
  ({
    id: '0b7c1c4e-6a43-4c1e-9d59-2f1d0c7a9e11',
    service: 'release-manager',
    namespace: 'production',
    deployment: 'release-manager-prod',
    state,
    mode: 'auto',
    dryRun: false,
    reason: 'HighErrorRate',
    requestedBy: { kind: 'alert', id: 'fp', name: 'HighErrorRate' },
    ...o,
  }) as Rollback;
const offersCancel = (r: Rollback) => JSON.stringify(buildRoot(r)).includes(`"action_id":"${ACTION.cancel}"`);

describe('the root message', () => {
  it('offers Cancel on an automatic rollback until the patch is sent', () => {
    for (const s of ['requested', 'assessing', 'notifying'] as const) {
      expect(offersCancel(rollback(s)), s).toBe(true);
      expect(checkBlocks(JSON.parse(JSON.stringify(buildRoot(rollback(s)))) as Json).ok).toBe(true);
    }
    for (const s of ['undoing', 'verifying', 'reporting', 'completed', 'cancelled', 'failed'] as const)
      expect(offersCancel(rollback(s)), s).toBe(false);
    expect(offersCancel(rollback('assessing', { mode: 'manual' }))).toBe(false);
    expect(offersCancel(rollback('assessing', { dryRun: true }))).toBe(false);
  });
});
