// "Undo this rollback" on a completed rollback's summary: the domain plans the roll-forward
// (undo-rollback.ts), the same checks as `/rollback` refuse privately, and an accepted one starts as
// a command would, in the channel, for the approvers to approve. The button gives way to who asked.
import type { BlockAction, ButtonAction } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import type { Logger } from '../../rollback/ports.js';
import type { Runner } from '../../rollback/runner.js';
import { context } from '../blocks/text.js';
import type { Directory } from '../directory.js';
import { ACTION, BLOCK } from '../ids.js';
import type { RootPoster } from '../notifier.js';
import { ownMentions } from '../own-mentions.js';
import type { ActionRouter } from './action-router.js';
import { createActorOf, refuseClick, replaceBlock, updateClicked } from './clicks.js';
import { startRollback } from './start-rollback.js';

export interface UndoDeps {
  runner: Runner;
  catalog: Catalog;
  directory: Directory;
  logger: Logger;
  postRoot: RootPoster;
}

export function registerUndoAction(actions: ActionRouter, deps: UndoDeps): void {
  const actorOf = createActorOf(deps.catalog, deps.directory);
  actions.action<BlockAction<ButtonAction>>(
    ACTION.undoRollback,
    async ({ ack, body, action, client, respond }) => {
      await ack();
      try {
        const plan = await deps.runner.planUndo(action.value ?? '');
        const request = {
          service: plan.service,
          toRevision: plan.toRevision,
          dryRun: false,
          reason: plan.reason,
        };
        // Refused (in progress, gone from the history) before anything is posted.
        await deps.runner.check(request);
        const channel = (body.container.channel_id as string | undefined) ?? body.channel?.id ?? '';
        const actor = await actorOf(body);
        await updateClicked(
          client,
          body,
          `Undo requested by <@${body.user.id}>`,
          replaceBlock(BLOCK.undo, [
            context(
              `:leftwards_arrow_with_hook: Undo requested by <@${body.user.id}>: a rollback to revision ${plan.toRevision}, in its own thread in the channel.`,
            ),
          ]),
        );
        await startRollback(deps, client, {
          channel,
          actor,
          request,
          keep: ownMentions(deps.catalog, actor.id),
        });
      } catch (err) {
        await refuseClick(deps, respond, body, err, 'undo');
      }
    },
  );
}
