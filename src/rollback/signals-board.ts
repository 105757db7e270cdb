// The incident thread's one Signals message: what it shows (pure), and the one writer per incident
// that keeps it current. An alert storm changes the message thousands of times a minute while Slack
// allows about 50 edits a minute per workspace, so edits are coalesced: at most one call in flight
// per incident, and when it returns the next call carries the newest text (the versions between are
// never sent). Slack's own 429 + Retry-After then paces each incident's edits, and nothing else
// (the signal queue, the webhook) waits behind them.

import { escapeMrkdwn as esc } from '../escape-mrkdwn.js';
import type { Incident, Logger, NotifierPort, SignalEntry } from './ports.js';
import type { Signal } from './signal.js';

/** The Signals message shows at most this many signals (newest first). */
const BOARD_LINES = 20;
const BOARD_CHARS = 2400;
/** Signals kept per incident for that message. */
const STORED_SIGNALS = 100;
/** Incidents whose message this process remembers (ts, newest text); the idle oldest are forgotten. */
const BOARDS_KEPT = 1000;

export const utc = (t: string) => `${t.slice(0, 19).replace('T', ' ')} UTC`;
const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);

/** The Signals message: one line per signal, firing first, then resolved, then context. */
export function buildSignalsText(entries: Record<string, SignalEntry>): string {
  const rank = (e: SignalEntry) => (e.context ? 2 : e.status === 'firing' ? 0 : 1);
  const all = Object.values(entries).sort(
    (a, b) => rank(a) - rank(b) || b.updatedAt.localeCompare(a.updatedAt),
  );
  const lines: string[] = [];
  let size = 0;
  for (const e of all.slice(0, BOARD_LINES)) {
    const icon = e.context
      ? ':white_circle:'
      : e.status === 'firing'
        ? ':red_circle:'
        : ':large_green_circle:';
    const parts = [
      `${icon} *${esc(e.name)}* ${e.context ? 'context' : e.status}`,
      `since ${utc(esc(e.since))}`,
    ];
    if (e.value) parts.push(`value ${esc(clip(e.value, 60))}`);
    if (e.threshold) parts.push(`threshold ${esc(clip(e.threshold, 80))}`);
    const why = e.context ? ` — not a trigger: ${esc(clip(e.context, 120))}` : '';
    const line = `${parts.join(' · ')} — ${esc(clip(e.summary, 160))}${why}`;
    // One Slack section holds 3000 characters (escaping may add some): stop well before.
    if (size + line.length > BOARD_CHARS) break;
    lines.push(line);
    size += line.length + 1;
  }
  const firing = all.filter((e) => !e.context && e.status === 'firing').length;
  const more = all.length > lines.length ? `\n…and ${all.length - lines.length} more` : '';
  return `*Signals* (${firing} firing, updated in place)\n${lines.join('\n')}${more}`;
}

/**
 * Adds or replaces entries by signal key, keeping the newest STORED_SIGNALS (an incident is one Redis
 * value). One copy and at most one sort per call, however many entries a storm's batch brings.
 */
export function withEntries(
  entries: Record<string, SignalEntry> | undefined,
  added: Iterable<[string, SignalEntry]>,
): Record<string, SignalEntry> {
  const next = { ...entries };
  for (const [key, e] of added) {
    delete next[key]; // re-added at the end: insertion order stays oldest → newest
    next[key] = e;
  }
  const keys = Object.keys(next);
  if (keys.length <= STORED_SIGNALS) return next;
  keys.sort((a, b) => (next[a]?.updatedAt ?? '').localeCompare(next[b]?.updatedAt ?? ''));
  for (const k of keys.slice(0, keys.length - STORED_SIGNALS)) delete next[k];
  return next;
}

/** Adds or replaces one entry (see withEntries). */
export const withEntry = (entries: Record<string, SignalEntry> | undefined, key: string, e: SignalEntry) =>
  withEntries(entries, [[key, e]]);

export const entryOf = (s: Signal, at: string): SignalEntry => ({
  name: s.name,
  source: s.source,
  status: s.status,
  summary: s.summary,
  since: s.why.since,
  ...(s.why.value ? { value: s.why.value } : {}),
  ...(s.why.threshold ? { threshold: s.why.threshold } : {}),
  ...(s.context ? { context: s.context } : {}),
  updatedAt: at,
});

interface Board {
  service: string;
  thread: { channel: string; ts: string };
  ts: string | undefined;
  text: string;
  /** Bumped by every update; `sent` is the newest version a finished call carried. */
  version: number;
  sent: number;
  running: boolean;
  waiters: { version: number; resolve: () => void }[];
}

export function createSignalsBoard(o: {
  notifier: Pick<NotifierPort, 'upsertSignals'>;
  logger: Logger;
  /** The message's ts became known (its first post): the incident record should keep it. */
  onPosted?: (incident: { key: string; service: string }, ts: string) => void;
}) {
  const boards = new Map<string, Board>();

  function forgetIdle(): void {
    for (const [key, b] of boards) {
      if (boards.size <= BOARDS_KEPT) return;
      if (!b.running) boards.delete(key);
    }
  }

  async function pump(key: string, b: Board): Promise<void> {
    b.running = true;
    try {
      while (b.sent < b.version) {
        const version = b.version;
        try {
          const ts = await o.notifier.upsertSignals(b.thread, b.ts, b.text);
          if (ts && ts !== b.ts) {
            b.ts = ts;
            o.onPosted?.({ key, service: b.service }, ts);
          }
        } catch (err) {
          // The entries are saved with the incident; the next update re-renders the whole message.
          o.logger.warn('signals message not updated', { key, error: (err as Error).message });
        }
        b.sent = version;
        const done = b.waiters.filter((w) => w.version <= version);
        b.waiters = b.waiters.filter((w) => w.version > version);
        for (const w of done) w.resolve();
      }
    } finally {
      b.running = false;
    }
  }

  return {
    /**
     * Shows the incident's signals; resolves once a call carrying this text (or a newer one) has
     * returned. Never throws: a failed edit is logged and the next update carries everything.
     */
    update(incident: Incident): Promise<void> {
      if (!incident.thread || !incident.signals) return Promise.resolve();
      const text = buildSignalsText(incident.signals);
      let b = boards.get(incident.key);
      if (!b) {
        b = {
          service: incident.service,
          thread: incident.thread,
          ts: incident.signalsTs,
          text,
          version: 0,
          sent: 0,
          running: false,
          waiters: [],
        };
        boards.set(incident.key, b);
        forgetIdle();
      }
      b.thread = incident.thread;
      b.ts ??= incident.signalsTs;
      b.text = text;
      b.version += 1;
      const version = b.version;
      const done = new Promise<void>((resolve) => b.waiters.push({ version, resolve }));
      if (!b.running) void pump(incident.key, b);
      return done;
    },
    /** The message's ts, once posted (an incident read before the post does not have it yet). */
    tsOf: (incidentKey: string): string | undefined => boards.get(incidentKey)?.ts,
  };
}
export type SignalsBoard = ReturnType<typeof createSignalsBoard>;
