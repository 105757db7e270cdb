// Pause / Resume of automatic rollbacks, from the buttons an automatic incident offers. The domain
// (pauses.ts) checks the approver and audits; the listener swaps the buttons for what happened.
import type { BlockAction, ButtonAction } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import type { Pauses } from '../../rollback/pauses.js';
import type { Logger } from '../../rollback/ports.js';
import { buildPaused, buildResumed } from '../blocks/pause-blocks.js';
import type { Directory } from '../directory.js';
import { ACTION, BLOCK } from '../ids.js';
import type { ActionRouter } from './action-router.js';
import { createActorOf, refuseClick, updateClicked } from './clicks.js';

export interface PauseDeps {
  pauses: Pauses;
  catalog: Catalog;
  directory: Directory;
  logger: Logger;
  /** The App Home shows pauses: refreshed after one changed. */
  changed?: () => void;
}

/** The pause's own blocks (line and buttons) replaced by `by`, everything else kept. */
const swap = (by: ReturnType<typeof buildPaused>) => (blocks: { block_id?: string }[]) => {
  const ours = new Set<string>([BLOCK.pause, BLOCK.paused]);
  const first = blocks.findIndex((b) => ours.has(b.block_id ?? ''));
  return blocks.flatMap((b, i) => (i === first ? by : ours.has(b.block_id ?? '') ? [] : [b]));
};

export function registerPauseActions(actions: ActionRouter, deps: PauseDeps): void {
  const actorOf = createActorOf(deps.catalog, deps.directory);
  actions.action<BlockAction<ButtonAction>>(ACTION.pause, async ({ ack, body, action, client, respond }) => {
    await ack();
    try {
      const p = await deps.pauses.pause(action.value ?? '', await actorOf(body));
      deps.changed?.();
      await updateClicked(
        client,
        body,
        `Automatic rollbacks of ${p.service} paused`,
        swap(buildPaused(p.service, p)),
      );
    } catch (err) {
      await refuseClick(deps, respond, body, err, 'pause');
    }
  });
  actions.action<BlockAction<ButtonAction>>(ACTION.resume, async ({ ack, body, action, client, respond }) => {
    await ack();
    try {
      const p = await deps.pauses.resume(action.value ?? '', await actorOf(body));
      deps.changed?.();
      await updateClicked(
        client,
        body,
        `Automatic rollbacks of ${p.service} resumed`,
        swap(buildResumed(p.service, body.user.id, deps.pauses.lasts)),
      );
    } catch (err) {
      await refuseClick(deps, respond, body, err, 'resume');
    }
  });
}
