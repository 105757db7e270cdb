// The notifier port on Slack: the root message updated in place, everything else in its thread.
// Rollout progress is coalesced to at most one update per second per rollback, and to one waiting
// update per rollback, which sends the latest text when its turn comes. Every post and update waits
// in its rate lane first (rate-lanes.ts): a busy channel delays only its own threads.
import { webApi } from '@slack/bolt';
import type { Catalog } from '../config/catalog-schema.js';
import { defuseMrkdwn, escapeMrkdwn } from '../escape-mrkdwn.js';
import { POST_ROLLBACK_CHECKLIST } from '../rollback/checklist.js';
import { formatDuration } from '../rollback/durations.js';
import type { Rollback } from '../rollback/model.js';
import { PAUSE_MS } from '../rollback/pauses.js';
import type { Logger, NotifierPort } from '../rollback/ports.js';
import { signers } from '../rollback/sign-off.js';
import { buildCleanupOffer } from './blocks/cleanup-blocks.js';
import { buildPaused, buildPauseOffer } from './blocks/pause-blocks.js';
import {
  buildAssessment,
  buildChecklist,
  buildMigrationApproval,
  buildRoot,
  buildSummary,
  rootText,
  startingText,
} from './blocks/rollback-blocks.js';
import { type KnownBlock, section } from './blocks/text.js';
import { createRateLanes, type LaneRate, type RateLanes } from './rate-lanes.js';

type WebClient = webApi.WebClient;

const PROGRESS_INTERVAL_MS = 1000;

/**
 * Slack's documented limits: chat.postMessage "1 message per second per channel, short bursts
 * allowed"; chat.update Tier 3, "50+ per minute" per workspace. The listeners' own updates (the
 * clicked message) share that budget unseen: at the full 50 the bench's 20 approvals drew 55 × 429
 * on chat.update, each pausing the client for every channel; at 40 it drew 5. The root's updates no
 * longer hold the thread's posts (outbox.ts), so 40 costs only the root's freshness.
 */
export const SLACK_RATES: { post: LaneRate; update: LaneRate } = {
  post: { perSecond: 1, burst: 3 },
  update: { perSecond: 40 / 60, burst: 20 },
};
const UPDATES = 'update';
const postLane = (channel: string) => `post:${channel}`;

interface Progress {
  ts?: string;
  lastSent: number;
  pending?: string;
  timer?: NodeJS.Timeout;
  /** The one send in flight or waiting for its lane; it takes the latest text when it goes. */
  sending?: Promise<void>;
  /** The rollout's last status is pending: it goes at once, never held back a second. */
  final?: boolean;
}

/** Posts a command's root message in the channel, paced like every other post there. */
export type RootPoster = (args: {
  channel: string;
  text: string;
  blocks: KnownBlock[];
}) => Promise<{ ts?: string }>;

