// The emulated workspace: who exists, who is in which conversation, and every message, ephemeral,
// file and call. All other modules read and write through this one object so the rules about
// membership and threads live in one place.

import type {
  CallRecord,
  EmulatedUser,
  EmulatorWarning,
  JsonObject,
  Rejection,
  SlackEmulatorOptions,
  StoredEphemeral,
  StoredFile,
  StoredMessage,
} from './types.js';
import { TRIGGER_TTL_MS, ViewStore } from './views.js';

export interface Conversation {
  id: string;
  name: string;
  kind: 'channel' | 'im' | 'mpim';
  members: Set<string>;
  botIsMember: boolean;
  /** For an IM: the human on the other side. */
  imUser?: string;
}

/** A file between files.getUploadURLExternal and files.completeUploadExternal. */
export interface PendingUpload {
  id: string;
  filename: string;
  length: number;
  ticket: string;
  data?: Buffer;
  completed: boolean;
}

/** Where a response_url's replace_original / delete_original apply. */
export type ResponseOrigin =
  | { kind: 'message'; channel: string; ts: string }
  | { kind: 'ephemeral'; message_ts: string };

export interface ResponseUrlState {
  id: string;
  createdAt: number;
  uses: number;
  /** The user who ran the command or clicked: ephemeral responses go to them. */
  userId: string;
  channelId: string;
  source: 'slash_command' | 'block_actions';
  origin?: ResponseOrigin;
  /** Thread of the clicked message, inherited by new messages posted through this URL. */
  threadTs?: string;
}

export class Workspace {
  readonly botToken: string;
  readonly appToken: string | undefined;
  readonly signingSecret: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  readonly appId: string;
  readonly teamDomain: string;
  readonly verificationToken: string;
  readonly users = new Map<string, EmulatedUser>();
  readonly usergroups = new Map<string, string[]>();
  readonly conversations = new Map<string, Conversation>();
  readonly ephemeralStore: StoredEphemeral[] = [];
  readonly fileStore: StoredFile[] = [];
  readonly pendingUploads = new Map<string, PendingUpload>();
  readonly responseUrls = new Map<string, ResponseUrlState>();
  /** Checkbox selections per user: `${channel}|${ts}|${edits}|${user}|${action_id}` → option values. */
  readonly checkboxState = new Map<string, string[]>();
  readonly callLog: CallRecord[] = [];
  readonly rejections: Rejection[] = [];
  readonly warningLog: EmulatorWarning[] = [];
  rateLimitedCount = 0;
  /** Modals, Home tabs and the trigger_ids that open them. */
  readonly views: ViewStore;

  private readonly messagesByChannel = new Map<string, StoredMessage[]>();
  private readonly imByUser = new Map<string, string>();
  private readonly mpimByMembers = new Map<string, string>();
  private lastTsMicros = 0;
  private convCounter = 0;

  constructor(o: SlackEmulatorOptions) {
    this.botToken = o.botToken;
    this.appToken = o.appToken;
    this.signingSecret = o.signingSecret;
    this.botUserId = o.botUserId ?? 'UBOT000001';
    this.botId = o.botId ?? 'BBOT000001';
    this.teamId = o.teamId ?? 'T0EMULATED';
    this.appId = o.appId ?? 'A0EMULATED';
    this.teamDomain = o.teamDomain ?? 'emulated';
    this.verificationToken = o.verificationToken ?? 'emulator-verification-token';
    this.views = new ViewStore(o.triggerTtlMs ?? TRIGGER_TTL_MS);
    for (const u of o.users) this.users.set(u.id, u);
    for (const [id, members] of Object.entries(o.usergroups ?? {})) this.usergroups.set(id, [...members]);
    for (const c of o.channels) {
      for (const m of c.members) {
        if (!this.users.has(m)) throw new Error(`slack emulator: channel ${c.id} lists unknown user ${m}`);
      }
      this.conversations.set(c.id, {
        id: c.id,
        name: c.name,
        kind: 'channel',
        members: new Set(c.members),
        botIsMember: c.botIsMember !== false,
      });
    }
  }

