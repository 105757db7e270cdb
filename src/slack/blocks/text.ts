import type { types } from '@slack/bolt';
import { escapeMrkdwn } from '../../escape-mrkdwn.js';

export type KnownBlock = types.KnownBlock;

/** Cuts text to Slack's limit for the field, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export const section = (text: string): KnownBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: clip(text, 3000) },
});
export const context = (text: string): KnownBlock => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text: clip(text, 3000) }],
});
export const header = (text: string): KnownBlock => ({
  type: 'header',
  text: { type: 'plain_text', text: clip(text, 150) },
});

export const utc = (iso: string | undefined) => (iso ? `${iso.slice(11, 19)} UTC` : '');

/**
 * A code block that stays inside one section's 3000 characters. Its lines are data (pod names, log
 * lines, images, evidence), so each is escaped: none can end the block or ping from inside it.
 */
export function code(lines: string[], max = 2900): string {
  const body = clip(lines.map(escapeMrkdwn).join('\n'), max - 8);
  return `\`\`\`${body}\`\`\``;
}

export const STATE_LABEL: Record<string, string> = {
  requested: ':hourglass_flowing_sand: requested',
  assessing: ':mag: assessing',
  awaiting_approval: ':raised_hand: awaiting approval',
  notifying: ':mega: notifying',
  awaiting_migration_approval: ':raised_hand: awaiting approval of the database downgrade',
  migrating: ':card_file_box: migrating the database',
  undoing: ':rewind: rolling back',
  verifying: ':stethoscope: verifying',
  reporting: ':memo: reporting',
  completed: ':white_check_mark: completed',
  cancelled: ':no_entry_sign: cancelled',
  failed: ':x: failed',
};
