// Run cleanup clicks. The domain decides who may run it (approvers; a refusal is audited), whether it
// may run now (a verified rollback, never twice) and whether the commands are still the ones the
// button listed; the listener resolves the clicker's groups, makes that one call, and replaces the
// button with who started it. The results arrive in the thread from the domain, as the commands end.
import type { BlockAction, ButtonAction } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import type { Logger } from '../../rollback/ports.js';
import type { Runner } from '../../rollback/runner.js';
import { buildCleanupStatus, parseCleanupButtonValue } from '../blocks/cleanup-blocks.js';
import type { Directory } from '../directory.js';
import { ACTION, BLOCK } from '../ids.js';
import type { ActionRouter } from './action-router.js';
import { createActorOf, refuseClick, replaceBlock, updateClicked } from './clicks.js';

export interface CleanupActionDeps {
  runner: Pick<Runner, 'runCleanup'>;
  catalog: Catalog;
  directory: Directory;
  logger: Logger;
}

export function registerCleanupAction(actions: ActionRouter, deps: CleanupActionDeps): void {
  const actorOf = createActorOf(deps.catalog, deps.directory);

  actions.action<BlockAction<ButtonAction>>(
    ACTION.runCleanup,
    async ({ ack, body, action, client, respond }) => {
      await ack();
      const { id, shown } = parseCleanupButtonValue(action.value ?? '');
      try {
        const r = await deps.runner.runCleanup(id, await actorOf(body), shown);
        await updateClicked(
          client,
          body,
          `Data cleanup started by <@${body.user.id}>`,
          replaceBlock(BLOCK.cleanup, buildCleanupStatus(r)),
        );
      } catch (err) {
        await refuseClick(deps, respond, body, err, `run cleanup of ${id}`);
      }
    },
  );
}
