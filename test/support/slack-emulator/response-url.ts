// response_url: the URL Slack hands out with every slash command and button click. Bolt's respond()
// POSTs JSON to it ({text, blocks, response_type, replace_original, delete_original, thread_ts}).
// Slack allows 5 uses within 30 minutes; Bolt 5 throws RespondError on any non-2xx answer, so the
// emulator answers like Slack does and the bot sees the failure.
//
// Decisions where Slack's documentation is thin:
// - Answers: 200 {"ok":true}; unknown or older than the TTL → 404 {"ok":false,"error":"expired_url"};
//   a 6th use → 404 {"ok":false,"error":"used_url"}; unparsable JSON → 400 invalid_payload; a content
//   refusal (no_text, invalid_blocks, …) → 400 with Slack's error code. Only successful uses count.
// - response_type defaults to ephemeral. replace_original defaults to false (a new message). Always
//   set it explicitly in the bot: Slack's default is not documented clearly.
// - Posting in_channel through a response_url works where the bot is not a member (as in Slack).
// - New messages for a click inside a thread stay in that thread unless the body names a thread_ts.
// - For a slash command, replace_original/delete_original act on the last message this URL (or the
//   command's ack body) produced; with nothing to act on, a new message is posted and a warning kept.

import { randomBytes } from 'node:crypto';
import { fail } from './context.js';
import { argsForLog, type Content, readContent } from './message-content.js';
import type { JsonObject, StoredEphemeral } from './types.js';
import type { ResponseUrlState, Workspace } from './workspace.js';

export const RESPONSE_URL_MAX_USES = 5;

export function issueResponseUrl(
  ws: Workspace,
  baseUrl: string,
  init: Omit<ResponseUrlState, 'id' | 'createdAt' | 'uses'>,
): string {
  const id = `${ws.teamId}/${randomBytes(6).toString('hex')}/${randomBytes(12).toString('hex')}`;
  ws.responseUrls.set(id, { ...init, id, createdAt: Date.now(), uses: 0 });
  return `${baseUrl}/response/${id}`;
}

export interface ResponseAnswer {
  status: number;
  body: JsonObject;
}

export function handleResponseUrl(ws: Workspace, ttlMs: number, id: string, raw: Buffer): ResponseAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const args = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const answer = respond(ws, ttlMs, id, parsed);
  const error = typeof answer.body.error === 'string' ? answer.body.error : undefined;
  const call = {
    method: 'response_url',
    args: argsForLog(args),
    ok: answer.body.ok === true,
    status: answer.status,
    at: Date.now(),
    ...(error ? { error } : {}),
  };
  const meta = answer.body.response_metadata as { messages?: string[] } | undefined;
  ws.record(
    call,
    error
      ? {
          method: 'response_url',
          error,
          args: call.args,
          ...(meta?.messages ? { messages: meta.messages } : {}),
        }
      : undefined,
  );
  return answer;
}

function withStatus(status: number, error: string, messages?: string[]): ResponseAnswer {
  return { status, body: fail(error, messages).body };
}

function respond(ws: Workspace, ttlMs: number, id: string, parsed: unknown): ResponseAnswer {
  const state = ws.responseUrls.get(id);
  if (!state || Date.now() - state.createdAt > ttlMs) return withStatus(404, 'expired_url');
  if (state.uses >= RESPONSE_URL_MAX_USES) return withStatus(404, 'used_url');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return withStatus(400, 'invalid_payload');
  const body = parsed as Record<string, unknown>;
  const yes = (k: string) => body[k] === true || body[k] === 'true';

  if (yes('delete_original')) {
    if (!deleteOrigin(ws, state))
      ws.warn('response_url', 'nothing_to_delete', `delete_original on ${id} had no message`);
    state.uses += 1;
    return { status: 200, body: { ok: true } };
  }
  const read = readContent(body);
  if (!read.ok) return withStatus(400, read.error, read.messages);
  if (yes('replace_original')) {
    if (replaceOrigin(ws, state, read.content)) {
      state.uses += 1;
      return { status: 200, body: { ok: true } };
    }
    ws.warn(
      'response_url',
      'nothing_to_replace',
      `replace_original on ${id} had no message; posted a new one`,
    );
  }
  const threadTs =
    typeof body.thread_ts === 'string' && body.thread_ts !== '' ? body.thread_ts : state.threadTs;
  postThrough(ws, state, read.content, body.response_type === 'in_channel', threadTs, 'response_url');
  state.uses += 1;
  return { status: 200, body: { ok: true } };
}

/** Posts content as Slack would for a response (response_url or a slash command's ack body). */
export function postThrough(
  ws: Workspace,
  state: ResponseUrlState,
  content: Content,
  inChannel: boolean,
  threadTs: string | undefined,
  via: string,
): void {
  if (inChannel) {
    const thread = ws.resolveThread(via, state.channelId, threadTs);
    const m = ws.botMessage(state.channelId, content.text ?? '', content.blocks ?? [], via);
    if (content.attachments) m.attachments = content.attachments;
    if (thread !== undefined) m.thread_ts = thread;
    ws.addMessage(m);
    if (state.source === 'slash_command') state.origin = { kind: 'message', channel: m.channel, ts: m.ts };
    return;
  }
  const e: StoredEphemeral = {
    message_ts: ws.nextTs(),
    channel: state.channelId,
    user: state.userId,
    text: content.text ?? '',
    blocks: content.blocks ?? [],
    via,
    edits: 0,
    ...(threadTs !== undefined ? { thread_ts: threadTs } : {}),
  };
  ws.ephemeralStore.push(e);
  if (state.source === 'slash_command') state.origin = { kind: 'ephemeral', message_ts: e.message_ts };
}

function findEphemeral(ws: Workspace, messageTs: string): StoredEphemeral | undefined {
  return ws.ephemeralStore.find((e) => e.message_ts === messageTs && !e.deleted);
}

function deleteOrigin(ws: Workspace, state: ResponseUrlState): boolean {
  const o = state.origin;
  if (!o) return false;
  if (o.kind === 'message') {
    if (!ws.findMessage(o.channel, o.ts)) return false;
    ws.removeMessage(o.channel, o.ts);
    return true;
  }
  const e = findEphemeral(ws, o.message_ts);
  if (!e) return false;
  e.deleted = true;
  return true;
}

function replaceOrigin(ws: Workspace, state: ResponseUrlState, content: Content): boolean {
  const o = state.origin;
  if (!o) return false;
  if (o.kind === 'message') {
    const m = ws.findMessage(o.channel, o.ts);
    if (!m) return false;
    ws.replaceContent(m, content.text ?? '', content.blocks ?? [], 'response_url');
    return true;
  }
  const e = findEphemeral(ws, o.message_ts);
  if (!e) return false;
  e.text = content.text ?? '';
  e.blocks = content.blocks ?? [];
  e.edits += 1;
  return true;
}
