// Block Kit validation with Slack's limits and Slack's way of saying no: `invalid_blocks` plus
// response_metadata.messages such as
//   "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]".
// Limits come from the Block Kit reference and @slack/types (see /work/shared/research/slack-facts.md §4).
// Lengths are counted in Unicode code points.
//
// One deliberate difference: Slack documents action_id as unique within its *block*; the emulator
// requires it unique across the whole *message*, so that a test clicking "the button with action_id X"
// is never ambiguous. Real Slack would accept such a message; a bot that needs duplicates should not.
//
// Valid blocks come back normalized the way Slack stores them: every block gets a block_id and every
// interactive element an action_id (Slack generates short random ones when they are absent).

import { randomBytes } from 'node:crypto';
import type { Json, JsonObject } from './types.js';

export const MAX_BLOCKS = 50;
export const MAX_TOTAL_BLOCK_TEXT = 12_000;

export type BlocksResult =
  | { ok: true; blocks: JsonObject[] }
  | {
      ok: false;
      error: 'invalid_blocks' | 'invalid_blocks_format' | 'msg_blocks_too_long';
      messages: string[];
    };

const BLOCK_TYPES = new Set([
  'section',
  'header',
  'context',
  'actions',
  'divider',
  'rich_text',
  'image',
  'markdown',
  'input',
]);

const SELECTS = [
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
];
const ACTIONS_ELEMENTS = new Set([
  'button',
  'checkboxes',
  'datepicker',
  'datetimepicker',
  'overflow',
  'radio_buttons',
  'timepicker',
  'workflow_button',
  ...SELECTS,
]);
const ACCESSORY_ELEMENTS = new Set([
  'button',
  'checkboxes',
  'datepicker',
  'image',
  'overflow',
  'radio_buttons',
  'timepicker',
  'workflow_button',
  ...SELECTS,
]);
const INPUT_ELEMENTS = new Set([
  'checkboxes',
  'datepicker',
  'datetimepicker',
  'email_text_input',
  'file_input',
  'number_input',
  'plain_text_input',
  'radio_buttons',
  'rich_text_input',
  'timepicker',
  'url_text_input',
  ...SELECTS,
]);
const RICH_TEXT_ELEMENTS = new Set([
  'rich_text_section',
  'rich_text_list',
  'rich_text_preformatted',
  'rich_text_quote',
]);

