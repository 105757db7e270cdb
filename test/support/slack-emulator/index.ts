// A strict local Slack for tests. It speaks the Web API the way @slack/web-api 8 calls it
// (point the client at `${url}/api/` with slackApiUrl), signs and sends slash commands and button
// clicks to the bot exactly like Slack, serves response_url and the file upload URL, and (with an
// appToken) Socket Mode. Its job is to say no where Slack says no, with Slack's error codes, so a
// test that passes here has not merely been humoured.
//
//   const slack = await startSlackEmulator({ botToken, signingSecret, users, channels });
//   new App({ token: botToken, signingSecret, clientOptions: { slackApiUrl: `${slack.url}/api/` } });
//   await slack.sendSlashCommand({ botUrl, command: '/ops', text: 'rollback web prod', userId, channelId });
//   expect(slack.messages(channelId)).toHaveLength(1); expect(slack.rejected()).toEqual([]);
//
// Layout: web-api.ts (methods) · block-kit.ts (validation) · message-content.ts (text/blocks rules)
// · files.ts (upload v2) · response-url.ts · inbound.ts (signing, commands, clicks) · rate-limit.ts
// · socket-mode.ts · views.ts (modals, App Home) · view-inbound.ts (submissions, app_home_opened)
// · workspace.ts (state) · http.ts (plumbing) · types.ts · channel-page.ts and
// ui-render.ts (the workspace as a web page at `/`, for demos and browser tests; see pageUrl()).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleUi, type UiContext } from './channel-page.js';
import type { ApiContext } from './context.js';
import { receiveUpload } from './files.js';
import { bearer, decodeArgs, readBody, sendJson, sendText } from './http.js';
import {
  type CheckboxOptions,
  type ClickOptions,
  clickButton,
  type DeliveryOptions,
  type InboundContext,
  type SlashCommandOptions,
  sendSlashCommand,
  toggleCheckbox,
} from './inbound.js';
import { KeyedBuckets, TokenBucket } from './rate-limit.js';
import { handleResponseUrl } from './response-url.js';
import { SocketHub } from './socket-mode.js';
import type {
  CallRecord,
  EmulatorWarning,
  InboundResult,
  Rejection,
  SlackEmulatorOptions,
  StoredEphemeral,
  StoredFile,
  StoredMessage,
} from './types.js';
import {
  type ChooseInViewOptions,
  chooseInView,
  closeView,
  openAppHome,
  type SubmitResult,
  type SubmitViewOptions,
  submitView,
} from './view-inbound.js';
import type { StoredView } from './views.js';
import { callApi } from './web-api.js';
import { Workspace } from './workspace.js';

export type {
  CheckboxOptions,
  ClickOptions,
  OutboundRequest,
  SlashCommandOptions,
  Transport,
  TransportAnswer,
} from './inbound.js';
export { signature } from './inbound.js';
export { findLiveMarkup, type LiveMarkupOptions } from './live-markup.js';
export type * from './types.js';
export type {
  ChooseInViewOptions,
  SubmitOutcome,
  SubmitResult,
  SubmitViewOptions,
} from './view-inbound.js';
export type { StoredView } from './views.js';

