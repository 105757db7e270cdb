// The pause switch in Slack: the Pause button an automatic incident's first message offers the
// approvers, what replaces it once someone paused (who, until when, and Resume), once resumed, and
// the channel's note when a pause lapsed. Pure: the pause, the service name and how long a pause
// lasts ("4 h") in, Block Kit out.
import type { Pause } from '../../rollback/ports.js';
import { ACTION, BLOCK } from '../ids.js';
import { context, type KnownBlock } from './text.js';

/** "2026-12-07 05:12 UTC": a pause lasts hours, so the date matters when it is read the next day. */
const when = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

const button = (
  actionId: string,
  label: string,
  service: string,
  confirm?: { title: string; text: string },
) => ({
  type: 'button' as const,
  action_id: actionId,
  text: { type: 'plain_text' as const, text: label },
  value: service,
  ...(confirm
    ? {
        confirm: {
          title: { type: 'plain_text' as const, text: confirm.title },
          text: { type: 'mrkdwn' as const, text: confirm.text },
          confirm: { type: 'plain_text' as const, text: label },
          deny: { type: 'plain_text' as const, text: 'Not yet' },
        },
      }
    : {}),
});

/** Offered on an automatic incident: approvers may hold the bot back while they work by hand. */
export function buildPauseOffer(service: string, lasts: string): KnownBlock[] {
  return [
    {
      type: 'actions',
      block_id: BLOCK.pause,
      elements: [
        button(ACTION.pause, `Pause auto-rollbacks for ${lasts}`, service, {
          title: 'Pause automatic rollbacks?',
          text: `For ${lasts} the bot will not roll \`${service}\` back on its own: signals still open incidents and propose rollbacks for an approver. It can be lifted early.`,
        }),
      ],
    },
  ];
}

/** While paused (or when a paused service's incident opens): who paused, until when, and Resume. */
export function buildPaused(service: string, p?: Pause): KnownBlock[] {
  const line = p
    ? `:double_vertical_bar: Automatic rollbacks of \`${service}\` paused by <@${p.by.id}> until ${when(p.until)}: signals propose, nothing is rolled back alone.`
    : `:double_vertical_bar: Automatic rollbacks of \`${service}\` are paused: signals propose, nothing is rolled back alone.`;
  return [
    { ...context(line), block_id: BLOCK.paused },
    {
      type: 'actions',
      block_id: BLOCK.pause,
      elements: [button(ACTION.resume, 'Resume auto-rollbacks', service)],
    },
  ];
}

/** Once resumed: who lifted it (the Pause button is offered again). */
export function buildResumed(service: string, by: string, lasts: string): KnownBlock[] {
  return [
    {
      ...context(`:arrow_forward: Automatic rollbacks of \`${service}\` resumed by <@${by}>.`),
      block_id: BLOCK.paused,
    },
    ...buildPauseOffer(service, lasts),
  ];
}

/** Said in the service's channel when a pause ran out: the bot may act alone again (and Pause). */
export function buildLapsed(p: Pause, lasts: string): KnownBlock[] {
  return [
    {
      ...context(
        `:arrow_forward: The pause of automatic rollbacks of \`${p.service}\` by <@${p.by.id}> lapsed at ${when(p.until)}: the bot rolls it back on its own again when its signals say so.`,
      ),
      block_id: BLOCK.paused,
    },
    ...buildPauseOffer(p.service, lasts),
  ];
}
