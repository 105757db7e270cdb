// The emulated workspace as a web page, for a person watching a demo and for a headless browser
// test. It is a window onto the emulator, not a way around it: clicks go through clickButton /
// toggleCheckbox, the same signed path and the same refusals as a test's own clicks.
//
// Routes (same server as the Web API):
//   GET  /  and  /channel/<id>[?as=<user id>]   the page
//   GET  /ui/state?channel=<id>&user=<id>       JSON the page polls: raw data plus rendered HTML
//   POST /ui/click  {channelId, messageTs, actionId, userId, value?, ephemeral?}  → {ok, status, error?}
//   POST /ui/submit {userId, values: {block_id: string | string[]}}  the acting user's top modal
//   POST /ui/close  {userId}                       closes it;  POST /ui/home {userId}  opens App Home
//   GET  /ui/files/<file id>                     an uploaded file's bytes
//
// Rendering happens here, on the server (ui-render.ts), so there is one renderer, type-checked and
// unit-tested; the page's script only polls, swaps HTML and posts clicks.
//
// DOM hooks for browser tests: `.message[data-ts][data-channel]` (top-level messages; the main
// list is `#messages`, DMs are in `#dms`), `[data-thread="<parent ts>"] .reply[data-ts]`,
// `.ephemeral[data-ts]` ("only visible to you", for the acting user), `button[data-action-id]`,
// `input[type=checkbox][data-action-id]`, `select#acting-user`, `#confirm-dialog` with
// `#confirm-yes` / `#confirm-no` (buttons that carry a Slack `confirm`), `.click-error` under a
// message whose click failed, `.file[data-file-id]`, and `document.body.dataset.ready === '1'`
// once the first state is shown. Views: `#modal[data-view-id]` (the acting user's top modal, hidden
// when none) with `.field[data-block-id]`, inputs `[data-input-block]`, `.field-error`,
// `#modal-submit` / `#modal-close` and `#modal-status`; `#open-home` and `#home` (the Home tab).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { mediaType, sendJson, sendText } from './http.js';
import { clickButton, type InboundContext, type TickedAt, tickedValues, toggleCheckbox } from './inbound.js';
import type {
  InboundResult,
  JsonObject,
  SlackEmulatorUiOptions,
  StoredEphemeral,
  StoredFile,
  StoredMessage,
} from './types.js';
import {
  type BlockContext,
  type Directory,
  escapeHtml,
  renderAttachments,
  renderBlocks,
  renderInputField,
  renderMrkdwn,
} from './ui-render.js';
import { closeView, openAppHome, submitView } from './view-inbound.js';
import { publicView, type StoredView } from './views.js';
import type { Conversation, Workspace } from './workspace.js';

export interface UiContext {
  ws: Workspace;
  inbound: InboundContext;
  options: SlackEmulatorUiOptions;
  /** Where the page's clicks go right now (setBotUrl may change it after start). */
  botUrl(): string | undefined;
  socketConnected(): boolean;
}

/** Answers the page's routes; false when the request is for something else. */
export async function handleUi(
  ui: UiContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
): Promise<boolean> {
  const path = url.pathname;
  const isPage = path === '/' || path.startsWith('/channel/');
  if (!isPage && !path.startsWith('/ui/')) return false;
  const method = req.method ?? 'GET';

  if (isPage && method === 'GET') {
    const id = path === '/' ? firstChannel(ui.ws)?.id : decodeURIComponent(path.slice('/channel/'.length));
    const conv = id === undefined ? undefined : ui.ws.conversation(id);
    if (!conv) {
      sendText(res, 404, `no such conversation: ${id ?? '(the emulator has no channels)'}`);
      return true;
    }
    const user = url.searchParams.get('as') ?? defaultUser(ui);
    if (!ui.ws.users.has(user)) sendText(res, 400, `unknown user ${user} (the "as" parameter)`);
    else sendHtml(res, pageHtml(ui, conv, user));
    return true;
  }
  if (path === '/ui/state' && method === 'GET') {
    const conv = ui.ws.conversation(url.searchParams.get('channel') ?? '');
    const user = url.searchParams.get('user') ?? defaultUser(ui);
    if (!conv) sendJson(res, 404, { ok: false, error: 'channel_not_found' });
    else if (!ui.ws.users.has(user)) sendJson(res, 400, { ok: false, error: `unknown user ${user}` });
    else sendJson(res, 200, uiState(ui, conv, user));
    return true;
  }
  if (path === '/ui/click' && method === 'POST') {
    const answer = await uiClick(ui, req, body);
    sendJson(res, answer.httpStatus, answer.body);
    return true;
  }
  if ((path === '/ui/submit' || path === '/ui/close' || path === '/ui/home') && method === 'POST') {
    const answer = await uiView(ui, req, body, path.slice('/ui/'.length) as 'submit' | 'close' | 'home');
    sendJson(res, answer.httpStatus, answer.body);
    return true;
  }
  if (path.startsWith('/ui/files/') && method === 'GET') {
    sendFile(res, ui.ws, decodeURIComponent(path.slice('/ui/files/'.length)));
    return true;
  }
  const wrongMethod =
    isPage ||
    ['/ui/state', '/ui/click', '/ui/submit', '/ui/close', '/ui/home'].includes(path) ||
    path.startsWith('/ui/files/');
  sendText(res, wrongMethod ? 405 : 404, wrongMethod ? 'method_not_allowed' : 'not_found');
  return true;
}

