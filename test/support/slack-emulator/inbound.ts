// Requests from Slack to the bot, built and signed the way Slack does it:
// - body application/x-www-form-urlencoded (exactly that string: Bolt compares it verbatim);
//   slash commands as flat fields, interactions as one field payload=<JSON>;
// - X-Slack-Request-Timestamp and X-Slack-Signature = "v0=" + hex HMAC-SHA256(signingSecret,
//   "v0:<timestamp>:<raw body>").
// Without botUrl the same payload goes over Socket Mode (when the emulator has an appToken).
//
// The helpers refuse what no real user could do, with a thrown Error (a test bug, not a bot bug):
// running a command in a channel the user is not in, clicking in a message the user cannot see, or
// clicking a button that is not (any more) in the current version of the message.
//
// Decisions: the ack deadline (ackTimeoutMs, default 3000) aborts the request like Slack gives up,
// and the result says timedOut; a slash command's ack body with text/blocks is posted (ephemeral
// unless response_type is in_channel), as Slack does; block_actions from an ephemeral message carry
// no `message` (the container still says is_ephemeral: true).

import { createHmac } from 'node:crypto';
import { findElement } from './block-kit.js';
import { mediaType } from './http.js';
import { argsForLog, readContent } from './message-content.js';
import { issueResponseUrl, postThrough } from './response-url.js';
import type { SocketHub } from './socket-mode.js';
import type { InboundResult, Json, JsonObject, StoredEphemeral, StoredMessage } from './types.js';
import { type Conversation, publicMessage, type ResponseUrlState, type Workspace } from './workspace.js';

export interface InboundContext {
  ws: Workspace;
  baseUrl: string;
  ackTimeoutMs: number;
  socket?: SocketHub;
}

export interface DeliveryOptions {
  /** The bot's request URL (e.g. http://127.0.0.1:3000/slack/events). Omit to use Socket Mode. */
  botUrl?: string;
  /** Unix seconds to sign with (default now): lets tests send stale requests. */
  timestamp?: number;
  /** Sign with a wrong secret. */
  forgeSignature?: boolean;
  /**
   * Claim another workspace (team_id / team.id / user.team_id) or app (api_app_id), still correctly
   * signed: what a foreign workspace sharing the signing secret, or another app, would send.
   */
  asTeamId?: string;
  asAppId?: string;
  /**
   * Sends the signed request instead of this process's fetch, and times it where it is sent: the
   * bench's load generator runs in a process of its own, so the emulator's work (checking the
   * answers, serving the bot's Web API calls) is not inside the times it measures.
   */
  transport?: Transport;
}

/** One signed request to the bot, as Slack would send it. */
export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** The bot's answer; `timedOut` when it did not answer within timeoutMs (status 0 then). */
export interface TransportAnswer {
  status: number;
  body: string;
  contentType: string;
  ms: number;
  timedOut: boolean;
}

export type Transport = (req: OutboundRequest) => Promise<TransportAnswer>;

export interface SlashCommandOptions extends DeliveryOptions {
  command: string;
  text: string;
  userId: string;
  channelId: string;
}

export interface ClickOptions extends DeliveryOptions {
  channelId: string;
  messageTs: string;
  actionId: string;
  userId: string;
  /** The message is an ephemeral one (its message_ts), seen only by userId. */
  ephemeral?: boolean;
}

