// `/rollback` with no service: the form (modal-blocks.ts), and its submission. Opening must happen
// within the trigger's 3 s, so the history gets HISTORY_WAIT_MS and the modal opens without it after
// that. A submission's check must answer within Slack's 3 s too: it gets CHECK_WAIT_MS, and what it
// refuses (unknown service, wrong channel, a revision not in the history, a rollback in progress)
// is shown on its field, Slack's way; nothing is started. Accepted, it runs what the command runs.
// Picking another service replaces the view with that service's revisions (views.update with the
// view's hash, so a view the user changed meanwhile is not overwritten); a revision picked from
// another service's list is refused on its field, never read as this service's revision number.
import type { App, BlockAction, RespondFn, SlashCommand, StaticSelectAction, webApi } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import { asCodedError, CodedError } from '../../errors.js';
import { bounded } from '../../rollback/bounded.js';
import { lookupService } from '../../rollback/lookup-service.js';
import type { Actor } from '../../rollback/model.js';
import type { Logger } from '../../rollback/ports.js';
import type { Runner } from '../../rollback/runner.js';
import {
  buildNoServiceModal,
  buildRollbackModal,
  DEFAULT_REVISION,
  MODAL,
  readModal,
} from '../blocks/modal-blocks.js';
import { section } from '../blocks/text.js';
import type { RootPoster } from '../notifier.js';
import { ownMentions } from '../own-mentions.js';
import type { ActionRouter } from './action-router.js';
import { inChannel, startRollback } from './start-rollback.js';

const HISTORY_WAIT_MS = 1500;
const CHECK_WAIT_MS = 2000;

export interface ModalDeps {
  runner: Runner;
  catalog: Catalog;
  logger: Logger;
  postRoot: RootPoster;
}

/** Where the form was opened: its rollback's thread goes there. */
interface Where {
  channel: string;
  channelName?: string;
}

/** The services whose rollbacks run where the form was opened, in catalog order. */
const servicesFor = (catalog: Catalog, where: Where) =>
  [...catalog.services.values()].filter((s) => inChannel(s.channel, where.channel, where.channelName));

export async function openRollbackModal(
  deps: ModalDeps,
  client: webApi.WebClient,
  command: SlashCommand,
  respond: RespondFn,
): Promise<void> {
  const all = [...deps.catalog.services.values()];
  const here = servicesFor(deps.catalog, { channel: command.channel_id, channelName: command.channel_name });
  const first = here[0];
  let view: ReturnType<typeof buildRollbackModal>;
  if (!first) view = buildNoServiceModal(all.map((s) => s.channel));
  else {
    const history = await bounded(HISTORY_WAIT_MS, () => deps.runner.history(first.name));
    const where: Where = { channel: command.channel_id, channelName: command.channel_name };
    view = buildRollbackModal({
      services: here.map((s) => s.name),
      history: history.ok ? history.value : history.unavailable,
      metadata: where,
    });
  }
  try {
    await client.views.open({ trigger_id: command.trigger_id, view });
  } catch (err) {
    // Most often the trigger expired (Slack allows 3 s): say so, and how to go on without the form.
    const code = (err as { data?: { error?: string } }).data?.error ?? (err as Error).message;
    deps.logger.warn('rollback form not opened', { error: code });
    await respond({
      response_type: 'ephemeral',
      text: 'The rollback form could not open',
      blocks: [
        section(
          `:warning: The rollback form could not open (\`${code}\`): Slack gives it 3 seconds. Try \`/rollback\` again, or type \`/rollback <service> [--to-revision=N] [--dry-run] [reason…]\`.`,
        ),
      ],
    }).catch(() => undefined);
  }
}

