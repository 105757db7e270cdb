// The notifier port on Slack: the root message updated in place, everything else in its thread.
// Rollout progress is coalesced to at most one update per second per rollback.
import type { webApi } from '@slack/bolt';
import type { Catalog } from '../config/catalog-schema.js';
import { defuseMrkdwn, escapeMrkdwn } from '../escape-mrkdwn.js';
import { POST_ROLLBACK_CHECKLIST } from '../rollback/checklist.js';
import type { Rollback } from '../rollback/model.js';
import type { Logger, NotifierPort } from '../rollback/ports.js';
import { signers } from '../rollback/sign-off.js';
import { buildCleanupOffer } from './blocks/cleanup-blocks.js';
import {
  buildAssessment,
  buildChecklist,
  buildMigrationApproval,
  buildRoot,
  buildSummary,
  rootText,
  startingText,
} from './blocks/rollback-blocks.js';
import { section } from './blocks/text.js';

type WebClient = webApi.WebClient;

const PROGRESS_INTERVAL_MS = 1000;

interface Progress {
  ts?: Promise<string | undefined>;
  lastSent: number;
  pending?: string;
  timer?: NodeJS.Timeout;
}

export function createSlackNotifier(
  client: WebClient,
  catalog: Catalog,
  logger: Logger,
): NotifierPort & { flush(): Promise<void> } {
  const progress = new Map<string, Progress>();
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  };

  async function inThread(
    r: Rollback,
    text: string,
    blocks: ReturnType<typeof buildRoot>,
    broadcast = false,
  ): Promise<string | undefined> {
    if (!r.thread) return undefined;
    const res = await client.chat.postMessage({
      channel: r.thread.channel,
      thread_ts: r.thread.ts,
      text,
      blocks,
      reply_broadcast: broadcast,
    });
    return res.ts;
  }

  function sendProgress(r: Rollback, p: Progress): void {
    // Rollout progress quotes the Deployment's status: data, escaped whole.
    const message = p.pending === undefined ? undefined : escapeMrkdwn(p.pending);
    if (!message || !r.thread) return;
    p.pending = undefined;
    p.lastSent = Date.now();
    const thread = r.thread;
    const blocks = [section(`:rewind: ${message}`)];
    if (!p.ts) {
      p.ts = track(
        client.chat
          .postMessage({ channel: thread.channel, thread_ts: thread.ts, text: message, blocks })
          .then((x) => x.ts),
      );
    } else {
      const tsP = p.ts;
      track(
        tsP
          .then((ts) =>
            ts ? client.chat.update({ channel: thread.channel, ts, text: message, blocks }) : undefined,
          )
          .catch((err: unknown) => {
            logger.warn('progress update failed', { error: (err as Error).message });
          }),
      );
    }
  }

  return {
    async stateChanged(r) {
      if (!r.thread) return;
      await track(
        client.chat.update({
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
      const results = await Promise.allSettled([
        track(inThread(r, text, [section(`:mega: ${text}`)], true)),
        em
          ? track(client.conversations.open({ users: em })).then((im) =>
              im.channel?.id
                ? track(
                    client.chat.postMessage({
                      channel: im.channel.id,
                      text: `${text}.${link}`,
                      blocks: [section(`:mega: ${text}.${link}`)],
                    }),
                  )
                : undefined,
            )
          : undefined,
        group
          ? track(
              inThread(
                r,
                `<!subteam^${group}> heads-up: expect metric fluctuations on \`${r.service}\` while it rolls back.`,
                [
                  section(
                    `<!subteam^${group}> heads-up: expect metric fluctuations on \`${r.service}\` while it rolls back.`,
                  ),
                ],
              ),
            )
          : undefined,
      ]);
      const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed.length) throw new Error(failed.map((f) => (f.reason as Error).message).join('; '));
      // Who was told, for the report (only what was posted: an unset contact is not named).
      return [
        r.thread ? `the incident thread in <#${r.thread.channel}>` : undefined,
        em ? `engineering manager <@${em}> (direct message)` : undefined,
        group ? `monitoring group <!subteam^${group}>` : undefined,
      ].filter((x): x is string => x !== undefined);
    },

    async progress(r, message) {
      let p = progress.get(r.id);
      if (!p) {
        p = { lastSent: 0 };
        progress.set(r.id, p);
      }
      p.pending = message;
      const wait = p.lastSent + PROGRESS_INTERVAL_MS - Date.now();
      if (wait <= 0) sendProgress(r, p);
      else if (!p.timer) {
        const state = p;
        state.timer = setTimeout(() => {
          state.timer = undefined;
          sendProgress(r, state);
        }, wait);
      }
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
      await track(
        client.filesUploadV2({
          channel_id: r.thread.channel,
          thread_ts: r.thread.ts,
          content: report,
          filename: `incident-report-${r.service}-${day}.md`,
          title: `Incident report: rollback of ${r.service} (${day})`,
        }),
      );
      const svc = catalog.services.get(r.service);
      const roles = svc
        ? (['release_manager', 'engineering_manager'] as const).filter(
            (role) => signers(svc, role).length > 0,
          )
        : [];
      await track(inThread(r, `Rollback of ${r.service}: ${r.state}`, buildSummary(r, [...roles])));
      await track(
        inThread(r, 'Post-rollback checklist', buildChecklist(r.id, POST_ROLLBACK_CHECKLIST, new Set())),
      );
      const offer = buildCleanupOffer(r, catalog.services.get(r.service));
      if (offer.length) await track(inThread(r, `Data cleanup: ${r.service}`, offer));
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

    async openThread(channel, raw) {
      // The domain composes these lines (its own *bold* and `code`) around alert and Kubernetes text:
      // defused, so nothing in them pings or links. Only the composer can keep a value from ending its
      // code span, by escaping the value with escapeMrkdwn (idempotent: the edge then changes nothing).
      const text = defuseMrkdwn(raw);
      const res = await track(client.chat.postMessage({ channel, text, blocks: [section(text)] }));
      return res.ts ? { channel: res.channel ?? channel, ts: res.ts } : undefined;
    },

    async say(thread, raw) {
      const text = defuseMrkdwn(raw);
      await track(
        client.chat.postMessage({
          channel: thread.channel,
          thread_ts: thread.ts,
          text,
          blocks: [section(text)],
        }),
      );
    },

    upsertSignals: (thread, ts, text) => track(upsertSignals(client, thread, ts, text)),

    /** Waits for every Slack call started so far (tests, and shutdown). */
    async flush() {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
  };
}

/** The incident thread's one Signals message: posted once, then edited in place. */
async function upsertSignals(
  client: WebClient,
  thread: { channel: string; ts: string },
  ts: string | undefined,
  text: string,
): Promise<string | undefined> {
  const blocks = [section(text)];
  if (ts) {
    await client.chat.update({ channel: thread.channel, ts, text, blocks });
    return ts;
  }
  const res = await client.chat.postMessage({ channel: thread.channel, thread_ts: thread.ts, text, blocks });
  return res.ts;
}