function firstChannel(ws: Workspace): Conversation | undefined {
  return [...ws.conversations.values()].find((c) => c.kind === 'channel');
}

function defaultUser(ui: UiContext): string {
  return ui.options.defaultUserId ?? [...ui.ws.users.keys()][0] ?? '';
}

// ---- clicks --------------------------------------------------------------------------------------

interface ClickAnswer {
  httpStatus: number;
  body: { ok: boolean; status: number; error?: string };
}

const refused = (httpStatus: number, error: string): ClickAnswer => ({
  httpStatus,
  body: { ok: false, status: 0, error },
});

/** A JSON body from the page, or why not. */
function pageJson(req: IncomingMessage, raw: Buffer): Record<string, unknown> | ClickAnswer {
  // JSON only: a form post from some other page in the same browser cannot make a JSON request
  // without a CORS preflight, which this server never grants.
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    return refused(415, 'send the click as JSON (content-type: application/json)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return refused(400, 'the body is not JSON');
  }
  return (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
}

const isAnswer = (x: Record<string, unknown> | ClickAnswer): x is ClickAnswer =>
  typeof x.httpStatus === 'number' && typeof x.body === 'object';

async function uiClick(ui: UiContext, req: IncomingMessage, raw: Buffer): Promise<ClickAnswer> {
  const b = pageJson(req, raw);
  if (isAnswer(b)) return b;
  const missing = ['channelId', 'messageTs', 'actionId', 'userId'].filter((k) => typeof b[k] !== 'string');
  if (missing.length > 0) return refused(400, `missing or not a string: ${missing.join(', ')}`);
  if (b.value !== undefined && typeof b.value !== 'string') return refused(400, 'value must be a string');
  const botUrl = ui.botUrl();
  const o = {
    channelId: b.channelId as string,
    messageTs: b.messageTs as string,
    actionId: b.actionId as string,
    userId: b.userId as string,
    ...(b.ephemeral === true ? { ephemeral: true } : {}),
    ...(botUrl !== undefined ? { botUrl } : {}),
  };
  let result: InboundResult;
  try {
    result =
      typeof b.value === 'string'
        ? await toggleCheckbox(ui.inbound, { ...o, value: b.value })
        : await clickButton(ui.inbound, o);
  } catch (e) {
    // The emulator's own refusals (no such button, not a member, …) and an unreachable bot.
    return refused(400, e instanceof Error ? e.message : String(e));
  }
  if (result.timedOut) {
    return refused(200, `the bot did not acknowledge within ${ui.inbound.ackTimeoutMs} ms`);
  }
  if (result.status !== 200) {
    const said = result.body.trim() === '' ? '' : `: ${result.body.slice(0, 300)}`;
    return {
      httpStatus: 200,
      body: { ok: false, status: result.status, error: `the bot answered HTTP ${result.status}${said}` },
    };
  }
  return { httpStatus: 200, body: { ok: true, status: 200 } };
}

/** Submitting or closing the acting user's modal, or opening their App Home, from the page. */
async function uiView(
  ui: UiContext,
  req: IncomingMessage,
  raw: Buffer,
  what: 'submit' | 'close' | 'home',
): Promise<{ httpStatus: number; body: Record<string, unknown> }> {
  const b = pageJson(req, raw);
  if (isAnswer(b)) return b;
  if (typeof b.userId !== 'string') return refused(400, 'missing or not a string: userId');
  const botUrl = ui.botUrl();
  const o = { userId: b.userId, ...(botUrl !== undefined ? { botUrl } : {}) };
  try {
    if (what === 'home') {
      const r = await openAppHome(ui.inbound, o);
      return { httpStatus: 200, body: { ok: r.status === 200, status: r.status } };
    }
    if (what === 'close') {
      await closeView(ui.inbound, o);
      return { httpStatus: 200, body: { ok: true, status: 200 } };
    }
    const values = (typeof b.values === 'object' && b.values !== null ? b.values : {}) as Record<
      string,
      string | string[]
    >;
    const r = await submitView(ui.inbound, { ...o, values });
    const failed = r.outcome === 'no_ack' || r.outcome === 'refused';
    return {
      httpStatus: 200,
      body: {
        ok: !failed,
        status: r.status,
        outcome: r.outcome,
        errors: r.errors,
        ...(failed ? { error: 'We had some trouble connecting. Try again?' } : {}),
      },
    };
  } catch (e) {
    return refused(400, e instanceof Error ? e.message : String(e));
  }
}

// ---- files ---------------------------------------------------------------------------------------

// Only types a browser shows without running anything; HTML or SVG served from this origin could
// script the page and click buttons, so everything else is plain text.
const SAFE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  pdf: 'application/pdf',
  json: 'application/json; charset=utf-8',
};

function sendFile(res: ServerResponse, ws: Workspace, id: string): void {
  const f = ws.fileStore.find((x) => x.id === id);
  if (!f) {
    sendText(res, 404, 'file_not_found');
    return;
  }
  const ext = /\.([a-z0-9]+)$/i.exec(f.filename)?.[1]?.toLowerCase() ?? '';
  res.writeHead(200, {
    'content-type': SAFE_TYPES[ext] ?? 'text/plain; charset=utf-8',
    'content-length': String(f.content.length),
    'content-disposition': `inline; filename="${f.filename.replace(/[^\w.-]/g, '_')}"`,
    'x-content-type-options': 'nosniff',
  });
  res.end(f.content);
}

