// Run cleanup clicks. The domain decides who may run it (approvers; a refusal is audited), whether it
// may run now (a verified rollback, never twice) and whether the commands are still the ones the
// button listed; the listener resolves the clicker's groups, makes that one call, and replaces the
// button with who started it. The results arrive in the thread from the domain, as the commands end.
import type { App, BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import { asCodedError } from '../../errors.js';
import type { Actor } from '../../rollback/model.js';
import type { Logger } from '../../rollback/ports.js';
import type { Runner } from '../../rollback/runner.js';
import { buildCleanupStatus, parseCleanupButtonValue } from '../blocks/cleanup-blocks.js';
import { buildError, errorText } from '../blocks/reply-blocks.js';
import type { Directory } from '../directory.js';
import { ACTION, BLOCK } from '../ids.js';
import { ownMentions } from '../own-mentions.js';

export interface CleanupActionDeps {
  runner: Pick<Runner, 'runCleanup'>;
  catalog: Catalog;
  directory: Directory;
  logger: Logger;
}

const refuse = (respond: RespondFn, text: string, blocks: ReturnType<typeof buildError>) =>
  respond({ response_type: 'ephemeral', replace_original: false, text, blocks }).catch(() => {});

export function registerCleanupAction(app: App, deps: CleanupActionDeps): void {
  const approverGroups = [...new Set([...deps.catalog.services.values()].flatMap((s) => s.approvers.groups))];

  async function actorOf(body: BlockAction): Promise<Actor> {
    const groups = approverGroups.length
      ? await deps.directory.groupsOf(body.user.id, approverGroups).catch(() => [])
      : [];
    return {
      kind: 'user',
      id: body.user.id,
      name: body.user.username ?? body.user.name ?? body.user.id,
      groups,
    };
  }

  app.action<BlockAction<ButtonAction>>(ACTION.runCleanup, async ({ ack, body, action, client, respond }) => {
    await ack();
    const { id, shown } = parseCleanupButtonValue(action.value ?? '');
    try {
      const r = await deps.runner.runCleanup(id, await actorOf(body), shown);
      const channel = body.container.channel_id as string | undefined;
      const ts = body.container.message_ts as string | undefined;
      const blocks = body.message?.blocks as { block_id?: string }[] | undefined;
      if (channel && ts && blocks) {
        const replaced = blocks.flatMap((b) => (b.block_id === BLOCK.cleanup ? buildCleanupStatus(r) : [b]));
        await client.chat.update({
          channel,
          ts,
          text: `Data cleanup started by <@${body.user.id}>`,
          blocks: replaced as never,
        });
      }
    } catch (err) {
      const e = asCodedError(err);
      if (e.code === 'internal') deps.logger.error('run cleanup failed', { rollback: id, error: e.message });
      const keep = ownMentions(deps.catalog, body.user.id);
      await refuse(respond, errorText(e, keep), buildError(e, keep));
    }
  });
}
