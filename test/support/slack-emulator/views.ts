// Modals and the App Home tab, with Slack's limits and Slack's refusals (error codes from the method
// pages on docs.slack.dev: views.open, views.push, views.update, views.publish):
// - a trigger_id (handed out with each slash command, click and submission) opens or pushes one view,
//   once, within 3 s: invalid_trigger_id, exchanged_trigger_id, expired_trigger_id;
// - a modal has a title, and submit and close labels, of at most 24 characters; an input block needs
//   a submit label; at most 100 blocks; private_metadata ≤ 3000, callback_id and external_id ≤ 255
//   characters; a view over 250 kB is view_too_large;
// - at most 3 modals stacked per user (push_limit_reached); a stale hash is hash_conflict;
// - views.publish sets one user's Home tab (type home).
// An invalid view answers invalid_arguments with response_metadata.messages pointing into /view,
// the way Slack reports it. The views methods are Tier 4 (100+ per minute): one bucket per method.
//
// Decisions where Slack is vague: a modal's submit label is required only when it has an input
// block (Slack refuses a modal with inputs and no submit); a trigger is per user and per app, so the
// emulator refuses one used for another user's modal as invalid_trigger_id.

import { randomBytes } from 'node:crypto';
import { checkBlocks, textLength } from './block-kit.js';
import { type ApiAnswer, type ApiContext, type Args, fail, ok, rateLimited } from './context.js';
import type { Json, JsonObject } from './types.js';
import type { Workspace } from './workspace.js';

export const MAX_VIEW_BLOCKS = 100;
export const MAX_VIEW_BYTES = 250_000;
export const MAX_STACK = 3;
export const TRIGGER_TTL_MS = 3000;

export interface StoredView {
  id: string;
  team_id: string;
  app_id: string;
  bot_id: string;
  type: 'modal' | 'home';
  /** The user who sees it. */
  user: string;
  title?: JsonObject;
  submit?: JsonObject;
  close?: JsonObject;
  blocks: JsonObject[];
  callback_id: string;
  private_metadata: string;
  external_id: string;
  notify_on_close: boolean;
  clear_on_close: boolean;
  hash: string;
  root_view_id: string | null;
  previous_view_id: string | null;
  state: { values: JsonObject };
  /** What the bot said with response_action: errors, by block_id, until the next change. */
  errors?: Record<string, string>;
  /**
   * What the user chose so far, by input block_id (chooseInView), with the element's action_id:
   * Slack keeps it across views.update only where the new view has an input with both ids unchanged.
   */
  input: Record<string, { actionId: string; given: string | string[] }>;
  /** How many times the bot replaced it (views.update, response_action: update). */
  updates: number;
}

interface Trigger {
  userId: string;
  issuedAt: number;
  exchanged: boolean;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every view, trigger, modal stack and Home tab of the workspace. */
export class ViewStore {
  private readonly triggers = new Map<string, Trigger>();
  private readonly byId = new Map<string, StoredView>();
  private readonly stacks = new Map<string, string[]>();
  private readonly homes = new Map<string, string>();
  private counter = 0;