// ---- state ---------------------------------------------------------------------------------------

/** Who is looking: names, the acting user's time zone, their checkbox ticks and ephemerals. */
interface Viewer {
  ui: UiContext;
  dir: Directory;
  userId: string;
  tz: string;
}

function viewer(ui: UiContext, userId: string): Viewer {
  const { ws } = ui;
  const users: Record<string, string> = { [ws.botUserId]: botName(ui) };
  for (const u of ws.users.values()) users[u.id] = u.realName ?? u.name;
  const channels: Record<string, string> = {};
  for (const c of ws.conversations.values()) channels[c.id] = c.name;
  return {
    ui,
    dir: { users, channels, groups: { ...(ui.options.groupHandles ?? {}) } },
    userId,
    tz: ws.users.get(userId)?.tz ?? 'UTC',
  };
}

const botName = (ui: UiContext) => ui.options.botName ?? 'bot';

/** A message without the emulator's bookkeeping (history) that the page has no use for. */
function view(m: StoredMessage): JsonObject {
  const out: JsonObject = {
    ts: m.ts,
    user: m.user,
    text: m.text,
    blocks: m.blocks,
    edits: m.edits,
    via: m.via,
  };
  if (m.thread_ts !== undefined) out.thread_ts = m.thread_ts;
  if (m.reply_broadcast) out.reply_broadcast = true;
  if (m.attachments !== undefined) out.attachments = m.attachments;
  if (m.files !== undefined) out.files = m.files;
  return out;
}

const topLevel = (ws: Workspace, channel: string) =>
  ws.allMessages(channel).filter((m) => m.thread_ts === undefined || m.reply_broadcast === true);

const repliesTo = (ws: Workspace, channel: string, parentTs: string) =>
  ws.allMessages(channel).filter((m) => m.thread_ts === parentTs);

const ephemeralsFor = (ws: Workspace, channel: string, userId: string) =>
  ws.ephemeralStore.filter((e) => !e.deleted && e.channel === channel && e.user === userId);

const ims = (ws: Workspace) => [...ws.conversations.values()].filter((c) => c.kind === 'im');

function delivery(ui: UiContext): string {
  const url = ui.botUrl();
  if (url !== undefined) return `clicks go to ${url}`;
  if (ui.socketConnected()) return 'clicks go over Socket Mode';
  return 'clicks go nowhere yet (no bot URL, no Socket Mode connection)';
}

/** Everything the page shows, as data (for tests and curious people) and as rendered HTML. */
export function uiState(ui: UiContext, conv: Conversation, userId: string): Record<string, unknown> {
  const { ws } = ui;
  const v = viewer(ui, userId);
  const modal = ws.views.stack(userId).at(-1);
  const home = ws.views.home(userId);
  const withReplies = (channel: string) =>
    topLevel(ws, channel).map((m) => ({
      ...view(m),
      replies: m.thread_ts === undefined ? repliesTo(ws, channel, m.ts).map(view) : [],
    }));
  return {
    channel: { id: conv.id, name: conv.name, kind: conv.kind },
    user: userId,
    delivery: delivery(ui),
    users: [...ws.users.values()].map((u) => ({
      id: u.id,
      name: u.name,
      ...(u.realName ? { realName: u.realName } : {}),
    })),
    conversations: [...ws.conversations.values()].map((c) => ({
      id: c.id,
      name: c.name,
      kind: c.kind,
      botIsMember: c.botIsMember,
      ...(c.imUser !== undefined ? { user: c.imUser } : {}),
    })),
    messages: withReplies(conv.id),
    ephemerals: ephemeralsFor(ws, conv.id, userId),
    dms: ims(ws).map((c) => ({ user: c.imUser ?? '', channel: c.id, messages: withReplies(c.id) })),
    files: ws.fileStore.map((f) => ({ ...fileInfo(f), url: `/ui/files/${encodeURIComponent(f.id)}` })),
    modal: modal ? { ...publicView(modal), errors: modal.errors ?? {} } : null,
    home: home ? publicView(home) : null,
    html: {
      sidebar: sidebarHtml(v, conv),
      messages: conversationHtml(v, conv),
      dms: dmsHtml(v, conv),
      files: filesHtml(v),
      modal: modal ? modalHtml(v, modal) : '',
      home: home ? homeHtml(v, home) : '<div class="none">Nothing published yet.</div>',
    },
  };
}

function fileInfo(f: StoredFile): JsonObject {
  const out: JsonObject = { id: f.id, title: f.title, filename: f.filename, length: f.length };
  if (f.channel !== undefined) out.channel = f.channel;
  if (f.thread_ts !== undefined) out.thread_ts = f.thread_ts;
  if (f.message_ts !== undefined) out.message_ts = f.message_ts;
  return out;
}

// ---- rendering -----------------------------------------------------------------------------------

const attr = escapeHtml;

function when(ts: string, tz: string): { short: string; full: string } {
  const date = new Date(Number(ts.split('.')[0]) * 1000);
  const format = (zone: string) => ({
    short: new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', timeZone: zone }).format(
      date,
    ),
    full: new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'long', timeZone: zone }).format(
      date,
    ),
  });
  try {
    return format(tz);
  } catch {
    return format('UTC');
  }
}