export interface CheckboxOptions extends ClickOptions {
  /** The option (by value) whose box the user ticks or unticks. */
  value: string;
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export const actionTs = () => (Date.now() / 1000).toFixed(6);

/** The bot's answer plus its content type (needed to read a slash command's ack body). */
export interface Delivered {
  result: InboundResult;
  contentType: string;
}

/**
 * Sends a form body (commands, interactions) or a JSON body (Events API) to the bot over HTTP, or an
 * envelope over Socket Mode, and times the ack.
 */
export async function deliver(
  ctx: InboundContext,
  o: DeliveryOptions,
  form: URLSearchParams | { json: JsonObject },
  socketType: string,
  socketPayload: JsonObject,
): Promise<Delivered> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  if (o.botUrl === undefined) {
    if (!ctx.socket) throw new Error('slack emulator: no botUrl given and Socket Mode is off (set appToken)');
    const ack = await ctx.socket.deliver(socketType, socketPayload, ctx.ackTimeoutMs);
    if (!ack) return { result: { status: 0, body: '', ms: elapsed(), timedOut: true }, contentType: '' };
    const payload = ack.payload;
    const empty =
      payload === undefined ||
      (typeof payload === 'object' && payload !== null && Object.keys(payload).length === 0);
    return {
      result: { status: 200, body: empty ? '' : JSON.stringify(payload), ms: elapsed(), timedOut: false },
      contentType: 'application/json',
    };
  }
  const body = form instanceof URLSearchParams ? form.toString() : JSON.stringify(form.json);
  const contentType =
    form instanceof URLSearchParams ? 'application/x-www-form-urlencoded' : 'application/json';
  const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
  const secret = o.forgeSignature ? `forged-${ctx.ws.signingSecret}` : ctx.ws.signingSecret;
  const headers = {
    'content-type': contentType,
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signature(secret, timestamp, body),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
  if (o.transport) {
    const a = await o.transport({ url: o.botUrl, headers, body, timeoutMs: ctx.ackTimeoutMs });
    return {
      result: { status: a.status, body: a.body, ms: a.ms, timedOut: a.timedOut },
      contentType: a.contentType,
    };
  }
  let res: Response;
  let text: string;
  try {
    res = await fetch(o.botUrl, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(ctx.ackTimeoutMs),
    });
    text = await res.text();
  } catch (e) {
    if (e instanceof DOMException && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
      return { result: { status: 0, body: '', ms: elapsed(), timedOut: true }, contentType: '' };
    }
    throw new Error(`slack emulator: could not reach the bot at ${o.botUrl}: ${String(e)}`);
  }
  return {
    result: { status: res.status, body: text, ms: elapsed(), timedOut: false },
    contentType: res.headers.get('content-type') ?? '',
  };
}

function conversationFor(ws: Workspace, channelId: string): Conversation {
  const conv = ws.conversation(channelId);
  if (!conv) throw new Error(`slack emulator: unknown channel ${channelId}`);
  return conv;
}

export function requireUser(ws: Workspace, userId: string): { id: string; name: string } {
  const u = ws.users.get(userId);
  if (!u) throw new Error(`slack emulator: unknown user ${userId}`);
  return u;
}

function requireMember(ws: Workspace, conv: Conversation, userId: string, doing: string): void {
  if (!ws.isUserMember(conv, userId)) {
    throw new Error(`slack emulator: ${userId} cannot ${doing} in ${conv.id}: not a member of it`);
  }
}

export async function sendSlashCommand(
  ctx: InboundContext,
  o: SlashCommandOptions,
): Promise<InboundResult & { responseUrl: string; triggerId: string }> {
  const { ws } = ctx;
  if (!/^\/\S+$/.test(o.command))
    throw new Error(`slack emulator: a command looks like "/name", got "${o.command}"`);
  const user = requireUser(ws, o.userId);
  const conv = conversationFor(ws, o.channelId);
  requireMember(ws, conv, o.userId, 'run a command');
  const state: Omit<ResponseUrlState, 'id' | 'createdAt' | 'uses'> = {
    userId: user.id,
    channelId: conv.id,
    source: 'slash_command',
  };
  const responseUrl = issueResponseUrl(ws, ctx.baseUrl, state);
  const trigger = ws.views.issueTrigger(user.id);
  const fields: Record<string, string> = {
    token: ws.verificationToken,
    team_id: o.asTeamId ?? ws.teamId,
    team_domain: ws.teamDomain,
    channel_id: conv.id,
    channel_name: conv.name,
    user_id: user.id,
    user_name: user.name,
    command: o.command,
    text: o.text,
    api_app_id: o.asAppId ?? ws.appId,
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: trigger,
  };
  const delivered = await deliver(ctx, o, new URLSearchParams(fields), 'slash_commands', fields);
  applyCommandAck(ws, responseUrl, delivered);
  return { ...delivered.result, responseUrl, triggerId: trigger };
}

/** Slack posts a slash command's non-empty 200 body: JSON message or plain text, ephemeral by default. */
function applyCommandAck(ws: Workspace, responseUrl: string, { result, contentType: type }: Delivered): void {
  if (result.status !== 200 || result.body.trim() === '') return;
  const id = responseUrl.slice(responseUrl.indexOf('/response/') + '/response/'.length);
  const state = ws.responseUrls.get(id);
  if (!state) return;
  const contentType = mediaType(type);
  let message: Record<string, unknown>;
  if (contentType === 'application/json' || contentType === '') {
    try {
      const parsed: unknown = JSON.parse(result.body);
      message =
        typeof parsed === 'object' && parsed !== null
          ? (parsed as Record<string, unknown>)
          : { text: result.body };
    } catch {
      message = { text: result.body };
    }
  } else {
    message = { text: result.body };
  }
  const read = readContent(message);
  const call = { method: 'command_ack', args: argsForLog(message), ok: read.ok, status: 200, at: Date.now() };
  if (!read.ok) {
    ws.record(
      { ...call, error: read.error },
      {
        method: 'command_ack',
        error: read.error,
        args: call.args,
        ...(read.messages ? { messages: read.messages } : {}),
      },
    );
    return;
  }
  ws.record(call);
  postThrough(ws, state, read.content, message.response_type === 'in_channel', undefined, 'command_ack');
}