  constructor(
    readonly triggerTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A trigger_id in Slack's shape ("<digits>.<digits>.<hex>"), for one user. */
  issueTrigger(userId: string): string {
    const id = `${this.now()}.${Math.floor(Math.random() * 1e10)}.${randomBytes(16).toString('hex')}`;
    this.triggers.set(id, { userId, issuedAt: this.now(), exchanged: false });
    return id;
  }

  /** Uses a trigger up: the user whose modal it opens, or Slack's error. */
  exchange(triggerId: string | undefined): { userId: string } | { error: string } {
    if (!triggerId) return { error: 'invalid_arguments' };
    if (!/^\d+\.\d+\.[0-9a-f]+$/.test(triggerId)) return { error: 'invalid_trigger_id' };
    const t = this.triggers.get(triggerId);
    if (!t) return { error: 'invalid_trigger_id' };
    if (t.exchanged) return { error: 'exchanged_trigger_id' };
    if (this.now() - t.issuedAt > this.triggerTtlMs) return { error: 'expired_trigger_id' };
    t.exchanged = true;
    return { userId: t.userId };
  }

  get(id: string): StoredView | undefined {
    return this.byId.get(id);
  }

  byExternalId(externalId: string): StoredView | undefined {
    for (const v of this.byId.values()) if (v.external_id === externalId) return v;
    return undefined;
  }

  /** The user's open modals, root first. */
  stack(userId: string): StoredView[] {
    return (this.stacks.get(userId) ?? []).flatMap((id) => this.byId.get(id) ?? []);
  }

  home(userId: string): StoredView | undefined {
    const id = this.homes.get(userId);
    return id ? this.byId.get(id) : undefined;
  }

  externalIdTaken(externalId: string, except?: string): boolean {
    return (
      externalId !== '' &&
      [...this.byId.values()].some((v) => v.external_id === externalId && v.id !== except)
    );
  }

  private newId(): string {
    this.counter += 1;
    return `V0EMU${String(this.counter).padStart(6, '0')}`;
  }

  create(ws: Workspace, userId: string, view: CheckedView, under?: StoredView): StoredView {
    const id = this.newId();
    const stored: StoredView = {
      ...view,
      id,
      team_id: ws.teamId,
      app_id: ws.appId,
      bot_id: ws.botId,
      user: userId,
      hash: newHash(),
      root_view_id: view.type === 'modal' ? (under?.root_view_id ?? id) : null,
      previous_view_id: under?.id ?? null,
      state: { values: {} },
      updates: 0,
      input: {},
    };
    this.byId.set(id, stored);
    if (view.type === 'home') {
      const old = this.homes.get(userId);
      if (old) this.byId.delete(old);
      this.homes.set(userId, id);
    } else {
      const ids = under ? (this.stacks.get(userId) ?? []) : [];
      this.stacks.set(userId, [...ids, id]);
    }
    return stored;
  }

  /**
   * Replaces a view's content: same id, a new hash, errors cleared. The user's input is kept for the
   * inputs whose block_id and action_id are the same in the new view (Slack's "preserving input"),
   * and dropped for the others.
   */
  replace(stored: StoredView, view: CheckedView): StoredView {
    const kept = Object.fromEntries(
      Object.entries(stored.input).filter(([blockId, { actionId }]) =>
        view.blocks.some(
          (b) =>
            b.type === 'input' &&
            b.block_id === blockId &&
            isObject(b.element) &&
            b.element.action_id === actionId,
        ),
      ),
    );
    Object.assign(stored, view, {
      hash: newHash(),
      state: { values: {} },
      input: kept,
      updates: stored.updates + 1,
    });
    delete stored.errors;
    return stored;
  }

  /** Closes the top modal (or every modal of the user with all). */
  close(userId: string, all = false): StoredView[] {
    const ids = this.stacks.get(userId) ?? [];
    const closing = all ? ids : ids.slice(-1);
    this.stacks.set(userId, all ? [] : ids.slice(0, -1));
    return closing.flatMap((id) => this.byId.get(id) ?? []);
  }
}

const newHash = () => `${Math.floor(Date.now() / 1000)}.${randomBytes(6).toString('hex')}`;

/** A view as the bot sent it, checked and normalized (block and action ids filled in). */
export type CheckedView = Pick<
  StoredView,
  | 'type'
  | 'title'
  | 'submit'
  | 'close'
  | 'blocks'
  | 'callback_id'
  | 'private_metadata'
  | 'external_id'
  | 'notify_on_close'
  | 'clear_on_close'
>;

type ViewCheck = { ok: true; view: CheckedView } | { ok: false; answer: ApiAnswer };

const invalid = (messages: string[]): ViewCheck => ({
  ok: false,
  answer: fail(
    'invalid_arguments',
    messages.map((m) => (m.startsWith('[ERROR]') ? m : `[ERROR] ${m}`)),
  ),
});

/** Checks a `view` argument (a JSON string or an object) against Slack's rules for its type. */
export function checkView(raw: Json | undefined, expect: 'modal' | 'home'): ViewCheck {
  let value: Json | undefined = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw) as Json;
    } catch {
      return invalid(['failed to parse json [json-pointer:/view]']);
    }
  }
  if (value === undefined || value === null || value === '') return invalid(['missing required field: view']);
  if (!isObject(value)) return invalid(['must provide an object [json-pointer:/view]']);
  if (Buffer.byteLength(JSON.stringify(value)) > MAX_VIEW_BYTES)
    return { ok: false, answer: fail('view_too_large') };
  const errors: string[] = [];
  const at = (ptr: string) => `[json-pointer:/view${ptr}]`;
  if (value.type !== expect) errors.push(`must be ${expect} ${at('/type')}`);

  const label = (key: 'title' | 'submit' | 'close', required: boolean): JsonObject | undefined => {
    const v = value[key];
    if (v === undefined) {
      if (required) errors.push(`missing required field: ${key} ${at('')}`);
      return undefined;
    }
    if (!isObject(v) || v.type !== 'plain_text' || typeof v.text !== 'string') {
      errors.push(`must provide a plain_text object ${at(`/${key}`)}`);
      return undefined;
    }
    const n = textLength(v.text);
    if (n === 0) errors.push(`must be at least 1 character ${at(`/${key}/text`)}`);
    if (n > 24) errors.push(`must be less than 25 characters ${at(`/${key}/text`)}`);
    return v;
  };
  const str = (key: string, max: number): string => {
    const v = value[key];
    if (v === undefined) return '';
    if (typeof v !== 'string') {
      errors.push(`must provide a string ${at(`/${key}`)}`);
      return '';
    }
    if (textLength(v) > max) errors.push(`must be less than ${max + 1} characters ${at(`/${key}`)}`);
    return v;
  };

  const blocksRaw = value.blocks;
  let blocks: JsonObject[] = [];
  if (!Array.isArray(blocksRaw)) errors.push(`missing required field: blocks ${at('')}`);
  else {
    const checked = checkBlocks(blocksRaw, { maxBlocks: MAX_VIEW_BLOCKS });
    if (checked.ok) blocks = checked.blocks;
    else
      errors.push(
        ...checked.messages.map((m) =>
          m.replace('[ERROR] ', '').replace('[json-pointer:/blocks', '[json-pointer:/view/blocks'),
        ),
      );
  }
  const hasInput = blocks.some((b) => b.type === 'input');
  const view: CheckedView = {
    type: expect,
    blocks,
    callback_id: str('callback_id', 255),
    private_metadata: str('private_metadata', 3000),
    external_id: str('external_id', 255),
    notify_on_close: value.notify_on_close === true,
    clear_on_close: value.clear_on_close === true,
  };
  if (expect === 'modal') {
    const title = label('title', true);
    const submit = label('submit', hasInput);
    const close = label('close', false);
    if (title) view.title = title;
    if (submit) view.submit = submit;
    if (close) view.close = close;
  }
  return errors.length ? invalid(errors) : { ok: true, view };
}