export const textLength = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly errors: string[] = [];
  readonly blockIds = new Set<string>();
  readonly actionIds = new Set<string>();

  fail(message: string, pointer: string): void {
    this.errors.push(`${message} [json-pointer:${pointer}]`);
  }

  /** A string field: required or not, with a maximum (and minimum 1 when present). */
  str(obj: JsonObject, key: string, ptr: string, max: number, required: boolean): string | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (required) this.fail(`missing required field: ${key}`, ptr);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.fail('must provide a string', `${ptr}/${key}`);
      return undefined;
    }
    const n = textLength(v);
    if (n === 0) this.fail('must be more than 0 characters', `${ptr}/${key}`);
    else if (n > max) this.fail(`must be less than ${max + 1} characters`, `${ptr}/${key}`);
    return v;
  }

  /** A composition text object: {type: plain_text|mrkdwn, text}. */
  text(v: Json | undefined, ptr: string, max: number, plainOnly: boolean): void {
    if (!isObject(v)) {
      this.fail('must provide an object', ptr);
      return;
    }
    const type = v.type;
    if (type === undefined) this.fail('missing required field: type', ptr);
    else if (type !== 'plain_text' && type !== 'mrkdwn')
      this.fail('must be a valid enum value', `${ptr}/type`);
    else if (plainOnly && type !== 'plain_text') this.fail('must be a valid enum value', `${ptr}/type`);
    this.str(v, 'text', ptr, max, true);
  }

  optionalText(obj: JsonObject, key: string, ptr: string, max: number, plainOnly: boolean): void {
    if (obj[key] !== undefined) this.text(obj[key], `${ptr}/${key}`, max, plainOnly);
  }

  array(
    obj: JsonObject,
    key: string,
    ptr: string,
    min: number,
    max: number,
    required: boolean,
  ): Json[] | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (required) this.fail(`missing required field: ${key}`, ptr);
      return undefined;
    }
    if (!Array.isArray(v)) {
      this.fail('must provide an array', `${ptr}/${key}`);
      return undefined;
    }
    if (v.length < min) this.fail(`must provide at least ${min} items`, `${ptr}/${key}`);
    if (v.length > max) this.fail(`no more than ${max} items allowed`, `${ptr}/${key}`);
    return v;
  }

  blocks(blocks: Json[], max = MAX_BLOCKS): void {
    if (blocks.length > max) this.fail(`no more than ${max} items allowed`, '/blocks');
    blocks.forEach((b, i) => {
      this.block(b, `/blocks/${i}`);
    });
  }

  block(b: Json, ptr: string): void {
    if (!isObject(b)) {
      this.fail('must provide an object', ptr);
      return;
    }
    const type = b.type;
    if (typeof type !== 'string') {
      this.fail('missing required field: type', ptr);
      return;
    }
    if (!BLOCK_TYPES.has(type)) {
      this.fail(`unsupported type: ${type}`, `${ptr}/type`);
      return;
    }
    const blockId = this.str(b, 'block_id', ptr, 255, false);
    if (blockId !== undefined) {
      if (this.blockIds.has(blockId)) this.fail(`duplicate block_id: ${blockId}`, `${ptr}/block_id`);
      this.blockIds.add(blockId);
    }
    switch (type) {
      case 'section':
        this.section(b, ptr);
        return;
      case 'header':
        this.text(b.text, `${ptr}/text`, 150, true);
        return;
      case 'context': {
        const elements = this.array(b, 'elements', ptr, 1, 10, true) ?? [];
        elements.forEach((e, i) => {
          const p = `${ptr}/elements/${i}`;
          if (isObject(e) && e.type === 'image') this.image(e, p);
          else this.text(e, p, 3000, false);
        });
        return;
      }
      case 'actions': {
        const elements = this.array(b, 'elements', ptr, 1, 25, true) ?? [];
        elements.forEach((e, i) => {
          this.element(e, `${ptr}/elements/${i}`, ACTIONS_ELEMENTS);
        });
        return;
      }
      case 'divider':
        return;
      case 'image':
        this.str(b, 'image_url', ptr, 3000, b.slack_file === undefined);
        this.str(b, 'alt_text', ptr, 2000, true);
        this.optionalText(b, 'title', ptr, 2000, true);
        return;
      case 'rich_text': {
        const elements = this.array(b, 'elements', ptr, 1, 100, true) ?? [];
        elements.forEach((e, i) => {
          const p = `${ptr}/elements/${i}`;
          if (!isObject(e)) this.fail('must provide an object', p);
          else if (typeof e.type !== 'string' || !RICH_TEXT_ELEMENTS.has(e.type))
            this.fail(`unsupported type: ${String(e.type)}`, `${p}/type`);
        });
        return;
      }
      case 'markdown':
        this.str(b, 'text', ptr, 12_000, true);
        return;
      case 'input':
        this.text(b.label, `${ptr}/label`, 2000, true);
        this.optionalText(b, 'hint', ptr, 2000, true);
        if (b.dispatch_action !== undefined && typeof b.dispatch_action !== 'boolean')
          this.fail('must be a boolean', `${ptr}/dispatch_action`);
        if (b.element === undefined) this.fail('missing required field: element', ptr);
        else this.element(b.element, `${ptr}/element`, INPUT_ELEMENTS);
        return;
    }
  }

  section(b: JsonObject, ptr: string): void {
    if (b.text === undefined && b.fields === undefined) {
      this.fail('must define either `text` or `fields`', `${ptr}/type`);
    }
    if (b.text !== undefined) this.text(b.text, `${ptr}/text`, 3000, false);
    const fields = this.array(b, 'fields', ptr, 1, 10, false) ?? [];
    fields.forEach((f, i) => {
      this.text(f, `${ptr}/fields/${i}`, 2000, false);
    });
    if (b.accessory !== undefined) this.element(b.accessory, `${ptr}/accessory`, ACCESSORY_ELEMENTS);
  }

  image(e: JsonObject, ptr: string): void {
    this.str(e, 'image_url', ptr, 3000, e.slack_file === undefined);
    this.str(e, 'alt_text', ptr, 2000, true);
  }

  element(e: Json, ptr: string, allowed: Set<string>): void {
    if (!isObject(e)) {
      this.fail('must provide an object', ptr);
      return;
    }
    const type = e.type;
    if (typeof type !== 'string') {
      this.fail('missing required field: type', ptr);
      return;
    }
    if (!allowed.has(type)) {
      this.fail(`unsupported type: ${type}`, `${ptr}/type`);
      return;
    }
    if (type === 'image') {
      this.image(e, ptr);
      return;
    }
    const actionId = this.str(e, 'action_id', ptr, 255, false);
    if (actionId !== undefined) {
      if (this.actionIds.has(actionId)) this.fail(`duplicate action_id: ${actionId}`, `${ptr}/action_id`);
      this.actionIds.add(actionId);
    }
    if (e.confirm !== undefined) this.confirm(e.confirm, `${ptr}/confirm`);
    this.optionalText(e, 'placeholder', ptr, 150, true);
    switch (type) {
      case 'button':
        this.text(e.text, `${ptr}/text`, 75, true);
        this.str(e, 'value', ptr, 2000, false);
        this.str(e, 'url', ptr, 3000, false);
        this.str(e, 'accessibility_label', ptr, 75, false);
        if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger')
          this.fail('must be a valid enum value', `${ptr}/style`);
        return;
      case 'checkboxes':
      case 'radio_buttons':
        this.choices(e, ptr, type === 'checkboxes' ? 'initial_options' : 'initial_option', false, 10);
        return;
      case 'overflow':
        this.array(e, 'options', ptr, 2, 5, true)?.forEach((o, i) => {
          this.option(o, `${ptr}/options/${i}`, true);
        });
        return;
      case 'static_select':
      case 'multi_static_select':
        this.selectOptions(e, ptr, type === 'static_select' ? 'initial_option' : 'initial_options');
        return;
    }
  }

  confirm(c: Json, ptr: string): void {
    if (!isObject(c)) {
      this.fail('must provide an object', ptr);
      return;
    }
    this.text(c.title, `${ptr}/title`, 100, true);
    this.text(c.text, `${ptr}/text`, 300, false);
    this.text(c.confirm, `${ptr}/confirm`, 30, true);
    this.text(c.deny, `${ptr}/deny`, 30, true);
    if (c.style !== undefined && c.style !== 'primary' && c.style !== 'danger')
      this.fail('must be a valid enum value', `${ptr}/style`);
  }

  option(o: Json, ptr: string, plainOnly: boolean): void {
    if (!isObject(o)) {
      this.fail('must provide an object', ptr);
      return;
    }
    this.text(o.text, `${ptr}/text`, 75, plainOnly);
    this.str(o, 'value', ptr, 150, true);
    this.optionalText(o, 'description', ptr, 75, plainOnly);
  }

  /** checkboxes / radio_buttons: options 1..max, initial option(s) must be among them. */
  choices(e: JsonObject, ptr: string, initialKey: string, plainOnly: boolean, max: number): void {
    const options = this.array(e, 'options', ptr, 1, max, true) ?? [];
    options.forEach((o, i) => {
      this.option(o, `${ptr}/options/${i}`, plainOnly);
    });
    this.initial(e, ptr, initialKey, options);
  }

  selectOptions(e: JsonObject, ptr: string, initialKey: string): void {
    let all: Json[] = [];
    if (e.options !== undefined) {
      all = this.array(e, 'options', ptr, 1, 100, true) ?? [];
      all.forEach((o, i) => {
        this.option(o, `${ptr}/options/${i}`, true);
      });
    } else if (e.option_groups !== undefined) {
      const groups = this.array(e, 'option_groups', ptr, 1, 100, true) ?? [];
      groups.forEach((g, gi) => {
        const gp = `${ptr}/option_groups/${gi}`;
        if (!isObject(g)) {
          this.fail('must provide an object', gp);
          return;
        }
        this.text(g.label, `${gp}/label`, 75, true);
        const opts = this.array(g, 'options', gp, 1, 100, true) ?? [];
        opts.forEach((o, i) => {
          this.option(o, `${gp}/options/${i}`, true);
        });
        all = all.concat(opts);
      });
    } else {
      this.fail('missing required field: options', ptr);
    }
    this.initial(e, ptr, initialKey, all);
  }

  initial(e: JsonObject, ptr: string, key: string, options: Json[]): void {
    const v = e[key];
    if (v === undefined) return;
    const list = key === 'initial_options' ? v : [v];
    if (!Array.isArray(list)) {
      this.fail('must provide an array', `${ptr}/${key}`);
      return;
    }
    list.forEach((chosen, i) => {
      const p = key === 'initial_options' ? `${ptr}/${key}/${i}` : `${ptr}/${key}`;
      if (!options.some((o) => sameOption(o, chosen))) this.fail('must match one of the provided options', p);
    });
  }
}

