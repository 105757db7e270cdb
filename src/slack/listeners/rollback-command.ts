// /rollback: ack at once (never after Kubernetes or Redis), then parse, check and start.
// Help is the ack itself: a constant answer needs no second request to response_url, and under a burst
// of commands that second request (and its redaction) was half of the bot's work per help.
import type { App, RespondFn, SlashCommand } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import { asCodedError, CodedError } from '../../errors.js';
import { escapeMrkdwn } from '../../escape-mrkdwn.js';
import { lookupService } from '../../rollback/lookup-service.js';
import type { Actor } from '../../rollback/model.js';
import type { Pauses } from '../../rollback/pauses.js';
import type { Logger } from '../../rollback/ports.js';
import type { Runner } from '../../rollback/runner.js';
import { buildPaused, buildResumed } from '../blocks/pause-blocks.js';
import {
  buildError,
  buildHelp,
  buildHistory,
  buildInProgress,
  buildStatus,
  errorText,
} from '../blocks/reply-blocks.js';
import { section } from '../blocks/text.js';
import type { Directory } from '../directory.js';
import { SLASH_COMMAND } from '../ids.js';
import type { RootPoster } from '../notifier.js';
import { ownMentions } from '../own-mentions.js';
import { isHelp, parseCommand } from '../parse-command.js';
import { createWorkQueue } from '../work-queue.js';
import { openRollbackModal } from './rollback-modal.js';
import { inChannel as inChannelOf, startRollback } from './start-rollback.js';

/** Commands worked on at once after their acks (work-queue.ts); the rest wait, already acked. */
const COMMANDS_AT_ONCE = 4;

export interface CommandDeps {
  runner: Runner;
  catalog: Catalog;
  logger: Logger;
  directory: Directory;
  /** The notifier's paced post: the root message waits its turn in a busy channel. */
  postRoot: RootPoster;
  pauses: Pauses;
  /** The App Home shows pauses: refreshed after one changed. */
  changed?: () => void;
}

const ephemeral = (respond: RespondFn, blocks: ReturnType<typeof buildHelp>, text: string) =>
  respond({ response_type: 'ephemeral', replace_original: false, text, blocks });

const inChannel = (channel: string, command: SlashCommand) =>
  inChannelOf(channel, command.channel_id, command.channel_name);

/** The link to the thread of the rollback holding the workload, if Slack gives one. */
async function threadLink(
  client: {
    chat: { getPermalink(a: { channel: string; message_ts: string }): Promise<{ permalink?: string }> };
  },
  e: CodedError,
): Promise<string | undefined> {
  const thread = (e.details?.holder as { thread?: { channel: string; ts: string } } | undefined)?.thread;
  if (!thread) return undefined;
  // Without the link the refusal still says whose rollback it is: that is enough to act on.
  return client.chat
    .getPermalink({ channel: thread.channel, message_ts: thread.ts })
    .then((r) => r.permalink)
    .catch(() => undefined);
}

