// What `/rollback <service>` and the modal's submission do once the request was checked: the root
// message in the channel (its thread is the rollback's), then the request. A request the runner
// refuses after the root was posted turns the root into "Not started: …", so nothing is left looking
// as if it runs.
import type { webApi } from '@slack/bolt';
import { asCodedError } from '../../errors.js';
import { escapeMrkdwn } from '../../escape-mrkdwn.js';
import type { Actor } from '../../rollback/model.js';
import type { Runner } from '../../rollback/runner.js';
import { buildError, errorText } from '../blocks/reply-blocks.js';
import { section } from '../blocks/text.js';
import type { RootPoster } from '../notifier.js';

/** Whether a catalog channel (an id, or a #name) is where the person typed (its id and name). */
export function inChannel(channel: string, id: string, name: string | undefined): boolean {
  return channel === id || channel.replace(/^#/, '') === name;
}

export interface StartRequest {
  service: string;
  toRevision: number;
  dryRun: boolean;
  reason: string;
}

export async function startRollback(
  deps: { runner: Runner; postRoot: RootPoster },
  client: webApi.WebClient,
  o: { channel: string; actor: Actor; request: StartRequest; keep: ReadonlySet<string> },
): Promise<void> {
  const { request: cmd, actor } = o;
  const root = await deps.postRoot({
    channel: o.channel,
    text: `Rollback of ${cmd.service} requested by <@${actor.id}>`,
    blocks: [
      section(
        `:hourglass_flowing_sand: *${cmd.dryRun ? 'Dry run: ' : ''}Rollback of \`${cmd.service}\`* requested by <@${actor.id}>${cmd.reason ? `: ${escapeMrkdwn(cmd.reason)}` : ''}. Assessing…`,
      ),
    ],
  });
  const thread = { channel: o.channel, ts: root.ts ?? '' };
  try {
    await deps.runner.request({
      service: cmd.service,
      toRevision: cmd.toRevision,
      dryRun: cmd.dryRun,
      reason: cmd.reason || 'requested in Slack',
      actor,
      thread,
    });
  } catch (err) {
    const e = asCodedError(err);
    await client.chat.update({
      channel: thread.channel,
      ts: thread.ts,
      text: `Not started: ${errorText(e, o.keep)}`,
      blocks: buildError(e, o.keep),
    });
    throw e;
  }
}