/** The view as Slack returns it from the API and in payloads. */
export function publicView(v: StoredView): JsonObject {
  const { user: _user, errors: _errors, updates: _updates, input: _input, ...rest } = v;
  return structuredClone(rest) as unknown as JsonObject;
}

function limited(ctx: ApiContext, method: string): ApiAnswer | undefined {
  const wait = ctx.viewsLimiter.take(method);
  return wait > 0 ? rateLimited(wait) : undefined;
}

export function viewsOpen(ctx: ApiContext, a: Args): ApiAnswer {
  const limit = limited(ctx, 'views.open');
  if (limit) return limit;
  const trigger = ctx.ws.views.exchange(a.str('trigger_id') ?? a.str('interactivity_pointer'));
  if ('error' in trigger) return fail(trigger.error);
  const checked = checkView(a.raw.view as Json | undefined, 'modal');
  if (!checked.ok) return checked.answer;
  if (ctx.ws.views.externalIdTaken(checked.view.external_id)) return fail('duplicate_external_id');
  const stored = ctx.ws.views.create(ctx.ws, trigger.userId, checked.view);
  return ok({ view: publicView(stored) });
}

export function viewsPush(ctx: ApiContext, a: Args): ApiAnswer {
  const limit = limited(ctx, 'views.push');
  if (limit) return limit;
  const trigger = ctx.ws.views.exchange(a.str('trigger_id') ?? a.str('interactivity_pointer'));
  if ('error' in trigger) return fail(trigger.error);
  const stack = ctx.ws.views.stack(trigger.userId);
  const top = stack.at(-1);
  if (!top) return fail('not_found');
  if (stack.length >= MAX_STACK) return fail('push_limit_reached');
  const checked = checkView(a.raw.view as Json | undefined, 'modal');
  if (!checked.ok) return checked.answer;
  if (ctx.ws.views.externalIdTaken(checked.view.external_id)) return fail('duplicate_external_id');
  return ok({ view: publicView(ctx.ws.views.create(ctx.ws, trigger.userId, checked.view, top)) });
}

export function viewsUpdate(ctx: ApiContext, a: Args): ApiAnswer {
  const limit = limited(ctx, 'views.update');
  if (limit) return limit;
  const { views } = ctx.ws;
  const id = a.str('view_id');
  const external = a.str('external_id');
  if (!id && !external) return fail('invalid_arguments', ['[ERROR] view_id or external_id is required']);
  const stored = id ? views.get(id) : views.byExternalId(external ?? '');
  if (!stored) return fail('not_found');
  const hash = a.str('hash');
  if (hash !== undefined && hash !== stored.hash) return fail('hash_conflict');
  const checked = checkView(a.raw.view as Json | undefined, stored.type);
  if (!checked.ok) return checked.answer;
  if (views.externalIdTaken(checked.view.external_id, stored.id)) return fail('duplicate_external_id');
  return ok({ view: publicView(views.replace(stored, checked.view)) });
}

export function viewsPublish(ctx: ApiContext, a: Args): ApiAnswer {
  const limit = limited(ctx, 'views.publish');
  if (limit) return limit;
  const { ws } = ctx;
  const userId = a.str('user_id');
  if (!userId) return fail('invalid_arguments', ['[ERROR] missing required field: user_id']);
  if (!ws.users.has(userId)) return fail('user_not_found');
  const current = ws.views.home(userId);
  const hash = a.str('hash');
  if (hash !== undefined && current && hash !== current.hash) return fail('hash_conflict');
  const checked = checkView(a.raw.view as Json | undefined, 'home');
  if (!checked.ok) return checked.answer;
  const stored = current
    ? ws.views.replace(current, checked.view)
    : ws.views.create(ws, userId, checked.view);
  return ok({ view: publicView(stored) });
}
