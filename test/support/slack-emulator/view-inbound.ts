// What a user does with views, sent to the bot the way Slack sends it:
// - submitting a modal: view_submission with state.values typed by each input's element; the bot's
//   ack decides what happens next (empty: the view closes; response_action errors, update, push or
//   clear). Errors must name input blocks of the submitted view, each with a message, or Slack shows
//   its own "trouble connecting" and keeps the modal as it was; the emulator records a rejection.
// - choosing in a modal's input: kept in the view (and in its state.values from then on); when the
//   input block has dispatch_action, block_actions goes to the bot at once, with container
//   {type: "view"}, the view and its state, and no response_url, as Slack sends it;
// - closing a modal: view_closed, only when the view asked for notify_on_close;
// - opening the App Home tab: the Events API's app_home_opened (a signed JSON event_callback).
// Slack's client checks required inputs and length limits before it sends anything: the emulator
// does the same and answers with the client's errors and no request.

import { randomBytes } from 'node:crypto';
import {
  actionTs,
  type DeliveryOptions,
  deliver,
  type InboundContext,
  requireUser,
  sendInteractive,
} from './inbound.js';
import type { InboundResult, Json, JsonObject } from './types.js';
import { checkView, MAX_STACK, publicView, type StoredView } from './views.js';

export interface SubmitViewOptions extends DeliveryOptions {
  userId: string;
  /** The user's input by block_id: a string, or option values for multi-selects and checkboxes. */
  values?: Record<string, string | string[]>;
}

export type SubmitOutcome =
  /** The client refused before sending (a required input empty, a length limit). */
  | 'client_errors'
  /** The bot did not ack in time or answered non-200: Slack keeps the modal and says so. */
  | 'no_ack'
  /** The bot's ack was not a valid response_action: Slack keeps the modal (a rejection is recorded). */
  | 'refused'
  | 'closed'
  | 'errors'
  | 'updated'
  | 'pushed'
  | 'cleared';

