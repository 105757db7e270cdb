// The Web API methods a chatops bot uses, with the refusals real Slack makes (error codes from the
// method pages on docs.slack.dev, machine copy in slack-ruby/slack-api-ref). Every answer is HTTP 200
// with {ok:false,error} on failure, except rate limiting: HTTP 429 + Retry-After.
//
// Decisions where Slack is vague or where the emulator is deliberately stricter:
// - Order of checks: unknown method → token → channel → membership → rate limit → content.
// - A thread_ts that matches no message: Slack posts the message unthreaded; so does the emulator,
//   and records a warning (warnings()) because it is almost always a bug. A reply's ts as thread_ts
//   lands in that reply's thread (also a warning).
// - chat.postMessage with a user id (U…) as channel posts into the bot's IM with that user, as Slack does.
// - The bot has no chat:write.public: posting where it is not a member is not_in_channel.
// - chat.update keeps text/blocks/attachments that the call does not mention and replaces those it does.
// - chat.postEphemeral to an unknown user answers user_not_in_channel (Slack lists no user_not_found there).
// - 429s are counted by rateLimited() and kept out of rejected(), which lists the real refusals.

import { type ApiAnswer, type ApiContext, Args, fail, ok, rateLimited } from './context.js';
import { completeUploadExternal, getUploadURLExternal } from './files.js';
import type { DecodedArgs } from './http.js';
import { argsForLog, readContent } from './message-content.js';
import type { JsonObject, StoredEphemeral } from './types.js';
import { viewsOpen, viewsPublish, viewsPush, viewsUpdate } from './views.js';
import { type Conversation, publicMessage, type Workspace } from './workspace.js';

type Handler = (ctx: ApiContext, a: Args) => ApiAnswer;

const MAX_POST_TEXT = 40_000;
const MAX_UPDATE_TEXT = 4_000;

/** Method → handler, and which kind of token it takes. */
const METHODS: Record<string, { handler: Handler; token: 'bot' | 'app' }> = {
  'auth.test': { handler: authTest, token: 'bot' },
  'chat.postMessage': { handler: postMessage, token: 'bot' },
  'chat.update': { handler: update, token: 'bot' },
  'chat.postEphemeral': { handler: postEphemeral, token: 'bot' },
  'chat.getPermalink': { handler: getPermalink, token: 'bot' },
  'conversations.open': { handler: conversationsOpen, token: 'bot' },
  'conversations.info': { handler: conversationsInfo, token: 'bot' },
  'conversations.members': { handler: conversationsMembers, token: 'bot' },
  'users.info': { handler: usersInfo, token: 'bot' },
  'usergroups.users.list': { handler: usergroupUsers, token: 'bot' },
  'files.getUploadURLExternal': { handler: getUploadURLExternal, token: 'bot' },
  'files.completeUploadExternal': { handler: completeUploadExternal, token: 'bot' },
  'apps.connections.open': { handler: connectionsOpen, token: 'app' },
  'views.open': { handler: viewsOpen, token: 'bot' },
  'views.push': { handler: viewsPush, token: 'bot' },
  'views.update': { handler: viewsUpdate, token: 'bot' },
  'views.publish': { handler: viewsPublish, token: 'bot' },
};

/** Runs one Web API call and records it (calls(), rejected(), rateLimited()). */
export function callApi(
  ctx: ApiContext,
  method: string,
  decoded: DecodedArgs,
  headerToken?: string,
): ApiAnswer {
  const answer = dispatch(ctx, method, decoded, headerToken);
  const { ws } = ctx;
  const okFlag = answer.body.ok === true;
  const error = typeof answer.body.error === 'string' ? answer.body.error : undefined;
  const args = argsForLog(decoded.args);
  const call = {
    method,
    args,
    ok: okFlag,
    status: answer.status,
    at: Date.now(),
    ...(error ? { error } : {}),
  };
  if (answer.status === 429) {
    ws.rateLimitedCount += 1;
    ws.record(call);
  } else if (!okFlag) {
    const meta = answer.body.response_metadata as { messages?: string[] } | undefined;
    ws.record(call, {
      method,
      error: error ?? 'unknown',
      args,
      ...(meta?.messages ? { messages: meta.messages } : {}),
    });
  } else {
    ws.record(call);
  }
  return answer;
}

function dispatch(ctx: ApiContext, method: string, decoded: DecodedArgs, headerToken?: string): ApiAnswer {
  const entry = METHODS[method];
  if (!entry) return fail('unknown_method');
  if (decoded.error) return fail(decoded.error);
  const token = headerToken ?? decoded.bodyToken;
  if (!token) return fail('not_authed');
  const { ws } = ctx;
  const kind =
    token === ws.botToken ? 'bot' : ws.appToken !== undefined && token === ws.appToken ? 'app' : undefined;
  if (!kind) return fail('invalid_auth');
  if (kind !== entry.token) return fail('not_allowed_token_type');
  return entry.handler(ctx, new Args(decoded.args));
}