function sameOption(a: Json, b: Json): boolean {
  if (!isObject(a) || !isObject(b)) return false;
  const ta = isObject(a.text) ? a.text.text : undefined;
  const tb = isObject(b.text) ? b.text.text : undefined;
  return a.value === b.value && ta === tb;
}

/** Sum of every `text` string in the tree, Slack's rough measure behind msg_blocks_too_long. */
export function totalText(v: Json): number {
  if (Array.isArray(v)) return v.reduce<number>((n, x) => n + totalText(x), 0);
  if (!isObject(v)) return 0;
  let n = 0;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'text' && typeof x === 'string') n += textLength(x);
    else n += totalText(x);
  }
  return n;
}

function generatedId(taken: Set<string>): string {
  for (;;) {
    const id = randomBytes(4).toString('base64url').slice(0, 5);
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

/** Fills in block_id / action_id the way Slack does when they are missing. Mutates its argument. */
function fillIds(blocks: JsonObject[], blockIds: Set<string>, actionIds: Set<string>): void {
  const fillElement = (e: Json | undefined) => {
    if (isObject(e) && typeof e.type === 'string' && e.type !== 'image' && e.action_id === undefined) {
      e.action_id = generatedId(actionIds);
    }
  };
  for (const b of blocks) {
    if (b.block_id === undefined) b.block_id = generatedId(blockIds);
    if (b.type === 'actions' && Array.isArray(b.elements)) b.elements.forEach(fillElement);
    if (b.type === 'section') fillElement(b.accessory);
    if (b.type === 'input') fillElement(b.element);
  }
}

/**
 * Decodes a `blocks` argument as it arrives over HTTP: a JSON string (form-encoded, what
 * @slack/web-api sends) or an already-parsed array (JSON body).
 * Returns undefined when the argument is absent.
 */
export function decodeBlocksArg(
  raw: unknown,
): { value: Json } | { error: 'invalid_blocks_format' } | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'string') {
    try {
      return { value: JSON.parse(raw) as Json };
    } catch {
      return { error: 'invalid_blocks_format' };
    }
  }
  return { value: raw as Json };
}