/** The promise, or a refusal once `ms` passed: Slack wants the submission's answer within 3 s. */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CodedError('internal', `the checks did not answer within ${ms} ms; try again`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A field error is plain text: our messages' `code` marks go, and Slack shows a short line. */
const plainError = (e: CodedError) =>
  `${e.message}${e.remedy ? `. ${e.remedy}` : ''}`.replaceAll('`', '').slice(0, 300);

function whereOf(metadata: string): Where | undefined {
  try {
    const w = JSON.parse(metadata) as Partial<Where>;
    return typeof w.channel === 'string'
      ? { channel: w.channel, ...(w.channelName ? { channelName: w.channelName } : {}) }
      : undefined;
  } catch {
    return undefined;
  }
}

export function registerRollbackModal(app: App, actions: ActionRouter, deps: ModalDeps): void {
  actions.action<BlockAction<StaticSelectAction>>(MODAL.service, async ({ ack, body, action, client }) => {
    await ack();
    const view = body.view;
    const where = view ? whereOf(view.private_metadata) : undefined;
    if (!view || !where) return;
    const here = servicesFor(deps.catalog, where);
    const chosen = here.find((s) => s.name === action.selected_option?.value);
    if (!chosen) return;
    const history = await bounded(HISTORY_WAIT_MS, () => deps.runner.history(chosen.name));
    await client.views
      .update({
        view_id: view.id,
        hash: view.hash,
        view: buildRollbackModal({
          services: here.map((s) => s.name),
          selected: chosen.name,
          history: history.ok ? history.value : history.unavailable,
          metadata: where,
        }),
      })
      .catch((err: unknown) =>
        // hash_conflict: the view changed meanwhile (another pick); the later pick updates it.
        deps.logger.warn('rollback form not updated', {
          service: chosen.name,
          error: (err as { data?: { error?: string } }).data?.error ?? (err as Error).message,
        }),
      );
  });

  app.view(MODAL.callback, async ({ ack, body, view, client }) => {
    const errorOn = (block: string, text: string) =>
      ack({ response_action: 'errors', errors: { [block]: text } });
    const where = whereOf(view.private_metadata);
    // The form that says no service runs here has no inputs, hence no submit: nothing to do.
    if (!view.blocks.some((b) => b.block_id === MODAL.service)) return ack();
    if (!where)
      return errorOn(MODAL.service, 'This form is from an older version of the bot: type /rollback again.');
    const asked = readModal(view.state.values);
    const actor: Actor = { kind: 'user', id: body.user.id, name: body.user.name };
    let service: string;
    try {
      const svc = lookupService(deps.catalog, asked.service ?? '');
      if (!inChannel(svc.channel, where.channel, where.channelName))
        throw new CodedError('rollback_unauthorized', `rollbacks of ${svc.name} are run in ${svc.channel}`);
      service = svc.name;
      if (
        asked.revisionsOf !== undefined &&
        asked.revisionsOf !== svc.name &&
        asked.toRevision !== Number(DEFAULT_REVISION)
      )
        return errorOn(
          MODAL.revision,
          asked.revisionsOf
            ? `These revisions are ${asked.revisionsOf}'s, not ${svc.name}'s: pick the service again, then its revision.`
            : 'This form is from an older version of the bot: type /rollback again.',
        );
      await within(
        CHECK_WAIT_MS,
        deps.runner.check({ service: svc.name, toRevision: asked.toRevision, dryRun: asked.dryRun }),
      );
    } catch (err) {
      const e = asCodedError(err);
      const onRevision =
        (e.code === 'rollback_bad_revision' || e.code === 'rollback_revision_not_found') &&
        view.blocks.some((b) => b.block_id === MODAL.revision && b.type === 'input');
      return errorOn(onRevision ? MODAL.revision : MODAL.service, plainError(e));
    }
    await ack();
    await startRollback(deps, client, {
      channel: where.channel,
      actor,
      request: { service, toRevision: asked.toRevision, dryRun: asked.dryRun, reason: asked.reason },
      keep: ownMentions(deps.catalog, actor.id),
    }).catch((err: unknown) =>
      // The root already says "Not started" and why, in the channel.
      deps.logger.warn('rollback from the form not started', { error: asCodedError(err).message }),
    );
  });
}
