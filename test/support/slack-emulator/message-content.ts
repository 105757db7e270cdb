// The content of a message (text / blocks / attachments / markdown_text) is checked the same way
// wherever it arrives: chat.postMessage, chat.update, chat.postEphemeral, a response_url POST, the
// body of a slash command's ack. One function, so the rules cannot drift apart.

import { checkBlocks, decodeBlocksArg, textLength } from './block-kit.js';
import type { Json, JsonObject } from './types.js';

export interface Content {
  text?: string;
  blocks?: JsonObject[];
  attachments?: JsonObject[];
}

export type ContentResult =
  | { ok: true; content: Content }
  | { ok: false; error: string; messages?: string[] };

export interface RawContent {
  text?: unknown;
  blocks?: unknown;
  attachments?: unknown;
  markdown_text?: unknown;
}

const MAX_ATTACHMENTS = 100;
const MAX_MARKDOWN_TEXT = 12_000;

export function readContent(raw: RawContent): ContentResult {
  const content: Content = {};
  if (typeof raw.text === 'string' || typeof raw.text === 'number') content.text = String(raw.text);

  const markdown =
    typeof raw.markdown_text === 'string' && raw.markdown_text !== '' ? raw.markdown_text : undefined;
  const decodedBlocks = decodeBlocksArg(raw.blocks);
  if (markdown !== undefined) {
    if (content.text !== undefined || decodedBlocks !== undefined)
      return { ok: false, error: 'markdown_text_conflict' };
    if (textLength(markdown) > MAX_MARKDOWN_TEXT) return { ok: false, error: 'msg_too_long' };
    content.text = markdown;
    content.blocks = [{ type: 'markdown', text: markdown }];
  }

  if (decodedBlocks !== undefined) {
    if ('error' in decodedBlocks) return { ok: false, error: decodedBlocks.error };
    const checked = checkBlocks(decodedBlocks.value);
    if (!checked.ok) return { ok: false, error: checked.error, messages: checked.messages };
    content.blocks = checked.blocks;
  }

  if (raw.attachments !== undefined && raw.attachments !== null && raw.attachments !== '') {
    let value: unknown = raw.attachments;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        return { ok: false, error: 'invalid_attachments' };
      }
    }
    if (!Array.isArray(value)) return { ok: false, error: 'invalid_attachments' };
    if (value.length > MAX_ATTACHMENTS) return { ok: false, error: 'too_many_attachments' };
    content.attachments = value as JsonObject[];
  }

  const hasText = content.text !== undefined && content.text !== '';
  const hasBlocks = content.blocks !== undefined && content.blocks.length > 0;
  const hasAttachments = content.attachments !== undefined && content.attachments.length > 0;
  if (!hasText && !hasBlocks && !hasAttachments) return { ok: false, error: 'no_text' };
  return { ok: true, content };
}

/** A JSON-safe copy of decoded call arguments for calls(): JSON strings decoded, Buffers summarized. */
export function argsForLog(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (Buffer.isBuffer(v)) out[k] = `<${v.length} bytes>`;
    else if (
      typeof v === 'string' &&
      /^\s*[[{]/.test(v) &&
      ['blocks', 'attachments', 'files', 'metadata'].includes(k)
    ) {
      try {
        out[k] = JSON.parse(v) as Json;
      } catch {
        out[k] = v;
      }
    } else out[k] = v;
  }
  return out;
}