interface Target {
  conv: Conversation;
  message?: StoredMessage;
  ephemeral?: StoredEphemeral;
  blocks: JsonObject[];
  edits: number;
  threadTs?: string;
}

/** The message a user clicks in, as it is now; throws when the user could not click there. */
function clickTarget(ws: Workspace, o: ClickOptions): Target {
  const conv = conversationFor(ws, o.channelId);
  requireUser(ws, o.userId);
  requireMember(ws, conv, o.userId, 'click');
  if (o.ephemeral) {
    const e = ws.ephemeralStore.find(
      (x) => x.message_ts === o.messageTs && x.channel === conv.id && !x.deleted,
    );
    if (!e) throw new Error(`slack emulator: no ephemeral message ${o.messageTs} in ${conv.id}`);
    if (e.user !== o.userId)
      throw new Error(`slack emulator: ephemeral ${o.messageTs} is visible to ${e.user}, not ${o.userId}`);
    return {
      conv,
      ephemeral: e,
      blocks: e.blocks,
      edits: e.edits,
      ...(e.thread_ts ? { threadTs: e.thread_ts } : {}),
    };
  }
  const m = ws.findMessage(conv.id, o.messageTs);
  if (!m) throw new Error(`slack emulator: no message ${o.messageTs} in ${conv.id} (deleted, or ephemeral?)`);
  return {
    conv,
    message: m,
    blocks: m.blocks,
    edits: m.edits,
    ...(m.thread_ts ? { threadTs: m.thread_ts } : {}),
  };
}

function elementIn(target: Target, o: ClickOptions, type: string): { element: JsonObject; blockId: string } {
  const found = findElement(target.blocks, o.actionId);
  if (!found) {
    const ids = target.blocks.flatMap((b) => listActionIds(b));
    throw new Error(
      `slack emulator: the current message ${o.messageTs} has no element with action_id "${o.actionId}" ` +
        `(it has: ${ids.length ? ids.join(', ') : 'none'})`,
    );
  }
  if (found.element.type !== type) {
    throw new Error(
      `slack emulator: action_id "${o.actionId}" is a ${String(found.element.type)}, not a ${type}`,
    );
  }
  return found;
}

function listActionIds(b: JsonObject): string[] {
  const els: Json[] = [];
  if (b.type === 'actions' && Array.isArray(b.elements)) els.push(...b.elements);
  if (b.accessory !== undefined) els.push(b.accessory);
  if (b.element !== undefined) els.push(b.element);
  return els.flatMap((e) =>
    typeof e === 'object' && e !== null && !Array.isArray(e) && typeof e.action_id === 'string'
      ? [e.action_id]
      : [],
  );
}

/** Which version of which message a checkbox tick belongs to (an edit starts from a clean slate). */
export interface TickedAt {
  channel: string;
  /** The message's ts (message_ts for an ephemeral). */
  ts: string;
  edits: number;
}

const at = (target: Target): TickedAt => ({
  channel: target.conv.id,
  ts: target.message?.ts ?? target.ephemeral?.message_ts ?? '',
  edits: target.edits,
});

function checkboxKey(where: TickedAt, userId: string, actionId: string): string {
  return `${where.channel}|${where.ts}|${where.edits}|${userId}|${actionId}`;
}

/**
 * Options currently ticked for one user: their own clicks, else the element's initial_options.
 * Exported so the channel page shows the same boxes ticked that the next click will send.
 */
export function tickedValues(
  ws: Workspace,
  where: TickedAt,
  userId: string,
  actionId: string,
  element: JsonObject,
): string[] {
  const stored = ws.checkboxState.get(checkboxKey(where, userId, actionId));
  if (stored) return stored;
  const initial = Array.isArray(element.initial_options) ? element.initial_options : [];
  return initial.flatMap((o) =>
    typeof o === 'object' && o !== null && !Array.isArray(o) ? [String(o.value)] : [],
  );
}

function selectedValues(
  ws: Workspace,
  target: Target,
  userId: string,
  actionId: string,
  element: JsonObject,
): string[] {
  return tickedValues(ws, at(target), userId, actionId, element);
}