export function registerRollbackCommand(app: App, deps: CommandDeps): void {
  // Built once: the command list is constant (no user text, nothing for the redactor to mask).
  const help = {
    response_type: 'ephemeral' as const,
    text: 'rollback help',
    blocks: buildHelp(deps.pauses.lasts),
  };
  const work = createWorkQueue(COMMANDS_AT_ONCE, (err) =>
    deps.logger.error('slash command failed', { error: (err as Error).message }),
  );
  app.command(SLASH_COMMAND, async ({ command, ack, respond, client }) => {
    // No service: the form. Opened at once after the ack, inside the trigger's 3 s (not queued).
    if (command.text.trim() === '') {
      await ack();
      await openRollbackModal(deps, client, command, respond);
      return;
    }
    if (isHelp(command.text)) {
      await ack(help);
      return;
    }
    await ack();
    work.run(async () => {
      const actor: Actor = { kind: 'user', id: command.user_id, name: command.user_name };
      const keep = ownMentions(deps.catalog, actor.id);
      try {
        const cmd = parseCommand(command.text);
        switch (cmd.kind) {
          case 'help': // reached only if isHelp and parseCommand ever disagree
            await ephemeral(respond, buildHelp(deps.pauses.lasts), 'rollback help');
            return;
          case 'status':
            await ephemeral(
              respond,
              buildStatus(await deps.runner.recent(15, cmd.service)),
              'rollback status',
            );
            return;
          case 'history':
            await ephemeral(
              respond,
              buildHistory(cmd.service, await deps.runner.history(cmd.service)),
              `history of ${escapeMrkdwn(cmd.service)}`,
            );
            return;
          case 'cancel': {
            const svc = lookupService(deps.catalog, cmd.service);
            const groups = svc.approvers.groups.length
              ? await deps.directory.groupsOf(actor.id, svc.approvers.groups).catch(() => [])
              : [];
            const r = await deps.runner.cancelService(svc.name, { ...actor, groups });
            const said =
              r.state === 'cancelled'
                ? `:no_entry_sign: Cancelled the rollback of \`${svc.name}\` (\`${r.id}\`); nothing was changed.`
                : `:no_entry_sign: Cancel requested: the rollback of \`${svc.name}\` (\`${r.id}\`, ${r.state}) stops before its patch is sent.`;
            await ephemeral(respond, [section(said)], `cancel of ${svc.name}`);
            return;
          }
          case 'pause':
          case 'resume': {
            const svc = lookupService(deps.catalog, cmd.service);
            const groups = svc.approvers.groups.length
              ? await deps.directory.groupsOf(actor.id, svc.approvers.groups).catch(() => [])
              : [];
            const who = { ...actor, groups };
            const p =
              cmd.kind === 'pause'
                ? await deps.pauses.pause(svc.name, who)
                : await deps.pauses.resume(svc.name, who);
            deps.changed?.();
            // Said in the service's channel, not only to the person: the other responders must know
            // whether the bot may act alone.
            const blocks =
              cmd.kind === 'pause'
                ? buildPaused(svc.name, p)
                : buildResumed(svc.name, actor.id, deps.pauses.lasts);
            const text = `Automatic rollbacks of ${svc.name} ${cmd.kind === 'pause' ? 'paused' : 'resumed'} by <@${actor.id}>`;
            await deps.postRoot({ channel: svc.channel, text, blocks });
            await ephemeral(respond, [section(`:white_check_mark: ${text}.`)], text);
            return;
          }
          case 'rollback': {
            const svc = lookupService(deps.catalog, cmd.service);
            if (!inChannel(svc.channel, command)) {
              throw new CodedError(
                'rollback_unauthorized',
                `rollbacks of \`${svc.name}\` are run in ${svc.channel}`,
                {
                  remedy: `Run \`/rollback ${escapeMrkdwn(command.text)}\` there, so the thread is where the incident is.`,
                },
              );
            }
            // A refusal (in progress, bad revision, …) is said to the requester alone: nothing public.
            await deps.runner.check(cmd);
            await startRollback(deps, client, {
              channel: command.channel_id,
              actor,
              request: {
                service: svc.name,
                toRevision: cmd.toRevision,
                dryRun: cmd.dryRun,
                reason: cmd.reason,
              },
              keep,
            });
            return;
          }
        }
      } catch (err) {
        const e = asCodedError(err);
        if (e.code === 'internal') deps.logger.error('slash command failed', { error: e.message });
        const blocks =
          e.code === 'rollback_in_progress'
            ? buildInProgress(e, await threadLink(client, e), keep)
            : buildError(e, keep);
        // The answer itself could not be sent (response_url expired, Slack down): nothing was started,
        // so nothing is left half done; the log says what the person did not see.
        await ephemeral(respond, blocks, errorText(e, keep)).catch((sendErr: unknown) =>
          deps.logger.warn('slash command answer not delivered', {
            code: e.code,
            error: (sendErr as Error).message,
          }),
        );
      }
    });
  });
}