export interface SlackEmulator {
  /** Base URL, e.g. http://127.0.0.1:PORT. The Web API is at `${url}/api/` (use as slackApiUrl). */
  url: string;
  /** Sign and send a slash command like Slack. */
  sendSlashCommand(
    o: SlashCommandOptions,
  ): Promise<InboundResult & { responseUrl: string; triggerId: string }>;
  /** Click a button that is in the current version of the message (throws if it is not). */
  clickButton(o: ClickOptions): Promise<InboundResult>;
  /** Tick or untick one option of a checkboxes element (block_actions with selected_options). */
  toggleCheckbox(o: CheckboxOptions): Promise<InboundResult>;
  /** Pick an option of a select in the user's top modal (block_actions when it has dispatch_action). */
  chooseInView(o: ChooseInViewOptions): Promise<InboundResult>;
  /** Submit the user's top modal with their input by block_id; the bot's ack decides what follows. */
  submitView(o: SubmitViewOptions): Promise<SubmitResult>;
  /** The user closes their top modal (view_closed reaches the bot only with notify_on_close). */
  closeView(o: DeliveryOptions & { userId: string }): Promise<InboundResult | undefined>;
  /** The user opens the App Home tab: app_home_opened through the Events API. */
  openAppHome(o: DeliveryOptions & { userId: string }): Promise<InboundResult>;
  /** What one user sees: their open modals (root first, with errors shown) and their Home tab. */
  views(userId: string): { modals: StoredView[]; home?: StoredView };
  /** Top-level messages of a channel in order, current content (broadcast replies included). */
  messages(channelId: string): StoredMessage[];
  /** Replies in a thread (without the parent), in order. */
  thread(channelId: string, threadTs: string): StoredMessage[];
  /** Ephemeral messages (chat.postEphemeral, response_url, command acks), deleted ones excluded. */
  ephemerals(filter?: { userId?: string; channelId?: string }): StoredEphemeral[];
  /** Top-level messages in the bot's IM with this user. */
  dms(userId: string): StoredMessage[];
  /** Completed uploads with their bytes. */
  files(): StoredFile[];
  /** Every call, optionally only one method ('upload_url', 'response_url', 'command_ack' included). */
  calls(method?: string): CallRecord[];
  /** Every answer with ok:false, and why (429s are not here; see rateLimited()). */
  rejected(): Rejection[];
  /** Accepted-but-suspicious things (thread_ts matching nothing, truncated text, …). */
  warnings(): EmulatorWarning[];
  /** How many HTTP 429s were returned. */
  rateLimited(): number;
  /** Adds a message written by a human (e.g. to thread under, or to see cant_update_message). */
  addUserMessage(o: { channelId: string; userId: string; text: string; threadTs?: string }): StoredMessage;
  /** Whether a Socket Mode client is connected. */
  socketConnected(): boolean;
  /**
   * URL of the channel page (a channel or DM id; default the first channel). Open it in a browser:
   * it shows messages, threads, DMs and files live, and its buttons click as the chosen user.
   */
  pageUrl(channelId?: string): string;
  /** Where the page's clicks are delivered (the bot's request URL); undefined → Socket Mode. */
  setBotUrl(url: string | undefined): void;
  /**
   * A Slack outage for `ms`: Web API and upload requests hang (a hung Slack, not a fast error), and
   * those still open when it ends get HTTP 503. Returns when it starts.
   */
  outage(ms: number): void;
  close(): Promise<void>;
}

const copy = <T>(v: T): T => structuredClone(v);