export function createSlackNotifier(
  client: WebClient,
  catalog: Catalog,
  logger: Logger,
  lanes: RateLanes = createRateLanes((key) => (key === UPDATES ? SLACK_RATES.update : SLACK_RATES.post)),
  /** How long a pause lasts, for the Pause button's label ("4 h"). */
  pauseLasts = formatDuration(PAUSE_MS),
): NotifierPort & { flush(): Promise<void>; postRoot: RootPoster } {
  const progress = new Map<string, Progress>();
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  };
  // A 429 the lanes did not prevent (a listener's post, another replica): the lane waits it out.
  client.on(
    webApi.WebClientEvent.RATE_LIMITED,
    (retrySec: number, req: { url?: string; body?: { channel?: unknown } }) => {
      const method = req.url?.slice(req.url.lastIndexOf('/') + 1);
      if (method === 'chat.update') lanes.hold(UPDATES, retrySec * 1000);
      else if (method === 'chat.postMessage' && typeof req.body?.channel === 'string')
        lanes.hold(postLane(req.body.channel), retrySec * 1000);
    },
  );
  type PostArgs = Parameters<WebClient['chat']['postMessage']>[0];
  type UpdateArgs = Parameters<WebClient['chat']['update']>[0];
  const post = (args: PostArgs & { channel: string }) =>
    lanes.run(postLane(args.channel), () => client.chat.postMessage(args));
  const update = (args: UpdateArgs) => lanes.run(UPDATES, () => client.chat.update(args));
  /**
   * The parts of a composite notice (starting, finished) Slack already took, so that the outbox's
   * retry of the notice after one part failed posts only the rest: each message once.
   */
  const partsDone = new Map<string, Set<string>>();
  async function once(r: Rollback, notice: string, part: string, fn: () => Promise<unknown>): Promise<void> {
    const key = `${r.id}:${notice}`;
    if (partsDone.get(key)?.has(part)) return;
    await fn();
    let done = partsDone.get(key);
    if (!done) {
      done = new Set();
      partsDone.set(key, done);
    }
    done.add(part);
  }
  const noticeDone = (r: Rollback, notice: string) => partsDone.delete(`${r.id}:${notice}`);

  async function inThread(
    r: Rollback,
    text: string,
    blocks: ReturnType<typeof buildRoot>,
    broadcast = false,
  ): Promise<string | undefined> {
    if (!r.thread) return undefined;
    const res = await post({
      channel: r.thread.channel,
      thread_ts: r.thread.ts,
      text,
      blocks,
      reply_broadcast: broadcast,
    });
    return res.ts;
  }

  function scheduleProgress(r: Rollback, p: Progress): void {
    const wait = p.lastSent + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) sendProgress(r, p);
    else if (!p.timer) {
      p.timer = setTimeout(() => {
        p.timer = undefined;
        sendProgress(r, p);
      }, wait);
    }
  }

  function sendProgress(r: Rollback, p: Progress): void {
    if (p.sending || p.pending === undefined || !r.thread) return;
    const thread = r.thread;
    p.sending = track(
      (async () => {
        try {
          const ts = p.ts;
          // The text is read when the lane lets the call go: the latest, however long it waited.
          const latest = () => {
            const raw = p.pending;
            p.pending = undefined;
            // Rollout progress quotes the Deployment's status: data, escaped whole.
            const message = escapeMrkdwn(raw ?? '');
            return { text: message, blocks: [section(`:rewind: ${message}`)] };
          };
          if (ts)
            await lanes.run(UPDATES, () => client.chat.update({ channel: thread.channel, ts, ...latest() }));
          else {
            const res = await lanes.run(postLane(thread.channel), () =>
              client.chat.postMessage({ channel: thread.channel, thread_ts: thread.ts, ...latest() }),
            );
            p.ts = res.ts;
          }
        } catch (err) {
          // Progress is ephemeral: the next one (or the summary) says where the rollout is.
          logger.warn('progress update failed', { error: (err as Error).message });
        } finally {
          p.lastSent = Date.now();
          p.sending = undefined;
          if (p.pending !== undefined) {
            if (p.final) sendProgress(r, p);
            else scheduleProgress(r, p);
          }
        }
      })(),
    );
  }

  return {
    async stateChanged(r) {
      if (!r.thread) return;
      await track(
        update({
          channel: r.thread.channel,
          ts: r.thread.ts,
          text: rootText(r),
          blocks: buildRoot(r),
        }),
      );
    },

    async assessed(r) {
      await track(inThread(r, `Assessment of ${r.service}`, buildAssessment(r)));
    },

    async migrationApprovalNeeded(r) {
      await track(
        inThread(r, `${r.service}: the database downgrade needs its own approval`, buildMigrationApproval(r)),
      );
    },

    async starting(r) {
      // The procedure's three notices go out independently: one failing must not silence the others.
      const text = startingText(r);
      const svc = catalog.services.get(r.service);
      const em = svc?.notify.engineeringManager;
      const group = svc?.notify.monitoringGroup;
      const link = r.thread ? ` Follow it in <#${r.thread.channel}>.` : '';
      const headsUp = `<!subteam^${group}> heads-up: expect metric fluctuations on \`${r.service}\` while it rolls back.`;
      const results = await Promise.allSettled([
        once(r, 'starting', 'thread', () => track(inThread(r, text, [section(`:mega: ${text}`)], true))),
        em
          ? once(r, 'starting', 'em', () =>
              track(client.conversations.open({ users: em })).then((im) =>
                im.channel?.id
                  ? track(
                      post({
                        channel: im.channel.id,
                        text: `${text}.${link}`,
                        blocks: [section(`:mega: ${text}.${link}`)],
                      }),
                    )
                  : undefined,
              ),
            )
          : undefined,
        group
          ? once(r, 'starting', 'group', () => track(inThread(r, headsUp, [section(headsUp)])))
          : undefined,
      ]);
      const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed.length) throw new Error(failed.map((f) => (f.reason as Error).message).join('; '));
      noticeDone(r, 'starting');
      // Who was told, for the report (only what was posted: an unset contact is not named).
      return [
        r.thread ? `the incident thread in <#${r.thread.channel}>` : undefined,
        em ? `engineering manager <@${em}> (direct message)` : undefined,
        group ? `monitoring group <!subteam^${group}>` : undefined,
      ].filter((x): x is string => x !== undefined);
    },

    async progress(r, message, opts) {
      let p = progress.get(r.id);
      if (!p) {
        p = { lastSent: 0 };
        progress.set(r.id, p);
      }
      p.pending = message;
      // "successfully rolled out" is what the thread is watched for: a second's coalescing would
      // show completion up to a second after the apiserver said so (npm run bench, "completion noticed").
      if (opts?.final) {
        p.final = true;
        if (p.timer) clearTimeout(p.timer);
        p.timer = undefined;
        sendProgress(r, p);
      } else scheduleProgress(r, p);
    },

    async finished(r, report) {
      const p = progress.get(r.id);
      if (p?.timer) {
        clearTimeout(p.timer);
        p.timer = undefined;
        sendProgress(r, p);
      }
      progress.delete(r.id);
      if (!r.thread) return;
      const day = r.requestedAt.slice(0, 10);
      const thread = r.thread;
      // In order, each once: a retry after one part failed goes on from that part.
      await once(r, 'finished', 'report', () =>
        track(
          client.filesUploadV2({
            channel_id: thread.channel,
            thread_ts: thread.ts,
            content: report,
            filename: `incident-report-${r.service}-${day}.md`,
            title: `Incident report: rollback of ${r.service} (${day})`,
          }),
        ),
      );
      const svc = catalog.services.get(r.service);
      const roles = svc
        ? (['release_manager', 'engineering_manager'] as const).filter(
            (role) => signers(svc, role).length > 0,
          )
        : [];
      await once(r, 'finished', 'summary', () =>
        track(inThread(r, `Rollback of ${r.service}: ${r.state}`, buildSummary(r, [...roles]))),
      );
      await once(r, 'finished', 'checklist', () =>
        track(
          inThread(r, 'Post-rollback checklist', buildChecklist(r.id, POST_ROLLBACK_CHECKLIST, new Set())),
        ),
      );
      const offer = buildCleanupOffer(r, catalog.services.get(r.service));
      if (offer.length)
        await once(r, 'finished', 'cleanup', () => track(inThread(r, `Data cleanup: ${r.service}`, offer)));
      noticeDone(r, 'finished');
    },

    async reportUpdated(r, report, why) {
      if (!r.thread) return;
      const day = r.requestedAt.slice(0, 10);
      // A new version of the file in the thread, saying what changed; the stored report is the same text.
      const version = r.version;
      await track(
        client.filesUploadV2({
          channel_id: r.thread.channel,
          thread_ts: r.thread.ts,
          content: report,
          filename: `incident-report-${r.service}-${day}-v${version}.md`,
          title: `Incident report: rollback of ${r.service} (${day}), updated`,
          initial_comment: defuseMrkdwn(`:memo: Report updated: ${why}.`),
        }),
      );
    },

    /**
     * A root message the command listener composed (its own escaping), posted in the channel's lane:
     * twenty /rollback commands at once in one #incidents wait their turn instead of running out of
     * the client's retries against Slack's 1 message/s (bench: concurrency).
     */
    postRoot: (args) => track(post({ ...args, unfurl_links: false, unfurl_media: false })),

    async openThread(channel, raw, offer) {
      // The domain composes these lines (its own *bold* and `code`) around alert and Kubernetes text:
      // defused, so nothing in them pings or links. Only the composer can keep a value from ending its
      // code span, by escaping the value with escapeMrkdwn (idempotent: the edge then changes nothing).
      const text = defuseMrkdwn(raw);
      const res = await track(post({ channel, text, blocks: [section(text)] }));
      // The switch is a reply of its own: the first message becomes the rollback's root, re-rendered
      // from the record at each state, which would drop it. Losing it is logged, never a second thread
      // (the incident retries openThread when it throws); `/rollback pause` does the same.
      if (offer && res.ts) {
        const blocks = offer.paused ? buildPaused(offer.service) : buildPauseOffer(offer.service, pauseLasts);
        await track(
          post({
            channel: res.channel ?? channel,
            thread_ts: res.ts,
            text: `Automatic rollbacks of ${offer.service}`,
            blocks,
          }),
        ).catch((err: unknown) =>
          logger.warn('pause switch not posted', { service: offer.service, error: (err as Error).message }),
        );
      }
      return res.ts ? { channel: res.channel ?? channel, ts: res.ts } : undefined;
    },

    async say(thread, raw) {
      const text = defuseMrkdwn(raw);
      await track(
        post({
          channel: thread.channel,
          thread_ts: thread.ts,
          text,
          blocks: [section(text)],
        }),
      );
    },

    upsertSignals: (thread, ts, text) => track(upsertSignals(post, update, thread, ts, text)),

    /** Waits for every Slack call started so far (tests, and shutdown). */
    async flush() {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
  };
}

/** The incident thread's one Signals message: posted once, then edited in place. */
async function upsertSignals(
  post: (args: {
    channel: string;
    thread_ts: string;
    text: string;
    blocks: ReturnType<typeof section>[];
  }) => Promise<{ ts?: string }>,
  update: (args: {
    channel: string;
    ts: string;
    text: string;
    blocks: ReturnType<typeof section>[];
  }) => Promise<unknown>,
  thread: { channel: string; ts: string },
  ts: string | undefined,
  text: string,
): Promise<string | undefined> {
  const blocks = [section(text)];
  if (ts) {
    await update({ channel: thread.channel, ts, text, blocks });
    return ts;
  }
  const res = await post({ channel: thread.channel, thread_ts: thread.ts, text, blocks });
  return res.ts;
}
