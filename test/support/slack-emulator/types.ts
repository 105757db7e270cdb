// The emulator's public shapes, in one place so every module (and every test) agrees on them.
// Field names follow Slack's own payloads (snake_case) where the value is something Slack would
// show; camelCase is kept for the emulator's own options.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface EmulatedUser {
  id: string;
  name: string;
  realName?: string;
  /** IANA zone, e.g. 'Europe/Berlin'. Default 'UTC'. */
  tz?: string;
}

export interface EmulatedChannel {
  id: string;
  name: string;
  /** Human members (user ids). The bot is a member unless `botIsMember` is false. */
  members: string[];
  /** Default true. false → chat.postMessage & co. answer not_in_channel (no chat:write.public). */
  botIsMember?: boolean;
}

export interface TokenBucketOptions {
  perSecond: number;
  burst: number;
}

export interface SlackEmulatorOptions {
  /** e.g. 'xoxb-test-...'; any other token → invalid_auth; no token → not_authed. */
  botToken: string;
  /** Used to sign requests the emulator sends to the bot. */
  signingSecret: string;
  botUserId?: string;
  botId?: string;
  teamId?: string;
  appId?: string;
  /** Workspace subdomain: team_domain in payloads and auth.test's url. Default 'emulated'. */
  teamDomain?: string;
  users: EmulatedUser[];
  /** subteam id → member user ids */
  usergroups?: Record<string, string[]>;
  channels: EmulatedChannel[];
  /** chat.postMessage per channel: token bucket. Default 1 per second, burst 3. */
  rateLimit?: TokenBucketOptions;
  /** chat.update per workspace (Slack tier 3, 50+/min). Default 50/60 per second, burst 50. */
  updateRateLimit?: TokenBucketOptions;
  /** views.* per method per workspace (Slack tier 4, 100+/min). Default 100/60 per second, burst 100. */
  viewsRateLimit?: TokenBucketOptions;
  /** How long a trigger_id can open a view. Default 3000 ms (Slack's figure); tests of expiry lower it. */
  triggerTtlMs?: number;
  /** How long a response_url stays usable. Default 30 minutes (Slack's figure). */
  responseUrlTtlMs?: number;
  /** How long Slack waits for the bot's HTTP ack before giving up. Default 3000 ms. */
  ackTimeoutMs?: number;
  /** Legacy verification token put in the `token` field of payloads. */
  verificationToken?: string;
  /**
   * App-level token ('xapp-...'). When set, apps.connections.open works with it and the bot can
   * connect in Socket Mode; inbound helpers called without `botUrl` then go over the socket.
   */
  appToken?: string;
  /** The channel page served at `/` (see channel-page.ts). */
  ui?: SlackEmulatorUiOptions;
}

export interface SlackEmulatorUiOptions {
  /**
   * The bot's request URL for clicks made on the page. Can be set later with setBotUrl() (a demo
   * starts the emulator before the bot). Without one, clicks go over Socket Mode if it is connected.
   */
  botUrl?: string;
  /** Workspace name shown on the page and in its title. Default 'Slack emulator'. */
  title?: string;
  /** The user the page acts as at first (the `as` query parameter overrides). Default: the first of `users`. */
  defaultUserId?: string;
  /** The bot's name on its messages. Default 'bot'. */
  botName?: string;
  /** subteam id → handle without the @, to show <!subteam^S…> mentions by name. */
  groupHandles?: Record<string, string>;
}

/** A message as it currently stands in a channel (after updates). */
export interface StoredMessage {
  type: 'message';
  ts: string;
  channel: string;
  /** Author: the bot user id for everything the bot posted. */
  user: string;
  bot_id?: string;
  app_id?: string;
  team: string;
  text: string;
  blocks: JsonObject[];
  attachments?: JsonObject[];
  /** Set only on replies (unlike Slack, the parent does not carry its own ts here). */
  thread_ts?: string;
  reply_broadcast?: boolean;
  /** Files shared with this message (files.completeUploadExternal). */
  files?: { id: string; name: string; title: string }[];
  /** How many times the content was replaced (chat.update or response_url replace_original). */
  edits: number;
  /** Earlier versions, oldest first, each with what replaced it ('chat.update' / 'response_url') and when. */
  history: { text: string; blocks: JsonObject[]; replacedBy: string; at: number }[];
  /** What created it: 'chat.postMessage', 'response_url', 'command_ack', 'files.completeUploadExternal', 'user'. */
  via: string;
  /** chat.postMessage cut `text` to 40,000 characters. */
  truncated?: boolean;
}

/** An ephemeral message: visible only to `user`, never in the channel history. */
export interface StoredEphemeral {
  message_ts: string;
  channel: string;
  /** The user who sees it. */
  user: string;
  text: string;
  blocks: JsonObject[];
  thread_ts?: string;
  /** 'chat.postEphemeral', 'response_url' or 'command_ack' (the body of the bot's HTTP answer). */
  via: string;
  edits: number;
  deleted?: boolean;
}

export interface StoredFile {
  id: string;
  filename: string;
  title: string;
  length: number;
  content: Buffer;
  /** content decoded as UTF-8 */
  text: string;
  /** undefined when completed without channel_id (a private file) */
  channel?: string;
  thread_ts?: string;
  initial_comment?: string;
  /** ts of the message that shares the file */
  message_ts?: string;
  user: string;
}

export interface CallRecord {
  /** Web API method, or 'upload_url' / 'response_url' for those endpoints. */
  method: string;
  args: Record<string, unknown>;
  ok: boolean;
  error?: string;
  /** HTTP status the emulator answered with. */
  status: number;
  at: number;
}

export interface Rejection {
  method: string;
  error: string;
  messages?: string[];
  args?: Record<string, unknown>;
}

/** Things Slack accepts silently but that usually mean a bug (e.g. a thread_ts that matches nothing). */
export interface EmulatorWarning {
  method: string;
  warning: string;
  detail: string;
}

export interface InboundResult {
  /** HTTP status of the bot's answer; 0 when it did not answer within ackTimeoutMs (or the socket ack never came). */
  status: number;
  body: string;
  ms: number;
  timedOut: boolean;
}