function authTest(ctx: ApiContext): ApiAnswer {
  const { ws } = ctx;
  return ok({
    url: `https://${ws.teamDomain}.slack.com/`,
    team: `${ws.teamDomain} (emulated)`,
    user: 'bot',
    team_id: ws.teamId,
    user_id: ws.botUserId,
    bot_id: ws.botId,
    app_id: ws.appId,
    is_enterprise_install: false,
  });
}

/** Channel id, or a user id meaning "the bot's IM with that user" (chat.postMessage only). */
function resolveTarget(
  ws: Workspace,
  channel: string | undefined,
  allowUser: boolean,
): Conversation | undefined {
  if (channel === undefined) return undefined;
  const conv = ws.conversation(channel);
  if (conv) return conv;
  if (allowUser && ws.users.has(channel)) return ws.openIm(channel);
  return undefined;
}

function contentFailure(r: { error: string; messages?: string[] }): ApiAnswer {
  return fail(r.error, r.messages);
}

function postMessage(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const conv = resolveTarget(ws, a.str('channel'), true);
  if (!conv) return fail('channel_not_found');
  if (!conv.botIsMember) return fail('not_in_channel');
  const wait = ctx.postLimiter.take(conv.id);
  if (wait > 0) return rateLimited(wait);
  const read = readContent(a.raw);
  if (!read.ok) return contentFailure(read);
  const { content } = read;

  let text = content.text ?? '';
  let truncated = false;
  if ([...text].length > MAX_POST_TEXT) {
    text = [...text].slice(0, MAX_POST_TEXT).join('');
    truncated = true;
    ws.warn('chat.postMessage', 'message_truncated', `text cut to ${MAX_POST_TEXT} characters in ${conv.id}`);
  }
  const threadTs = ws.resolveThread('chat.postMessage', conv.id, a.str('thread_ts'));
  const m = ws.botMessage(conv.id, text, content.blocks ?? [], 'chat.postMessage');
  if (content.attachments) m.attachments = content.attachments;
  if (threadTs !== undefined) {
    m.thread_ts = threadTs;
    if (a.bool('reply_broadcast')) m.reply_broadcast = true;
  }
  if (truncated) m.truncated = true;
  ws.addMessage(m);
  const body: JsonObject = { channel: conv.id, ts: m.ts, message: publicMessage(m) };
  if (truncated) {
    body.warning = 'message_truncated';
    body.response_metadata = { warnings: ['message_truncated'] };
  }
  return ok(body);
}

function update(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const channel = a.str('channel');
  const conv = channel === undefined ? undefined : ws.conversation(channel);
  if (!conv) return fail('channel_not_found');
  const wait = ctx.updateLimiter.take();
  if (wait > 0) return rateLimited(wait);
  const ts = a.str('ts');
  const m = ts === undefined ? undefined : ws.findMessage(conv.id, ts);
  if (!m) return fail('message_not_found');
  if (m.user !== ws.botUserId) return fail('cant_update_message');
  const text = a.str('text');
  if (text !== undefined && [...text].length > MAX_UPDATE_TEXT) return fail('msg_too_long');
  const read = readContent(a.raw);
  if (!read.ok) return contentFailure(read);
  const { content } = read;
  ws.replaceContent(m, content.text ?? m.text, content.blocks ?? m.blocks, 'chat.update');
  if (content.attachments) m.attachments = content.attachments;
  return ok({ channel: conv.id, ts: m.ts, text: m.text, message: publicMessage(m) });
}

function postEphemeral(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const conv = resolveTarget(ws, a.str('channel'), false);
  if (!conv) return fail('channel_not_found');
  if (!conv.botIsMember) return fail('not_in_channel');
  const user = a.str('user');
  if (user === undefined || !ws.users.has(user) || !ws.isUserMember(conv, user))
    return fail('user_not_in_channel');
  const read = readContent(a.raw);
  if (!read.ok) return contentFailure(read);
  const threadTs = a.str('thread_ts');
  if (threadTs !== undefined && threadTs !== '' && !ws.findMessage(conv.id, threadTs)) {
    ws.warn(
      'chat.postEphemeral',
      'thread_ts_not_found',
      `thread_ts ${threadTs} matches no message in ${conv.id}`,
    );
  }
  const e: StoredEphemeral = {
    message_ts: ws.nextTs(),
    channel: conv.id,
    user,
    text: read.content.text ?? '',
    blocks: read.content.blocks ?? [],
    via: 'chat.postEphemeral',
    edits: 0,
    ...(threadTs ? { thread_ts: threadTs } : {}),
  };
  ws.ephemeralStore.push(e);
  return ok({ message_ts: e.message_ts });
}