function optionsOf(element: JsonObject): JsonObject[] {
  return Array.isArray(element.options)
    ? element.options.filter((o): o is JsonObject => typeof o === 'object' && o !== null && !Array.isArray(o))
    : [];
}

/** state.values for the message: every checkboxes element with what this user has ticked. */
function stateValues(ws: Workspace, target: Target, userId: string): JsonObject {
  const values: JsonObject = {};
  for (const b of target.blocks) {
    for (const actionId of listActionIds(b)) {
      const found = findElement([b], actionId);
      if (found?.element.type !== 'checkboxes') continue;
      const ticked = selectedValues(ws, target, userId, actionId, found.element);
      const block = (values[found.blockId] as JsonObject | undefined) ?? {};
      block[actionId] = {
        type: 'checkboxes',
        selected_options: optionsOf(found.element).filter((opt) => ticked.includes(String(opt.value))),
      };
      values[found.blockId] = block;
    }
  }
  return values;
}

function blockActionsPayload(
  ctx: InboundContext,
  o: ClickOptions,
  target: Target,
  action: JsonObject,
): JsonObject {
  const { ws } = ctx;
  const user = requireUser(ws, o.userId);
  const responseUrl = issueResponseUrl(ws, ctx.baseUrl, {
    userId: user.id,
    channelId: target.conv.id,
    source: 'block_actions',
    origin: target.ephemeral
      ? { kind: 'ephemeral', message_ts: target.ephemeral.message_ts }
      : { kind: 'message', channel: target.conv.id, ts: o.messageTs },
    ...(target.threadTs ? { threadTs: target.threadTs } : {}),
  });
  const container: JsonObject = {
    type: 'message',
    message_ts: o.messageTs,
    channel_id: target.conv.id,
    is_ephemeral: target.ephemeral !== undefined,
  };
  if (target.threadTs) container.thread_ts = target.threadTs;
  const payload: JsonObject = {
    type: 'block_actions',
    user: { id: user.id, username: user.name, name: user.name, team_id: o.asTeamId ?? ws.teamId },
    api_app_id: o.asAppId ?? ws.appId,
    token: ws.verificationToken,
    container,
    trigger_id: ws.views.issueTrigger(user.id),
    team: { id: o.asTeamId ?? ws.teamId, domain: ws.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: target.conv.id, name: target.conv.name },
    state: { values: stateValues(ws, target, user.id) },
    response_url: responseUrl,
    actions: [action],
  };
  if (target.message) payload.message = publicMessage(target.message);
  return payload;
}

/** An interaction (block_actions, view_submission, view_closed): one form field payload=<JSON>. */
export async function sendInteractive(
  ctx: InboundContext,
  o: DeliveryOptions,
  payload: JsonObject,
): Promise<InboundResult> {
  const delivered = await deliver(
    ctx,
    o,
    new URLSearchParams({ payload: JSON.stringify(payload) }),
    'interactive',
    payload,
  );
  return delivered.result;
}

export async function clickButton(ctx: InboundContext, o: ClickOptions): Promise<InboundResult> {
  const target = clickTarget(ctx.ws, o);
  const { element, blockId } = elementIn(target, o, 'button');
  const action: JsonObject = {
    type: 'button',
    action_id: o.actionId,
    block_id: blockId,
    text: element.text ?? null,
    action_ts: actionTs(),
  };
  for (const k of ['value', 'style', 'url', 'confirm'] as const) {
    const v = element[k];
    if (v !== undefined) action[k] = v;
  }
  return sendInteractive(ctx, o, blockActionsPayload(ctx, o, target, action));
}

export async function toggleCheckbox(ctx: InboundContext, o: CheckboxOptions): Promise<InboundResult> {
  const { ws } = ctx;
  const target = clickTarget(ws, o);
  const { element, blockId } = elementIn(target, o, 'checkboxes');
  const options = optionsOf(element);
  if (!options.some((opt) => opt.value === o.value)) {
    throw new Error(`slack emulator: checkboxes "${o.actionId}" has no option with value "${o.value}"`);
  }
  const before = selectedValues(ws, target, o.userId, o.actionId, element);
  const after = before.includes(o.value) ? before.filter((v) => v !== o.value) : [...before, o.value];
  ws.checkboxState.set(checkboxKey(at(target), o.userId, o.actionId), after);
  const action: JsonObject = {
    type: 'checkboxes',
    action_id: o.actionId,
    block_id: blockId,
    selected_options: options.filter((opt) => after.includes(String(opt.value))),
    action_ts: actionTs(),
  };
  return sendInteractive(ctx, o, blockActionsPayload(ctx, o, target, action));
}