function avatar(name: string, id: string, small: boolean): string {
  let hash = 0;
  for (const ch of id) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) % 360;
  const initial = (name.trim()[0] ?? '?').toUpperCase();
  return `<div class="avatar${small ? ' small' : ''}" style="background:hsl(${hash},45%,42%)" aria-hidden="true">${escapeHtml(initial)}</div>`;
}

function meta(v: Viewer, author: string, isBot: boolean, ts: string, extra: string): string {
  const t = when(ts, v.tz);
  return (
    `<div class="meta"><span class="author">${escapeHtml(author)}</span>` +
    (isBot ? '<span class="app-badge">APP</span>' : '') +
    `<time title="${attr(t.full)}">${escapeHtml(t.short)}</time>${extra}</div>`
  );
}

function blockContext(v: Viewer, at: TickedAt): BlockContext {
  return {
    dir: v.dir,
    ticked: (actionId, element) => tickedValues(v.ui.ws, at, v.userId, actionId, element),
  };
}

function contentHtml(
  v: Viewer,
  at: TickedAt,
  c: { text: string; blocks: JsonObject[]; attachments?: JsonObject[] },
): string {
  const ctx = blockContext(v, at);
  // Slack shows `text` only when there are no blocks (it is then the notification fallback).
  const main =
    c.blocks.length > 0
      ? renderBlocks(c.blocks, ctx)
      : c.text !== ''
        ? `<div class="b-text">${renderMrkdwn(c.text, v.dir)}</div>`
        : '';
  const attachments = c.attachments?.length ? renderAttachments(c.attachments, ctx) : '';
  return `<div class="content">${main}${attachments}</div>`;
}

function fileCards(m: StoredMessage): string {
  if (!m.files?.length) return '';
  const cards = m.files.map(
    (f) =>
      `<a class="file-card" data-file-id="${attr(f.id)}" href="/ui/files/${attr(encodeURIComponent(f.id))}" target="_blank">` +
      `<span class="file-icon" aria-hidden="true">📄</span><span><strong>${escapeHtml(f.title)}</strong>` +
      `<small>${escapeHtml(f.name)}</small></span></a>`,
  );
  return `<div class="files">${cards.join('')}</div>`;
}

function messageHtml(v: Viewer, m: StoredMessage, cls: 'message' | 'reply', thread: string): string {
  const isBot = m.bot_id !== undefined || m.user === v.ui.ws.botUserId;
  const author = v.dir.users[m.user] ?? m.user;
  const notes =
    (m.edits > 0 ? '<span class="edited">(edited)</span>' : '') +
    (cls === 'message' && m.thread_ts !== undefined ? '<span class="note">replied to a thread</span>' : '');
  return (
    `<div class="${cls}" data-ts="${attr(m.ts)}" data-channel="${attr(m.channel)}">` +
    avatar(author, m.user, cls === 'reply') +
    `<div class="body">${meta(v, author, isBot, m.ts, notes)}` +
    contentHtml(v, { channel: m.channel, ts: m.ts, edits: m.edits }, m) +
    `${fileCards(m)}${thread}</div></div>`
  );
}

function ephemeralHtml(v: Viewer, e: StoredEphemeral, inThread: boolean): string {
  const name = botName(v.ui);
  return (
    `<div class="ephemeral" data-ts="${attr(e.message_ts)}" data-channel="${attr(e.channel)}" data-ephemeral="1">` +
    avatar(name, v.ui.ws.botUserId, inThread) +
    `<div class="body">${meta(v, name, true, e.message_ts, '<span class="only-you">Only visible to you</span>')}` +
    contentHtml(v, { channel: e.channel, ts: e.message_ts, edits: e.edits }, e) +
    `</div></div>`
  );
}

const byTs = <T extends { ts: string }>(a: T, b: T) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0);

/** A conversation's messages in order, each thread (replies visible) under its parent. */
function conversationHtml(v: Viewer, conv: Conversation): string {
  const { ws } = v.ui;
  const messages = topLevel(ws, conv.id);
  const parents = new Set(messages.filter((m) => m.thread_ts === undefined).map((m) => m.ts));
  const ephemerals = ephemeralsFor(ws, conv.id, v.userId);
  const inThread = (e: StoredEphemeral) => e.thread_ts !== undefined && parents.has(e.thread_ts);

  const thread = (parentTs: string): string => {
    const replies = repliesTo(ws, conv.id, parentTs);
    const own = ephemerals.filter((e) => e.thread_ts === parentTs);
    if (replies.length === 0 && own.length === 0) return '';
    const items = [
      ...replies.map((m) => ({ ts: m.ts, html: messageHtml(v, m, 'reply', '') })),
      ...own.map((e) => ({ ts: e.message_ts, html: ephemeralHtml(v, e, true) })),
    ].sort(byTs);
    const count = `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`;
    return (
      `<div class="thread" data-thread="${attr(parentTs)}"><div class="thread-count">${count}</div>` +
      `${items.map((i) => i.html).join('')}</div>`
    );
  };

  const items = [
    ...messages.map((m) => ({
      ts: m.ts,
      html: messageHtml(v, m, 'message', m.thread_ts === undefined ? thread(m.ts) : ''),
    })),
    ...ephemerals
      .filter((e) => !inThread(e))
      .map((e) => ({ ts: e.message_ts, html: ephemeralHtml(v, e, false) })),
  ].sort(byTs);
  if (items.length === 0) {
    return `<div class="empty">No messages in ${escapeHtml(conversationTitle(v, conv))} yet.</div>`;
  }
  return items.map((i) => i.html).join('');
}

