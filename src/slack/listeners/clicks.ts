// What every button listener does around its one domain call: who clicked (with the approver groups
// they are in), replace the clicked block in place, and refuse with an ephemeral, specific error.
import type { BlockAction, RespondFn, webApi } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import { asCodedError } from '../../errors.js';
import type { Actor } from '../../rollback/model.js';
import type { Logger } from '../../rollback/ports.js';
import { buildError, errorText } from '../blocks/reply-blocks.js';
import type { KnownBlock } from '../blocks/text.js';
import type { Directory } from '../directory.js';
import { ownMentions } from '../own-mentions.js';

/**
 * The ephemeral refusal. The domain already changed nothing; if Slack loses the reply too, the log
 * says what the person was not told.
 */
export const refuse = (
  respond: RespondFn,
  text: string,
  blocks: ReturnType<typeof buildError>,
  logger?: Logger,
) =>
  respond({ response_type: 'ephemeral', replace_original: false, text, blocks }).catch((err: unknown) =>
    logger?.warn('refusal not delivered', { text, error: (err as Error).message }),
  );

/** The clicker as an actor, with the catalog's approver groups they belong to (none if unresolvable). */
export function createActorOf(catalog: Catalog, directory: Directory) {
  const approverGroups = [...new Set([...catalog.services.values()].flatMap((s) => s.approvers.groups))];
  return async function actorOf(body: BlockAction): Promise<Actor> {
    const groups = approverGroups.length
      ? await directory.groupsOf(body.user.id, approverGroups).catch(() => [])
      : [];
    return {
      kind: 'user',
      id: body.user.id,
      name: body.user.username ?? body.user.name ?? body.user.id,
      groups,
    };
  };
}

/** Re-renders the clicked message with `rebuild` applied to its blocks. */
export async function updateClicked(
  client: webApi.WebClient,
  body: BlockAction,
  text: string,
  rebuild: (blocks: { block_id?: string; type?: string }[]) => unknown[],
): Promise<void> {
  const channel = body.container.channel_id as string | undefined;
  const ts = body.container.message_ts as string | undefined;
  const blocks = body.message?.blocks as { block_id?: string; type?: string }[] | undefined;
  if (channel && ts && blocks)
    await client.chat.update({ channel, ts, text, blocks: rebuild(blocks) as never });
}

/** The blocks with the one whose block_id is `id` replaced by `by`. */
export const replaceBlock = (id: string, by: KnownBlock[]) => (blocks: { block_id?: string }[]) =>
  blocks.flatMap((b) => (b.block_id === id ? by : [b]));

/** Tells the clicker why nothing was done; an internal error is also logged. */
export async function refuseClick(
  deps: { catalog: Catalog; logger: Logger },
  respond: RespondFn,
  body: BlockAction,
  err: unknown,
  what: string,
): Promise<void> {
  const e = asCodedError(err);
  if (e.code === 'internal') deps.logger.error(`${what} failed`, { error: e.message });
  const keep = ownMentions(deps.catalog, body.user.id);
  await refuse(respond, errorText(e, keep), buildError(e, keep), deps.logger);
}
