// Reading the bot's Slack messages in tests: what a person would see, and which buttons are offered.
import type { StoredMessage } from './slack-emulator/index.js';

/** The blocks and the fallback text, as one searchable string. */
export const textOf = (m: StoredMessage): string => JSON.stringify(m.blocks) + m.text;

export const hasButton = (m: StoredMessage, actionId: string): boolean =>
  JSON.stringify(m.blocks).includes(`"action_id":"${actionId}"`);