  /** A fresh message timestamp: "<seconds>.<6 digits>", unique and strictly increasing. */
  nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastTsMicros + 1);
    this.lastTsMicros = micros;
    const seconds = Math.floor(micros / 1_000_000);
    return `${seconds}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  conversation(id: string): Conversation | undefined {
    return this.conversations.get(id);
  }

  isUserMember(conv: Conversation, userId: string): boolean {
    return conv.members.has(userId);
  }

  /** The IM between the bot and one user, created on first use; the same id every time. */
  openIm(userId: string): Conversation {
    const existing = this.imByUser.get(userId);
    if (existing) return this.conversations.get(existing)!;
    this.convCounter += 1;
    const id = `D0EMU${String(this.convCounter).padStart(5, '0')}`;
    const conv: Conversation = {
      id,
      name: 'directmessage',
      kind: 'im',
      members: new Set([userId]),
      botIsMember: true,
      imUser: userId,
    };
    this.conversations.set(id, conv);
    this.imByUser.set(userId, id);
    return conv;
  }

  imFor(userId: string): Conversation | undefined {
    const id = this.imByUser.get(userId);
    return id === undefined ? undefined : this.conversations.get(id);
  }

  /** A group DM between the bot and 2..8 users, stable per set of users. */
  openMpim(userIds: string[]): Conversation {
    const key = [...userIds].sort().join(',');
    const existing = this.mpimByMembers.get(key);
    if (existing) return this.conversations.get(existing)!;
    this.convCounter += 1;
    const id = `G0EMU${String(this.convCounter).padStart(5, '0')}`;
    const conv: Conversation = {
      id,
      name: `mpdm-${userIds.map((u) => this.users.get(u)?.name ?? u).join('--')}-1`,
      kind: 'mpim',
      members: new Set(userIds),
      botIsMember: true,
    };
    this.conversations.set(id, conv);
    this.mpimByMembers.set(key, id);
    return conv;
  }

  /** Every message of a channel (top-level and replies) in posting order, deleted ones excluded. */
  allMessages(channel: string): StoredMessage[] {
    return this.messagesByChannel.get(channel) ?? [];
  }

  findMessage(channel: string, ts: string): StoredMessage | undefined {
    return this.allMessages(channel).find((m) => m.ts === ts);
  }

  addMessage(m: StoredMessage): void {
    const list = this.messagesByChannel.get(m.channel) ?? [];
    list.push(m);
    this.messagesByChannel.set(m.channel, list);
  }

  removeMessage(channel: string, ts: string): void {
    const list = this.messagesByChannel.get(channel) ?? [];
    this.messagesByChannel.set(
      channel,
      list.filter((m) => m.ts !== ts),
    );
  }

  /** Replaces a stored message's content, keeping its history. */
  replaceContent(m: StoredMessage, text: string, blocks: JsonObject[], via: string): void {
    m.history.push({ text: m.text, blocks: m.blocks, replacedBy: via, at: Date.now() });
    m.text = text;
    m.blocks = blocks;
    m.edits += 1;
  }

  /**
   * Resolves a thread_ts the way Slack does: a top-level ts threads under it; a reply's ts threads
   * under that reply's parent (Slack's docs say "avoid"; it still lands in the thread); anything else
   * is posted unthreaded. The last two are recorded as warnings.
   */
  resolveThread(method: string, channel: string, threadTs: string | undefined): string | undefined {
    if (threadTs === undefined || threadTs === '') return undefined;
    const target = this.findMessage(channel, threadTs);
    if (!target) {
      this.warn(
        method,
        'thread_ts_not_found',
        `thread_ts ${threadTs} matches no message in ${channel}; posted unthreaded`,
      );
      return undefined;
    }
    if (target.thread_ts !== undefined) {
      this.warn(
        method,
        'thread_ts_is_a_reply',
        `thread_ts ${threadTs} is a reply; used its parent ${target.thread_ts}`,
      );
      return target.thread_ts;
    }
    return threadTs;
  }

  botMessage(channel: string, text: string, blocks: JsonObject[], via: string): StoredMessage {
    return {
      type: 'message',
      ts: this.nextTs(),
      channel,
      user: this.botUserId,
      bot_id: this.botId,
      app_id: this.appId,
      team: this.teamId,
      text,
      blocks,
      edits: 0,
      history: [],
      via,
    };
  }

  warn(method: string, warning: string, detail: string): void {
    this.warningLog.push({ method, warning, detail });
  }

  record(call: CallRecord, rejection?: Rejection): void {
    this.callLog.push(call);
    if (rejection) this.rejections.push(rejection);
  }
}

/** The message object Slack returns and sends in payloads (no emulator bookkeeping fields). */
export function publicMessage(m: StoredMessage): JsonObject {
  const out: JsonObject = {
    type: 'message',
    ts: m.ts,
    user: m.user,
    team: m.team,
    text: m.text,
    blocks: m.blocks,
  };
  if (m.bot_id !== undefined) out.bot_id = m.bot_id;
  if (m.app_id !== undefined) out.app_id = m.app_id;
  if (m.attachments !== undefined) out.attachments = m.attachments;
  if (m.thread_ts !== undefined) out.thread_ts = m.thread_ts;
  if (m.reply_broadcast) out.subtype = 'thread_broadcast';
  if (m.files !== undefined) out.files = m.files;
  const lastEdit = m.history.at(-1);
  if (lastEdit) out.edited = { user: m.user, ts: `${Math.floor(lastEdit.at / 1000)}.000000` };
  return out;
}