export interface SubmitResult extends InboundResult {
  outcome: SubmitOutcome;
  /** Field errors shown on the modal, by block_id (the client's or the bot's). */
  errors: Record<string, string>;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionsOf(element: JsonObject): JsonObject[] {
  const direct = Array.isArray(element.options) ? element.options : [];
  const grouped = Array.isArray(element.option_groups)
    ? element.option_groups.flatMap((g) => (isObject(g) && Array.isArray(g.options) ? g.options : []))
    : [];
  return [...direct, ...grouped].filter(isObject);
}

function option(element: JsonObject, value: string, blockId: string): JsonObject {
  const found = optionsOf(element).find((o) => o.value === value);
  if (!found) throw new Error(`slack emulator: input ${blockId} has no option with value "${value}"`);
  return found;
}

/** One input's state.values entry, from what the user typed or chose, else the initial value. */
function inputValue(element: JsonObject, blockId: string, given: string | string[] | undefined): JsonObject {
  const type = String(element.type);
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  switch (type) {
    case 'plain_text_input':
    case 'email_text_input':
    case 'url_text_input':
    case 'number_input': {
      const v = one(given) ?? (typeof element.initial_value === 'string' ? element.initial_value : undefined);
      return { type, value: v === undefined || v === '' ? null : v };
    }
    case 'static_select':
    case 'radio_buttons': {
      const v = one(given);
      if (v !== undefined) return { type, selected_option: option(element, v, blockId) };
      return { type, selected_option: isObject(element.initial_option) ? element.initial_option : null };
    }
    case 'checkboxes':
    case 'multi_static_select': {
      if (given !== undefined) {
        const vs = Array.isArray(given) ? given : [given];
        return { type, selected_options: vs.map((v) => option(element, v, blockId)) };
      }
      return {
        type,
        selected_options: Array.isArray(element.initial_options) ? element.initial_options : [],
      };
    }
    default:
      throw new Error(`slack emulator: submitting a ${type} input is not emulated`);
  }
}

const isEmpty = (v: JsonObject): boolean =>
  ('value' in v && v.value === null) ||
  ('selected_option' in v && v.selected_option === null) ||
  ('selected_options' in v && Array.isArray(v.selected_options) && v.selected_options.length === 0);

/** state.values for a submission, and what Slack's client would refuse before sending. */
function stateFor(
  view: StoredView,
  values: Record<string, string | string[]>,
): { values: JsonObject; clientErrors: Record<string, string> } {
  const state: JsonObject = {};
  const clientErrors: Record<string, string> = {};
  const inputs = view.blocks.filter((b) => b.type === 'input');
  for (const blockId of Object.keys(values)) {
    if (!inputs.some((b) => b.block_id === blockId))
      throw new Error(`slack emulator: the modal has no input block "${blockId}"`);
  }
  for (const b of inputs) {
    const blockId = String(b.block_id);
    const element = b.element as JsonObject;
    const v = inputValue(element, blockId, values[blockId]);
    state[blockId] = { [String(element.action_id)]: v };
    if (isEmpty(v) && b.optional !== true) clientErrors[blockId] = 'Please complete this required field.';
    if (typeof v.value === 'string') {
      const n = [...v.value].length;
      if (typeof element.max_length === 'number' && n > element.max_length)
        clientErrors[blockId] = `Please use ${element.max_length} characters or fewer.`;
      if (typeof element.min_length === 'number' && n < element.min_length)
        clientErrors[blockId] = `Please use at least ${element.min_length} characters.`;
    }
  }
  return { values: state, clientErrors };
}

function userOf(ctx: InboundContext, userId: string, o: DeliveryOptions): JsonObject {
  const user = requireUser(ctx.ws, userId);
  return { id: user.id, username: user.name, name: user.name, team_id: o.asTeamId ?? ctx.ws.teamId };
}

export interface ChooseInViewOptions extends DeliveryOptions {
  userId: string;
  /** The input block whose select the user changes. */
  blockId: string;
  /** The option's value. */
  value: string;
}

/**
 * The user picks an option of a select in their top modal. Kept for the submission; sent to the bot
 * now only when the block has dispatch_action (else no request: the result's status is 0).
 */
export async function chooseInView(ctx: InboundContext, o: ChooseInViewOptions): Promise<InboundResult> {
  const { ws } = ctx;
  const view = ws.views.stack(o.userId).at(-1);
  if (!view) throw new Error(`slack emulator: ${o.userId} has no modal open`);
  const block = view.blocks.find((b) => b.type === 'input' && b.block_id === o.blockId);
  const element = block?.element;
  if (!block || !isObject(element) || element.type !== 'static_select')
    throw new Error(`slack emulator: the modal has no static_select input "${o.blockId}"`);
  const chosen = option(element, o.value, o.blockId);
  view.input[o.blockId] = { actionId: String(element.action_id), given: o.value };
  if (block.dispatch_action !== true) return { status: 0, body: '', ms: 0, timedOut: false };
  const given = Object.fromEntries(Object.entries(view.input).map(([id, v]) => [id, v.given]));
  view.state = { values: stateFor(view, given).values };
  const payload: JsonObject = {
    type: 'block_actions',
    user: userOf(ctx, o.userId, o),
    api_app_id: o.asAppId ?? ws.appId,
    token: ws.verificationToken,
    container: { type: 'view', view_id: view.id },
    trigger_id: ws.views.issueTrigger(o.userId),
    team: { id: o.asTeamId ?? ws.teamId, domain: ws.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    view: publicView(view),
    actions: [
      {
        type: 'static_select',
        action_id: String(element.action_id),
        block_id: o.blockId,
        selected_option: chosen,
        action_ts: actionTs(),
      },
    ],
  };
  return sendInteractive(ctx, o, payload);
}

/** Submits the user's top modal; what happens to it follows the bot's ack, as in Slack. */
export async function submitView(ctx: InboundContext, o: SubmitViewOptions): Promise<SubmitResult> {
  const { ws } = ctx;
  const view = ws.views.stack(o.userId).at(-1);
  if (!view) throw new Error(`slack emulator: ${o.userId} has no modal open`);
  if (!view.submit) throw new Error(`slack emulator: modal ${view.id} has no submit button`);
  // What the user chose before (chooseInView, kept across updates), then what they enter now.
  const chosen = Object.fromEntries(Object.entries(view.input).map(([id, v]) => [id, v.given]));
  const { values, clientErrors } = stateFor(view, { ...chosen, ...(o.values ?? {}) });
  // What the user typed stays in the modal, whatever happens next (as in Slack's client).
  view.state = { values };
  if (Object.keys(clientErrors).length) {
    view.errors = clientErrors;
    return { status: 0, body: '', ms: 0, timedOut: false, outcome: 'client_errors', errors: clientErrors };
  }
  const payload: JsonObject = {
    type: 'view_submission',
    team: { id: o.asTeamId ?? ws.teamId, domain: ws.teamDomain },
    user: userOf(ctx, o.userId, o),
    api_app_id: o.asAppId ?? ws.appId,
    token: ws.verificationToken,
    trigger_id: ws.views.issueTrigger(o.userId),
    view: publicView(view),
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
  const result = await sendInteractive(ctx, o, payload);
  const done = (outcome: SubmitOutcome, errors: Record<string, string> = {}): SubmitResult => ({
    ...result,
    outcome,
    errors,
  });
  if (result.timedOut || result.status !== 200) return done('no_ack');
  if (result.body.trim() === '') {
    ws.views.close(o.userId);
    return done('closed');
  }
  let ack: unknown;
  try {
    ack = JSON.parse(result.body);
  } catch {
    return refuse(ctx, view, 'the ack body is not JSON', done);
  }
  if (!isObject(ack)) return refuse(ctx, view, 'the ack body is not an object', done);
  switch (ack.response_action) {
    case undefined:
      ws.views.close(o.userId);
      return done('closed');
    case 'errors': {
      const errors = ack.errors;
      if (!isObject(errors) || Object.keys(errors).length === 0)
        return refuse(ctx, view, 'response_action errors needs a non-empty errors object', done);
      const inputIds = new Set(view.blocks.filter((b) => b.type === 'input').map((b) => String(b.block_id)));
      for (const [blockId, message] of Object.entries(errors)) {
        if (!inputIds.has(blockId))
          return refuse(
            ctx,
            view,
            `errors names "${blockId}", which is not an input block of the view`,
            done,
          );
        if (typeof message !== 'string' || message === '')
          return refuse(ctx, view, `errors.${blockId} must be a non-empty string`, done);
      }
      view.errors = errors as Record<string, string>;
      return done('errors', view.errors);
    }
    case 'update':
    case 'push': {
      const checked = checkView(ack.view as Json | undefined, 'modal');
      if (!checked.ok) {
        const meta = checked.answer.body.response_metadata as { messages?: string[] } | undefined;
        return refuse(ctx, view, `invalid view: ${(meta?.messages ?? []).join('; ')}`, done);
      }
      if (ack.response_action === 'update') {
        ws.views.replace(view, checked.view);
        return done('updated');
      }
      if (ws.views.stack(o.userId).length >= MAX_STACK) return refuse(ctx, view, 'push_limit_reached', done);
      ws.views.create(ws, o.userId, checked.view, view);
      return done('pushed');
    }
    case 'clear':
      ws.views.close(o.userId, true);
      return done('cleared');
    default:
      return refuse(ctx, view, `unknown response_action "${String(ack.response_action)}"`, done);
  }
}

function refuse(
  ctx: InboundContext,
  view: StoredView,
  why: string,
  done: (outcome: SubmitOutcome) => SubmitResult,
): SubmitResult {
  const args = { view_id: view.id, callback_id: view.callback_id };
  ctx.ws.record(
    { method: 'view_submission', args, ok: false, status: 200, at: Date.now(), error: 'invalid_response' },
    { method: 'view_submission', error: 'invalid_response', args, messages: [why] },
  );
  return done('refused');
}

/** The user closes (cancels) their top modal; view_closed goes to the bot only if it asked. */
export async function closeView(
  ctx: InboundContext,
  o: DeliveryOptions & { userId: string },
): Promise<InboundResult | undefined> {
  const { ws } = ctx;
  const view = ws.views.stack(o.userId).at(-1);
  if (!view) throw new Error(`slack emulator: ${o.userId} has no modal open`);
  const closed = ws.views.close(o.userId, view.clear_on_close);
  if (!view.notify_on_close) return undefined;
  const payload: JsonObject = {
    type: 'view_closed',
    team: { id: o.asTeamId ?? ws.teamId, domain: ws.teamDomain },
    user: userOf(ctx, o.userId, o),
    api_app_id: o.asAppId ?? ws.appId,
    token: ws.verificationToken,
    view: publicView(view),
    is_cleared: closed.length > 1,
    is_enterprise_install: false,
  };
  return sendInteractive(ctx, o, payload);
}

/** The user opens the app's Home tab: an app_home_opened event, with the published view if any. */
export async function openAppHome(
  ctx: InboundContext,
  o: DeliveryOptions & { userId: string },
): Promise<InboundResult> {
  const { ws } = ctx;
  requireUser(ws, o.userId);
  const home = ws.views.home(o.userId);
  const now = Date.now() / 1000;
  const event: JsonObject = {
    type: 'app_home_opened',
    user: o.userId,
    channel: ws.openIm(o.userId).id,
    tab: 'home',
    event_ts: now.toFixed(6),
    ...(home ? { view: publicView(home) } : {}),
  };
  const body: JsonObject = {
    token: ws.verificationToken,
    team_id: o.asTeamId ?? ws.teamId,
    api_app_id: o.asAppId ?? ws.appId,
    event,
    type: 'event_callback',
    event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: Math.floor(now),
    authorizations: [
      {
        enterprise_id: null,
        team_id: ws.teamId,
        user_id: ws.botUserId,
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
  };
  const { result } = await deliver(ctx, o, { json: body }, 'events_api', body);
  return result;
}