export async function startSlackEmulator(o: SlackEmulatorOptions): Promise<SlackEmulator> {
  if (!o.botToken) throw new Error('slack emulator: botToken is required');
  if (!o.signingSecret) throw new Error('slack emulator: signingSecret is required');
  const ws = new Workspace(o);
  const defaultUserId = o.ui?.defaultUserId;
  if (defaultUserId !== undefined && !ws.users.has(defaultUserId)) {
    throw new Error(`slack emulator: ui.defaultUserId ${defaultUserId} is not one of the users`);
  }
  let botUrl = o.ui?.botUrl;
  const ttlMs = o.responseUrlTtlMs ?? 30 * 60 * 1000;

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  const socket = o.appToken ? new SocketHub(`ws://127.0.0.1:${port}`, ws.appId) : undefined;
  const api: ApiContext = {
    ws,
    baseUrl,
    postLimiter: new KeyedBuckets(o.rateLimit ?? { perSecond: 1, burst: 3 }),
    updateLimiter: new TokenBucket(o.updateRateLimit ?? { perSecond: 50 / 60, burst: 50 }),
    viewsLimiter: new KeyedBuckets(o.viewsRateLimit ?? { perSecond: 100 / 60, burst: 100 }),
    ...(socket ? { openSocketUrl: () => socket.openUrl() } : {}),
  };
  const inbound: InboundContext = {
    ws,
    baseUrl,
    ackTimeoutMs: o.ackTimeoutMs ?? 3000,
    ...(socket ? { socket } : {}),
  };
  const ui: UiContext = {
    ws,
    inbound,
    options: o.ui ?? {},
    botUrl: () => botUrl,
    socketConnected: () => socket?.connected ?? false,
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendText(res, 500, `slack emulator error: ${String(e)}`);
      else res.destroy();
    });
  });
  server.on('upgrade', (req, sock) => {
    if (!socket?.upgrade(req, sock)) sock.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  });

  let outageUntil = 0;
  const held = new Set<ServerResponse>();
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const path = url.pathname;
    const body = await readBody(req);
    if ((path.startsWith('/api/') || path.startsWith('/upload/')) && Date.now() < outageUntil) {
      held.add(res);
      res.on('close', () => held.delete(res));
      setTimeout(() => {
        held.delete(res);
        if (!res.writableEnded && !res.destroyed)
          sendJson(res, 503, { ok: false, error: 'service_unavailable' });
      }, outageUntil - Date.now());
      return;
    }
    if (path.startsWith('/api/')) {
      const method = decodeURIComponent(path.slice('/api/'.length));
      const answer = callApi(api, method, await decodeArgs(req, body), bearer(req));
      sendJson(res, answer.status, answer.body, answer.headers);
      return;
    }
    if (req.method === 'POST' && path.startsWith('/upload/v1/')) {
      const ticket = path.slice('/upload/v1/'.length);
      const up = await receiveUpload(api, ticket, req.headers['content-type'], body);
      const call = {
        method: 'upload_url',
        args: { file_id: up.fileId ?? null, bytes: body.length },
        ok: up.status === 200,
        status: up.status,
        at: Date.now(),
        ...(up.error ? { error: up.error } : {}),
      };
      ws.record(call, up.error ? { method: 'upload_url', error: up.error, args: call.args } : undefined);
      sendText(res, up.status, up.text);
      return;
    }
    if (req.method === 'POST' && path.startsWith('/response/')) {
      const answer = handleResponseUrl(ws, ttlMs, path.slice('/response/'.length), body);
      sendJson(res, answer.status, answer.body);
      return;
    }
    if (await handleUi(ui, req, res, url, body)) return;
    sendText(res, 404, 'not_found');
  }

  const topLevel = (channelId: string) =>
    ws.allMessages(channelId).filter((m) => m.thread_ts === undefined || m.reply_broadcast === true);

  return {
    url: baseUrl,
    sendSlashCommand: (x) => sendSlashCommand(inbound, x),
    clickButton: (x) => clickButton(inbound, x),
    toggleCheckbox: (x) => toggleCheckbox(inbound, x),
    chooseInView: (x) => chooseInView(inbound, x),
    submitView: (x) => submitView(inbound, x),
    closeView: (x) => closeView(inbound, x),
    openAppHome: (x) => openAppHome(inbound, x),
    views: (userId) => {
      const home = ws.views.home(userId);
      return { modals: copy(ws.views.stack(userId)), ...(home ? { home: copy(home) } : {}) };
    },
    messages: (channelId) => copy(topLevel(channelId)),
    thread: (channelId, threadTs) => copy(ws.allMessages(channelId).filter((m) => m.thread_ts === threadTs)),
    ephemerals: (filter = {}) =>
      copy(
        ws.ephemeralStore.filter(
          (e) =>
            !e.deleted &&
            (filter.userId === undefined || e.user === filter.userId) &&
            (filter.channelId === undefined || e.channel === filter.channelId),
        ),
      ),
    dms: (userId) => {
      const im = ws.imFor(userId);
      return im ? copy(topLevel(im.id)) : [];
    },
    files: () => ws.fileStore.map((f) => ({ ...f, content: Buffer.from(f.content) })),
    calls: (method) =>
      copy(method === undefined ? ws.callLog : ws.callLog.filter((c) => c.method === method)),
    rejected: () => copy(ws.rejections),
    warnings: () => copy(ws.warningLog),
    rateLimited: () => ws.rateLimitedCount,
    addUserMessage: ({ channelId, userId, text, threadTs }) => {
      const conv = ws.conversation(channelId);
      if (!conv) throw new Error(`slack emulator: unknown channel ${channelId}`);
      if (!ws.isUserMember(conv, userId)) throw new Error(`slack emulator: ${userId} is not in ${channelId}`);
      const thread = ws.resolveThread('user', channelId, threadTs);
      const m: StoredMessage = {
        type: 'message',
        ts: ws.nextTs(),
        channel: channelId,
        user: userId,
        team: ws.teamId,
        text,
        blocks: [],
        edits: 0,
        history: [],
        via: 'user',
        ...(thread !== undefined ? { thread_ts: thread } : {}),
      };
      ws.addMessage(m);
      return copy(m);
    },
    socketConnected: () => socket?.connected ?? false,
    pageUrl: (channelId) => {
      if (channelId === undefined) return `${baseUrl}/`;
      if (!ws.conversation(channelId)) throw new Error(`slack emulator: unknown channel ${channelId}`);
      return `${baseUrl}/channel/${encodeURIComponent(channelId)}`;
    },
    outage: (ms) => {
      outageUntil = Date.now() + ms;
    },
    setBotUrl: (url) => {
      botUrl = url;
    },
    close: async () => {
      socket?.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