function conversationTitle(v: Viewer, conv: Conversation): string {
  if (conv.kind === 'im') return `@${v.dir.users[conv.imUser ?? ''] ?? conv.imUser ?? conv.id}`;
  return conv.kind === 'channel' ? `#${conv.name}` : conv.name;
}

/** Links keep the acting user, except a DM, which only its human can click in. */
function convLink(v: Viewer, conv: Conversation, current: Conversation): string {
  const as = conv.kind === 'im' && conv.imUser ? conv.imUser : v.userId;
  const href = `/channel/${encodeURIComponent(conv.id)}?as=${encodeURIComponent(as)}`;
  const label = conversationTitle(v, conv);
  const cls = `conv${conv.id === current.id ? ' current' : ''}${conv.botIsMember ? '' : ' dim'}`;
  const title = conv.botIsMember ? '' : ' title="the bot is not in this channel"';
  return `<a class="${cls}" href="${attr(href)}"${title}>${escapeHtml(label)}</a>`;
}

function sidebarHtml(v: Viewer, current: Conversation): string {
  const all = [...v.ui.ws.conversations.values()];
  const channels = all.filter((c) => c.kind === 'channel');
  const direct = all.filter((c) => c.kind !== 'channel');
  return (
    `<div class="workspace">${escapeHtml(v.ui.options.title ?? 'Slack emulator')}</div>` +
    `<div class="section-title">Channels</div>${channels.map((c) => convLink(v, c, current)).join('')}` +
    `<div class="section-title">Direct messages</div>` +
    (direct.length ? direct.map((c) => convLink(v, c, current)).join('') : '<div class="none">none yet</div>')
  );
}

function dmsHtml(v: Viewer, current: Conversation): string {
  const sections = ims(v.ui.ws)
    .filter((c) => c.id !== current.id)
    .map(
      (c) =>
        `<section class="dm" data-dm-user="${attr(c.imUser ?? '')}" data-channel="${attr(c.id)}">` +
        `<h3>${convLink(v, c, current)}</h3>${conversationHtml(v, c)}</section>`,
    );
  return sections.length ? sections.join('') : '<div class="none">No direct messages.</div>';
}

function filesHtml(v: Viewer): string {
  const { ws } = v.ui;
  if (ws.fileStore.length === 0) return '<div class="none">No files.</div>';
  return ws.fileStore
    .map((f) => {
      const where =
        f.channel === undefined
          ? 'not shared'
          : `${conversationTitle(v, ws.conversation(f.channel) ?? ({ id: f.channel, name: f.channel, kind: 'channel' } as Conversation))}${f.thread_ts !== undefined ? ' (thread)' : ''}`;
      return (
        `<div class="file" data-file-id="${attr(f.id)}"><a href="/ui/files/${attr(encodeURIComponent(f.id))}" target="_blank">` +
        `${escapeHtml(f.title)}</a><div class="file-meta">${escapeHtml(f.filename)} · ${size(f.length)} · ${escapeHtml(where)}</div></div>`
      );
    })
    .join('');
}

/** The top modal: its title, blocks (inputs as fields with the bot's errors), close and submit. */
function modalHtml(v: Viewer, view: StoredView): string {
  const ctx = blockContext(v, { channel: view.id, ts: view.id, edits: view.updates });
  const body = view.blocks
    .map((b) => {
      if (b.type !== 'input') return renderBlocks([b], ctx);
      const blockId = String(b.block_id);
      const entry = view.state.values[blockId] as JsonObject | undefined;
      const current = entry ? (Object.values(entry)[0] as JsonObject | undefined) : undefined;
      return renderInputField(b, v.dir, view.errors?.[blockId], current);
    })
    .join('');
  const label = (t: JsonObject | undefined, fallback: string) =>
    escapeHtml(typeof t?.text === 'string' ? t.text : fallback);
  const submit = view.submit
    ? `<button type="button" id="modal-submit" class="btn primary">${label(view.submit, 'Submit')}</button>`
    : '';
  return (
    `<div class="dialog modal-dialog"><h3 id="modal-title">${label(view.title, '')}</h3>` +
    `<div class="modal-body">${body}</div><div id="modal-status" role="status"></div>` +
    `<div class="dialog-buttons"><button type="button" id="modal-close" class="btn">${label(view.close, 'Cancel')}</button>${submit}</div></div>`
  );
}

function homeHtml(v: Viewer, view: StoredView): string {
  const ctx = blockContext(v, { channel: view.id, ts: view.id, edits: view.updates });
  return `<div class="home-view" data-view-id="${attr(view.id)}">${renderBlocks(view.blocks, ctx)}</div>`;
}