/**
 * Validates a decoded blocks value; on success returns a normalized deep copy. A message holds 50
 * blocks and 12,000 characters of text; a modal or Home tab 100 blocks and no text total (views.ts).
 */
export function checkBlocks(
  value: Json,
  limits: { maxBlocks: number; maxTotalText?: number } = {
    maxBlocks: MAX_BLOCKS,
    maxTotalText: MAX_TOTAL_BLOCK_TEXT,
  },
): BlocksResult {
  if (!Array.isArray(value)) {
    return {
      ok: false,
      error: 'invalid_blocks_format',
      messages: ['[ERROR] must provide an array [json-pointer:/blocks]'],
    };
  }
  const checker = new Checker();
  checker.blocks(value, limits.maxBlocks);
  if (checker.errors.length > 0) {
    return { ok: false, error: 'invalid_blocks', messages: checker.errors.map((m) => `[ERROR] ${m}`) };
  }
  const total = totalText(value);
  if (limits.maxTotalText !== undefined && total > limits.maxTotalText) {
    return {
      ok: false,
      error: 'msg_blocks_too_long',
      messages: [`[ERROR] blocks hold ${total} characters of text; the limit is ${limits.maxTotalText}`],
    };
  }
  const blocks = structuredClone(value) as JsonObject[];
  fillIds(blocks, checker.blockIds, checker.actionIds);
  return { ok: true, blocks };
}

/** Finds an interactive element by action_id in stored (normalized) blocks. */
export function findElement(
  blocks: JsonObject[],
  actionId: string,
): { element: JsonObject; blockId: string } | undefined {
  for (const b of blocks) {
    const candidates: Json[] = [];
    if (Array.isArray(b.elements) && b.type === 'actions') candidates.push(...b.elements);
    if (b.accessory !== undefined) candidates.push(b.accessory);
    if (b.element !== undefined) candidates.push(b.element);
    for (const e of candidates) {
      if (isObject(e) && e.action_id === actionId) return { element: e, blockId: String(b.block_id) };
    }
  }
  return undefined;
}