function conversationObject(ws: Workspace, conv: Conversation, full: boolean): JsonObject {
  if (!full) return { id: conv.id };
  return {
    id: conv.id,
    name: conv.name,
    is_channel: conv.kind === 'channel',
    is_im: conv.kind === 'im',
    is_mpim: conv.kind === 'mpim',
    is_private: conv.kind !== 'channel',
    is_member: conv.botIsMember,
    ...(conv.imUser ? { user: conv.imUser } : {}),
    context_team_id: ws.teamId,
  };
}

function conversationsOpen(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const full = a.bool('return_im');
  const channel = a.str('channel');
  const users = a.list('users');
  if (channel !== undefined && channel !== '') {
    const conv = ws.conversation(channel);
    if (!conv || conv.kind === 'channel') return fail('channel_not_found');
    return ok({ no_op: true, already_open: true, channel: conversationObject(ws, conv, full) });
  }
  if (!users || users.length === 0) return fail('users_list_not_supplied');
  const humans = users.filter((u) => u !== ws.botUserId);
  if (humans.length > 8) return fail('too_many_users');
  if (humans.length === 0) return fail('not_enough_users');
  if (humans.some((u) => !ws.users.has(u))) return fail('user_not_found');
  const existed = humans.length === 1 ? ws.imFor(humans[0]!) !== undefined : false;
  const conv = humans.length === 1 ? ws.openIm(humans[0]!) : ws.openMpim(humans);
  return ok({
    ...(existed ? { no_op: true, already_open: true } : {}),
    channel: conversationObject(ws, conv, full),
  });
}

/** A message's link, as Slack forms it: .../archives/<channel>/p<ts without the dot>, thread_ts for a reply. */
function getPermalink(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const conv = resolveTarget(ws, a.str('channel'), false);
  if (!conv) return fail('channel_not_found');
  const ts = a.str('message_ts');
  const m = ts ? ws.findMessage(conv.id, ts) : undefined;
  if (!m) return fail('message_not_found');
  const base = `https://${ws.teamDomain}.slack.com/archives/${conv.id}/p${m.ts.replace('.', '')}`;
  const permalink = m.thread_ts ? `${base}?thread_ts=${m.thread_ts}&cid=${conv.id}` : base;
  return ok({ channel: conv.id, permalink });
}

function conversationsInfo(ctx: ApiContext, a: Args): ApiAnswer {
  const conv = resolveTarget(ctx.ws, a.str('channel'), false);
  if (!conv) return fail('channel_not_found');
  return ok({ channel: conversationObject(ctx.ws, conv, true) });
}

function conversationsMembers(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const conv = resolveTarget(ws, a.str('channel'), false);
  if (!conv) return fail('channel_not_found');
  const members = [...conv.members, ...(conv.botIsMember ? [ws.botUserId] : [])];
  return ok({ members, response_metadata: { next_cursor: '' } });
}

function tzOffsetSeconds(tz: string): number {
  const part = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' })
    .formatToParts(new Date())
    .find((p) => p.type === 'timeZoneName')?.value;
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part ?? '');
  if (!m) return 0;
  const sign = m[1] === '-' ? -1 : 1;
  return sign * (Number(m[2]) * 3600 + Number(m[3]) * 60);
}

function usersInfo(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const id = a.str('user');
  if (id === ws.botUserId) {
    return ok({
      user: {
        id,
        team_id: ws.teamId,
        name: 'bot',
        real_name: 'bot',
        deleted: false,
        is_bot: true,
        is_app_user: false,
        profile: { real_name: 'bot', display_name: 'bot', bot_id: ws.botId, api_app_id: ws.appId },
      },
    });
  }
  const u = id === undefined ? undefined : ws.users.get(id);
  if (!u) return fail('user_not_found');
  const tz = u.tz ?? 'UTC';
  const realName = u.realName ?? u.name;
  return ok({
    user: {
      id: u.id,
      team_id: ws.teamId,
      name: u.name,
      real_name: realName,
      tz,
      tz_label: tz,
      tz_offset: tzOffsetSeconds(tz),
      deleted: false,
      is_bot: false,
      is_app_user: false,
      profile: { real_name: realName, display_name: u.name, real_name_normalized: realName },
    },
  });
}

function usergroupUsers(ctx: ApiContext, a: Args): ApiAnswer {
  const id = a.str('usergroup');
  if (id === undefined || id === '')
    return fail('invalid_arguments', ['[ERROR] missing required field: usergroup']);
  const members = ctx.ws.usergroups.get(id);
  if (!members) return fail('no_such_subteam');
  return ok({ users: [...members] });
}

function connectionsOpen(ctx: ApiContext): ApiAnswer {
  if (!ctx.openSocketUrl) return fail('not_allowed_token_type');
  return ok({ url: ctx.openSocketUrl() });
}