const size = (n: number) => (n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`);

// ---- the page ------------------------------------------------------------------------------------

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    'cache-control': 'no-store',
  });
  res.end(html);
}

/** JSON safe inside a <script> element (no "</script>" can appear). */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

function pageHtml(ui: UiContext, conv: Conversation, userId: string): string {
  const v = viewer(ui, userId);
  const title = conversationTitle(v, conv);
  const users = [...ui.ws.users.values()];
  const options = users
    .map(
      (u) =>
        `<option value="${attr(u.id)}"${u.id === userId ? ' selected' : ''}>${escapeHtml(u.realName ?? u.name)} (${escapeHtml(u.id)})</option>`,
    )
    .join('');
  const members =
    conv.kind === 'channel' ? `${conv.members.size} members${conv.botIsMember ? ' + bot' : ''}` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} · ${escapeHtml(ui.options.title ?? 'Slack emulator')}</title>
<style>${CSS}</style>
</head>
<body>
<nav id="sidebar">${sidebarHtml(v, conv)}</nav>
<main>
  <header>
    <div><h1 id="channel-name">${escapeHtml(title)}</h1><div class="topic">${escapeHtml(members)}</div></div>
    <div class="acting">
      <label for="acting-user">Acting as</label>
      <select id="acting-user">${options}</select>
      <div id="delivery">${escapeHtml(delivery(ui))}</div>
    </div>
  </header>
  <div id="banner" role="status" hidden></div>
  <div id="messages" data-channel="${attr(conv.id)}"></div>
</main>
<aside id="side-panel">
  <h2>App Home <button type="button" id="open-home" class="btn small">Open</button></h2><div id="home"></div>
  <h2>Direct messages</h2><div id="dms"></div>
  <h2>Files</h2><div id="files"></div>
</aside>
<div id="modal" role="dialog" aria-modal="true" hidden></div>
<div id="confirm-dialog" role="dialog" aria-modal="true" hidden>
  <div class="dialog">
    <h3 id="confirm-title"></h3>
    <p id="confirm-text"></p>
    <div class="dialog-buttons"><button type="button" id="confirm-no" class="btn"></button><button type="button" id="confirm-yes" class="btn primary"></button></div>
  </div>
</div>
<script id="ui-config" type="application/json">${scriptJson({ channelId: conv.id })}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;height:100vh;display:grid;grid-template-columns:220px 1fr 320px;font:15px/1.46 -apple-system,"Segoe UI",Lato,Helvetica,Arial,sans-serif;color:#1d1c1d;background:#fff}
#sidebar{background:#3f0e40;color:#cfc3cf;overflow-y:auto;padding-bottom:16px}
#sidebar .workspace{color:#fff;font-weight:900;font-size:17px;padding:14px 16px;border-bottom:1px solid #5d2c5d}
#sidebar .section-title{padding:14px 16px 4px;font-size:13px;opacity:.8}
#sidebar a.conv{display:block;padding:3px 16px 3px 26px;color:#cfc3cf;text-decoration:none;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#sidebar a.conv:hover{background:#350d36}
#sidebar a.conv.current{background:#1164a3;color:#fff}
#sidebar a.conv.dim{opacity:.55}
.none{padding:4px 16px 4px 26px;font-size:13px;opacity:.7}
main{display:flex;flex-direction:column;min-width:0;border-right:1px solid #ddd}
header{display:flex;justify-content:space-between;align-items:center;gap:12px;padding:8px 20px;border-bottom:1px solid #ddd}
header h1{font-size:18px;margin:0;font-weight:900}
.topic{font-size:12px;color:#616061}
.acting{text-align:right;font-size:13px}
.acting select{font:inherit;margin-left:6px;padding:2px 4px}
#delivery{font-size:11px;color:#616061;margin-top:2px}
#banner{background:#fdecef;color:#a01e3c;padding:6px 20px;font-size:13px}
#messages{flex:1;overflow-y:auto;padding:8px 0 24px}
.message,.ephemeral{display:flex;gap:8px;padding:8px 20px}
.message:hover{background:#f8f8f8}
.ephemeral{background:#f4f8fb}
.reply,.thread .ephemeral{display:flex;gap:8px;padding:6px 0}
.thread .ephemeral{padding:6px 8px;border-radius:6px}
.avatar{flex:0 0 36px;height:36px;border-radius:6px;color:#fff;font-weight:900;display:flex;align-items:center;justify-content:center}
.avatar.small{flex-basis:24px;height:24px;font-size:12px;border-radius:4px}
.body{min-width:0;flex:1}
.meta{display:flex;align-items:baseline;gap:6px;flex-wrap:wrap}
.author{font-weight:900}
.app-badge{font-size:10px;background:#e8e8e8;color:#616061;border-radius:2px;padding:0 3px;font-weight:700}
time,.edited,.note,.only-you{font-size:12px;color:#616061}
.only-you{font-style:italic}
.content{word-wrap:break-word}
.thread{margin-top:6px;border-left:3px solid #e8e8e8;padding-left:10px}
.thread-count{font-size:13px;font-weight:700;color:#1264a3}
.b-header{font-size:18px;font-weight:900;margin:4px 0}
.b-section{display:flex;gap:12px;justify-content:space-between;align-items:flex-start;margin:4px 0}
.b-main{flex:1;min-width:0}
.b-fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px;margin-top:4px}
.b-context{font-size:12px;color:#616061;margin:4px 0;display:flex;gap:8px;flex-wrap:wrap;align-items:center}
.b-divider{border:0;border-top:1px solid #ddd;margin:8px 0}
.b-actions{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0}
.b-image,.image-alt{color:#616061;font-style:italic}
.attachment{border-left:4px solid #ddd;padding-left:10px;margin:4px 0}
.btn{font:inherit;font-size:14px;font-weight:700;padding:4px 12px;border:1px solid #bbb;border-radius:4px;background:#fff;color:#1d1c1d;cursor:pointer}
.btn:hover{background:#f6f6f6}
.btn.primary{background:#007a5a;border-color:#007a5a;color:#fff}
.btn.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.btn:disabled{opacity:.5;cursor:progress}
.checkboxes{display:flex;flex-direction:column;gap:4px}
.checkbox{display:flex;gap:8px;align-items:flex-start;cursor:pointer}
.checkbox input{margin-top:4px}
.description{display:block;font-size:12px;color:#616061}
.unsupported{font-size:12px;color:#999}
pre{background:#f8f8f8;border:1px solid #ddd;border-radius:4px;padding:8px;margin:4px 0;white-space:pre-wrap;font:12px/1.5 Menlo,Consolas,monospace}
code{font:12px Menlo,Consolas,monospace;color:#c01343;background:#f6f6f6;border:1px solid #e3e3e3;border-radius:3px;padding:0 3px}
blockquote{border-left:4px solid #ddd;margin:2px 0;padding-left:10px}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
a{color:#1264a3}
.files{display:flex;gap:8px;flex-wrap:wrap;margin-top:4px}
.file-card{display:flex;gap:8px;align-items:center;border:1px solid #ddd;border-radius:8px;padding:6px 10px;text-decoration:none;color:inherit}
.file-card small{display:block;color:#616061}
.click-error{margin-top:4px;padding:4px 8px;background:#fdecef;color:#a01e3c;border-radius:4px;font-size:13px}
.empty{padding:24px 20px;color:#616061}
#side-panel{overflow-y:auto;padding:0 0 16px;background:#fafafa}
#side-panel h2{font-size:14px;margin:0;padding:12px 16px;border-bottom:1px solid #e8e8e8;background:#fff}
#side-panel .none{padding:8px 16px;color:#616061}
.dm{border-bottom:1px solid #e8e8e8}
.dm h3{margin:0;padding:8px 16px 0;font-size:13px}
.dm .message,.dm .ephemeral{padding:6px 16px}
.file{padding:8px 16px;border-bottom:1px solid #eee}
.file-meta{font-size:12px;color:#616061}
#modal{position:fixed;inset:0;background:rgba(0,0,0,.4);display:flex;align-items:center;justify-content:center}
#modal[hidden]{display:none}
.modal-dialog{width:520px;max-height:90vh;overflow-y:auto}
.field{margin:10px 0}
.field-label{display:block;font-weight:700;margin-bottom:4px}
.field input[type=text],.field textarea,.field select{width:100%;font:inherit;padding:6px 8px;border:1px solid #bbb;border-radius:4px}
.field.has-error input,.field.has-error select,.field.has-error textarea{border-color:#e01e5a}
.field-error{color:#e01e5a;font-size:13px;margin-top:4px}
.optional,.hint{font-size:12px;color:#616061;font-weight:400}
#modal-status{color:#a01e3c;font-size:13px}
.btn.small{font-size:11px;padding:1px 6px;margin-left:6px}
.home-view{padding:8px 16px}
#confirm-dialog{position:fixed;inset:0;background:rgba(0,0,0,.4);display:flex;align-items:center;justify-content:center}
#confirm-dialog[hidden]{display:none}
.dialog{background:#fff;border-radius:8px;padding:20px 24px;max-width:460px;box-shadow:0 10px 30px rgba(0,0,0,.3)}
.dialog h3{margin:0 0 8px}
.dialog-buttons{display:flex;justify-content:flex-end;gap:8px;margin-top:16px}
`;

// Plain ES5-style script (no template literals) so it can sit inside this TS template string.
const SCRIPT = `
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('ui-config').textContent);
  var select = document.getElementById('acting-user');
  var scroller = document.getElementById('messages');
  var panel = document.getElementById('side-panel');
  var banner = document.getElementById('banner');
  var dialog = document.getElementById('confirm-dialog');
  var lastText = '';
  var asked = 0;
  var shown = 0;
  var errors = {};
  var onConfirm = null;

  function say(text) {
    banner.textContent = text;
    banner.hidden = text === '';
  }

  function refresh() {
    var n = ++asked;
    var url = '/ui/state?channel=' + encodeURIComponent(config.channelId) + '&user=' + encodeURIComponent(select.value);
    return fetch(url, { cache: 'no-store' }).then(function (res) {
      return res.text().then(function (text) {
        if (n < shown) return;
        shown = n;
        if (!res.ok) { say('The emulator refused the state request: ' + text); return; }
        say('');
        if (text === lastText) return;
        lastText = text;
        render(JSON.parse(text));
      });
    });
  }

  function render(state) {
    var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    var top = scroller.scrollTop;
    var panelTop = panel.scrollTop;
    document.getElementById('sidebar').innerHTML = state.html.sidebar;
    scroller.innerHTML = state.html.messages;
    document.getElementById('dms').innerHTML = state.html.dms;
    document.getElementById('files').innerHTML = state.html.files;
    document.getElementById('home').innerHTML = state.html.home;
    showModal(state);
    document.getElementById('delivery').textContent = state.delivery;
    showErrors();
    scroller.scrollTop = atBottom ? scroller.scrollHeight : top;
    panel.scrollTop = panelTop;
    document.body.dataset.ready = '1';
  }

  // The modal is re-rendered only when the view itself changes, so typing is never overwritten.
  var modalBox = document.getElementById('modal');
  var modalKey = '';
  function showModal(state) {
    var m = state.modal;
    var key = m ? m.id + '|' + m.hash + '|' + JSON.stringify(m.errors) : '';
    if (key === modalKey) return;
    modalKey = key;
    modalBox.innerHTML = state.html.modal;
    modalBox.hidden = !m;
    if (m) modalBox.dataset.viewId = m.id; else delete modalBox.dataset.viewId;
  }

  function modalValues() {
    var values = {};
    modalBox.querySelectorAll('[data-input-block]').forEach(function (el) {
      var id = el.dataset.inputBlock;
      if (el.type === 'checkbox') {
        values[id] = values[id] || [];
        if (el.checked) values[id].push(el.value);
      } else if (el.value !== '') {
        values[id] = el.value;
      }
    });
    return values;
  }

  function viewAction(path, body) {
    var status = document.getElementById('modal-status');
    body.userId = select.value;
    return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (res) { return res.json(); })
      .then(function (r) {
        if (r.outcome === 'client_errors') {
          modalBox.querySelectorAll('.field').forEach(function (f) {
            var old = f.querySelector('.field-error');
            if (old) old.remove();
            var msg = r.errors[f.dataset.blockId];
            if (!msg) return;
            var box = document.createElement('div');
            box.className = 'field-error';
            box.setAttribute('role', 'alert');
            box.textContent = msg;
            f.appendChild(box);
          });
        } else if (!r.ok && status) status.textContent = r.error || ('the bot answered HTTP ' + r.status);
      })
      .catch(function (e) { if (status) status.textContent = 'the emulator is unreachable: ' + e; })
      .then(function () { lastText = ''; modalKey = '~'; return refresh(); });
  }

  document.addEventListener('click', function (ev) {
    var t = ev.target;
    if (t.id === 'modal-submit') viewAction('/ui/submit', { values: modalValues() });
    else if (t.id === 'modal-close') viewAction('/ui/close', {});
    else if (t.id === 'open-home') viewAction('/ui/home', {});
  });

  function showErrors() {
    Object.keys(errors).forEach(function (key) {
      var at = key.split('|');
      var el = document.querySelector('[data-channel="' + CSS.escape(at[0]) + '"][data-ts="' + CSS.escape(at[1]) + '"]');
      if (!el) return;
      var box = document.createElement('div');
      box.className = 'click-error';
      box.setAttribute('role', 'alert');
      box.textContent = errors[key];
      var content = el.querySelector(':scope > .body > .content');
      if (content) content.after(box); else el.appendChild(box);
    });
  }

  function act(control, where, what) {
    var key = where.dataset.channel + '|' + where.dataset.ts;
    delete errors[key];
    control.disabled = true;
    var body = {
      channelId: where.dataset.channel,
      messageTs: where.dataset.ts,
      actionId: what.actionId,
      userId: select.value
    };
    if (what.value !== undefined) body.value = what.value;
    if (where.dataset.ephemeral === '1') body.ephemeral = true;
    fetch('/ui/click', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (res) { return res.json(); })
      .then(function (r) { if (!r.ok) errors[key] = r.error || ('the bot answered HTTP ' + r.status); })
      .catch(function (e) { errors[key] = 'the click did not reach the emulator: ' + e; })
      .then(function () { lastText = ''; return refresh(); })
      .catch(function (e) { say('The emulator is unreachable: ' + e); });
  }

  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest && ev.target.closest('button[data-action-id]');
    if (!btn || btn.disabled) return;
    var where = btn.closest('[data-ts]');
    if (!where) return;
    var send = function () {
      act(btn, where, { actionId: btn.dataset.actionId });
      if (btn.dataset.url) window.open(btn.dataset.url, '_blank', 'noopener');
    };
    if (btn.dataset.confirm) ask(JSON.parse(btn.dataset.confirm), send); else send();
  });

  document.addEventListener('change', function (ev) {
    var box = ev.target;
    if (!box.matches || !box.matches('input[type=checkbox][data-action-id]')) return;
    var where = box.closest('[data-ts]');
    if (where) act(box, where, { actionId: box.dataset.actionId, value: box.value });
  });

  function ask(d, yes) {
    document.getElementById('confirm-title').textContent = d.title;
    document.getElementById('confirm-text').textContent = d.text;
    var ok = document.getElementById('confirm-yes');
    ok.textContent = d.confirm;
    ok.className = 'btn ' + (d.style === 'danger' ? 'danger' : 'primary');
    document.getElementById('confirm-no').textContent = d.deny;
    onConfirm = yes;
    dialog.hidden = false;
    ok.focus();
  }
  document.getElementById('confirm-yes').addEventListener('click', function () {
    dialog.hidden = true;
    var f = onConfirm;
    onConfirm = null;
    if (f) f();
  });
  document.getElementById('confirm-no').addEventListener('click', function () {
    dialog.hidden = true;
    onConfirm = null;
  });

  select.addEventListener('change', function () {
    var u = new URL(location.href);
    u.searchParams.set('as', select.value);
    history.replaceState(null, '', u);
    errors = {};
    lastText = '';
    refresh();
  });

  function loop() {
    refresh()
      .catch(function (e) { say('The emulator is unreachable: ' + e); })
      .then(function () { setTimeout(loop, 700); });
  }
  loop();
})();
`;
