// The bot's rollback against kubectl, in the same run, on twin Deployments in the same state:
//
// - "rollback undo + wait": the bot's undoing step (from its record: `notified` → `undone`) against
//   `kubectl rollout undo && kubectl rollout status` on a twin, started the moment the bot's record
//   enters `undoing`. Medians over RUNS runs, so one slow moment does not decide.
// - "completion noticed": a `kubectl get deployment -w` started beside the bot sees the rollout
//   complete; the bot's record (the `undone` commit, Redis' own time) and the thread post saying so
//   (the emulator's receive time) must follow within p95 ≤ 100 ms. All three are this machine's
//   wall clock: the watch line is stamped here, Redis stamps its stream entries, the emulator runs here.
// - the approve → verified time broken down by step (informational, no goal).
//
// Driven as production is: the compiled bot against the Slack emulator, `/rollback <service>`, then a
// click on Roll back by an approver.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import type { Catalog, CatalogEntry } from '../../src/config/catalog-schema.js';
import type { Rollback, RollbackEvent } from '../../src/rollback/model.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { startSlackBot } from '../../test/support/bot-process.js';
import { worldCatalog } from '../../test/support/engine.js';
import { eventually, kubectlOk } from '../../test/support/kubectl.js';
import { freshNamespace } from '../../test/support/namespaces.js';
import { IMAGES, NAME, setDatabaseHead, shipReleases } from '../../test/support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../../test/support/slack-emulator/index.js';
import { hasButton } from '../../test/support/slack-text.js';
import { percentile } from '../../test/support/stats.js';
import type { WorldInfo } from '../../test/support/world/world.js';
import type { Section } from './context.js';
import { type Figure, ratioFigure } from './figures.js';

const C = 'C0INCIDENTS';
const U = 'U0SRE00001';
/** The issue asks for 10 runs; BENCH_ROLLBACK_RUNS lowers it while working on the section. */
const RUNS = Number(process.env.BENCH_ROLLBACK_RUNS ?? 10);
const HEAD = 'aaa111';
/** Both releases ship the same migration head: the database gate passes, no downgrade approval. */
const RELEASES = [
  { image: IMAGES.good, cause: 'Release v2024.01.14', head: HEAD },
  { image: IMAGES.bad, cause: 'Release v2024.01.15', head: HEAD },
];

const median = (xs: number[]) => percentile(xs, 50);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  /** The bot: undoing step start → rollout complete (its record). */
  botUndoWait: number;
  /** kubectl rollout undo && kubectl rollout status, wall time. */
  kubectlUndoWait: number;
  /** After the watch saw the rollout complete: the bot's record, and the thread post. */
  recordAfterWatch: number;
  threadAfterWatch: number;
  /** The root message's update to "verifying" (informational). */
  rootAfterWatch: number;
  steps: Record<string, number>;
}

/** A `kubectl get -w` on the Deployment: each line stamped on arrival with this process's clock. */
function watchDeployment(world: WorldInfo, ns: string) {
  const proc: ChildProcess = spawn(
    world.kubectl,
    [
      '--kubeconfig',
      world.kubeconfig,
      'get',
      'deployment',
      NAME,
      '-n',
      ns,
      '-w',
      '-o',
      'jsonpath={.metadata.generation} {.status.observedGeneration} {.spec.replicas} {.status.replicas} {.status.updatedReplicas} {.status.availableReplicas}{"\\n"}',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: { at: number; f: number[] }[] = [];
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const at = Date.now();
    lines.push({ at, f: line.trim().split(/\s+/).map(Number) });
  });
  return {
    lines,
    stderr: () => stderr,
    /**
     * When the watch first showed the rollout of a generation above `after` complete, by kubectl
     * rollout status' rule: spec observed, every replica updated, no old ones, all updated available.
     */
    completedAfter(after: number): number | undefined {
      for (const { at, f } of lines) {
        const [gen = 0, observed = 0, want = -1, replicas = -1, updated = -1, available = -1] = f;
        if (
          gen > after &&
          observed >= gen &&
          updated === want &&
          replicas === updated &&
          available === updated
        )
          return at;
      }
      return undefined;
    },
    stop: () => proc.kill('SIGTERM'),
  };
}

/** The rollback's events with the time Redis committed each (its stream entry id). */
async function eventsOf(redis: Redis, id: string): Promise<(RollbackEvent & { committed: number })[]> {
  const entries = await redis.xrange(`rb:r:${id}:events`, '-', '+');
  return entries.map(([entryId, fields]) => ({
    ...(JSON.parse(fields[1] ?? '{}') as RollbackEvent),
    committed: Number(entryId.split('-')[0]),
  }));
}

const DONE = /successfully rolled out/;

/**
 * When the emulator received the bot's thread post saying the rollout completed: the progress
 * message of this thread, posted with that text or updated to it.
 */
function threadPostAt(slack: SlackEmulator, threadTs: string): number | undefined {
  const progress = slack.thread(C, threadTs).find((m) => DONE.test(m.text));
  if (!progress) return undefined;
  return slack
    .calls()
    .filter(
      (c) =>
        c.ok &&
        DONE.test(String(c.args.text)) &&
        ((c.method === 'chat.postMessage' && c.args.thread_ts === threadTs) ||
          (c.method === 'chat.update' && c.args.ts === progress.ts)),
    )
    .map((c) => c.at)
    .sort((a, b) => a - b)[0];
}

/** When the root message was updated to say the rollback is verifying (the rollout is done). */
function rootVerifyingAt(slack: SlackEmulator, rootTs: string): number | undefined {
  return slack
    .calls('chat.update')
    .filter((c) => c.ok && c.args.ts === rootTs && /: verifying$/.test(String(c.args.text)))
    .map((c) => c.at)
    .sort((a, b) => a - b)[0];
}

async function oneRun(
  world: WorldInfo,
  o: { slack: SlackEmulator; botUrl: string; redis: Redis; service: string; botNs: string; twinNs: string },
  i: number,
  log: (line: string) => void,
): Promise<Run> {
  const { slack, redis } = o;
  const store = createRedisStore(redis);
  await Promise.all([shipReleases(world, o.botNs, RELEASES), shipReleases(world, o.twinNs, RELEASES)]);
  await Promise.all(
    [o.botNs, o.twinNs].map((ns) =>
      eventually(
        `crash loop in ${ns}`,
        async () => (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
        60_000,
      ),
    ),
  );
  const watch = watchDeployment(world, o.botNs);
  try {
    await eventually('the watch is live', async () => watch.lines.length > 0, 20_000).catch((err) => {
      throw new Error(`${(err as Error).message}; kubectl said: ${watch.stderr()}`);
    });
    const genBefore = watch.lines[watch.lines.length - 1]?.f[0] ?? 0;
    const rootsBefore = slack.messages(C).length;
    const ack = await slack.sendSlashCommand({
      botUrl: `${o.botUrl}/slack/events`,
      command: '/rollback',
      text: `${o.service} bench run ${i}`,
      userId: U,
      channelId: C,
    });
    if (ack.status !== 200) throw new Error(`/rollback answered ${ack.status}: ${ack.body}`);
    const root = await eventually('root message', async () =>
      slack
        .messages(C)
        .slice(rootsBefore)
        .find((m) => m.via === 'chat.postMessage' && m.text.includes(o.service)),
    );
    // The request holds the workload's lock: its holder is the rollback.
    const id = await eventually('the rollback holding the lock', () => store.holderOf(o.botNs, NAME));
    const assessment = await eventually(
      'assessment with Roll back',
      async () => slack.thread(C, root.ts).find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    );
    const click = await slack.clickButton({
      botUrl: `${o.botUrl}/slack/events`,
      channelId: C,
      messageTs: assessment.ts,
      actionId: 'rollback_approve',
      userId: U,
    });
    if (click.status !== 200) throw new Error(`the click answered ${click.status}`);

    // The twin starts the moment the bot's record says it is undoing (polled every 10 ms, not at
    // eventually()'s 250 ms, so both rollouts run at the same moment).
    const undoingBy = Date.now() + 60_000;
    for (;;) {
      const r = await store.get(id);
      if (r && ['completed', 'failed', 'cancelled'].includes(r.state))
        throw new Error(`rollback ended ${r.state} before undoing: ${r.failure?.message ?? ''}`);
      if (r && r.state !== 'awaiting_approval' && r.state !== 'notifying') break;
      if (Date.now() > undoingBy) throw new Error(`rollback ${id} not undoing after 60 s (is ${r?.state})`);
      await sleep(10);
    }
    const t0 = performance.now();
    await kubectlOk(world, ['rollout', 'undo', `deployment/${NAME}`, '-n', o.twinNs]);
    await kubectlOk(world, ['rollout', 'status', `deployment/${NAME}`, '-n', o.twinNs, '--timeout=120s']);
    const kubectlUndoWait = performance.now() - t0;

    const done = await eventually(
      'the bot finished',
      async () => {
        const r = await store.get(id);
        return r && ['completed', 'failed', 'cancelled'].includes(r.state) ? r : undefined;
      },
      180_000,
    );
    if (done.state !== 'completed')
      throw new Error(`rollback ${id} ended ${done.state}: ${done.failure?.message ?? ''}`);
    const watchSaw = await eventually('the watch saw completion', async () =>
      watch.completedAfter(genBefore),
    );
    const threadAt = await eventually('the thread post', async () => threadPostAt(slack, root.ts));
    const rootAt = await eventually('the root update', async () => rootVerifyingAt(slack, root.ts));
    const events = await eventsOf(redis, id);
    const run = measure(done, events, { watchSaw, threadAt, rootAt, kubectlUndoWait });
    // Where the bot's noticing went: its wait resolving (undo.rollout.at), then the commit.
    const waited = Date.parse(done.undo?.rollout?.at ?? '') - watchSaw;
    log(
      `[bench] rollback run ${i}: bot undo+wait ${run.botUndoWait.toFixed(0)} ms, kubectl ${kubectlUndoWait.toFixed(0)} ms; after the watch: wait resolved +${waited} ms, record +${run.recordAfterWatch} ms, thread +${run.threadAfterWatch} ms, root +${run.rootAfterWatch} ms; steps ${JSON.stringify(run.steps)}`,
    );
    return run;
  } finally {
    watch.stop();
  }
}

function measure(
  r: Rollback,
  events: (RollbackEvent & { committed: number })[],
  m: { watchSaw: number; threadAt: number; rootAt: number; kubectlUndoWait: number },
): Run {
  const at = (pred: (e: RollbackEvent) => boolean, what: string) => {
    const e = events.find(pred);
    if (!e) throw new Error(`rollback ${r.id}: no ${what} event in its trail`);
    return e;
  };
  const approve = at((e) => e.type === 'approve', 'approve');
  const notified = at((e) => e.type === 'notified', 'notified');
  const patched = at(
    (e) => e.type === 'progress' && e.from === 'undoing' && typeof e.data?.milestone === 'string',
    'patched',
  );
  const undone = at((e) => e.type === 'undone', 'undone');
  const verified = at((e) => e.type === 'verified', 'verified');
  const reported = at((e) => e.type === 'reported', 'reported');
  const t = (e: RollbackEvent) => Date.parse(e.at);
  return {
    botUndoWait: t(undone) - t(notified),
    kubectlUndoWait: m.kubectlUndoWait,
    recordAfterWatch: undone.committed - m.watchSaw,
    threadAfterWatch: m.threadAt - m.watchSaw,
    rootAfterWatch: m.rootAt - m.watchSaw,
    steps: {
      notify: t(notified) - t(approve),
      undo: t(patched) - t(notified),
      wait: t(undone) - t(patched),
      verify: t(verified) - t(undone),
      report: t(reported) - t(verified),
      'approve → verified': t(verified) - t(approve),
    },
  };
}

export const benchRollback: Section = async ({ world, log }) => {
  await setDatabaseHead(world, HEAD);
  const pairs: { service: string; botNs: string; twinNs: string }[] = [];
  for (let i = 0; i < RUNS; i++) {
    pairs.push({
      service: `rm-bench-${i}`,
      botNs: await freshNamespace(world, `bench-rb${i}`),
      twinNs: await freshNamespace(world, `bench-tw${i}`),
    });
  }
  const services = new Map<string, CatalogEntry>();
  for (const p of pairs) {
    const svc = worldCatalog(world, p.botNs, (s) => {
      s.channel = C;
      s.notify = {};
      s.approvers = { users: [U], groups: [], requireSecondPerson: false, expireMinutes: 60 };
      s.policy = { ...s.policy, mode: 'propose' };
    }).services.get('release-manager')!;
    services.set(p.service, { ...svc, name: p.service });
  }
  const catalog: Catalog = { services };
  const slack = await startSlackEmulator({
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    users: [{ id: U, name: 'alice' }],
    channels: [{ id: C, name: 'incidents', members: [U] }],
  });
  const bot = await startSlackBot(world, {
    slack,
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    catalog,
    name: 'bench-rollback',
    env: { WATCH_TRIGGERS: 'false' },
    compiled: true,
  });
  const redis = new Redis(world.redisUrl);
  try {
    const runs: Run[] = [];
    for (const [i, p] of pairs.entries()) {
      try {
        runs.push(await oneRun(world, { slack, botUrl: bot.url, redis, ...p }, i, log));
      } catch (err) {
        bot.explain(err);
      }
      await sleep(500);
    }
    const bot50 = median(runs.map((r) => r.botUndoWait));
    const kubectl50 = median(runs.map((r) => r.kubectlUndoWait));
    const record95 = percentile(
      runs.map((r) => r.recordAfterWatch),
      95,
    );
    const thread95 = percentile(
      runs.map((r) => r.threadAfterWatch),
      95,
    );
    const watchAnchor = { what: 'kubectl get -w saw it (t = 0)', value: 0 };
    const figures: Figure[] = [
      ratioFigure({
        section: 'rollback',
        figure: 'rollback undo + wait (median)',
        anchor: { what: 'kubectl rollout undo && rollout status, twin', value: kubectl50 },
        value: bot50,
        unit: 'ms',
        maxRatio: 1.1,
        note: `${runs.length} runs; bot: its record, notified → undone`,
      }),
      {
        section: 'rollback',
        figure: 'completion noticed: record (p95)',
        anchor: watchAnchor,
        value: record95,
        unit: 'ms',
        goal: '≤ 100 ms after the watch',
        met: record95 <= 100,
        note: `${runs.length} runs, max ${Math.max(...runs.map((r) => r.recordAfterWatch))} ms`,
      },
      {
        section: 'rollback',
        figure: 'completion noticed: thread (p95)',
        anchor: watchAnchor,
        value: thread95,
        unit: 'ms',
        goal: '≤ 100 ms after the watch',
        met: thread95 <= 100,
        note: `${runs.length} runs, max ${Math.max(...runs.map((r) => r.threadAfterWatch))} ms`,
      },
      {
        section: 'rollback',
        figure: 'completion noticed: root message says verifying (p95, informational)',
        anchor: watchAnchor,
        value: percentile(
          runs.map((r) => r.rootAfterWatch),
          95,
        ),
        unit: 'ms',
        goal: '—',
        met: true,
        note: `${runs.length} runs`,
      },
    ];
    for (const step of Object.keys(runs[0]?.steps ?? {})) {
      const xs = runs.map((r) => r.steps[step] ?? Number.NaN);
      figures.push({
        section: 'rollback',
        figure: `rollback step: ${step} (median, informational)`,
        value: median(xs),
        unit: 'ms',
        goal: '—',
        met: true,
        note: `min ${Math.min(...xs)}, max ${Math.max(...xs)}`,
      });
    }
    return figures;
  } finally {
    redis.disconnect();
    await bot.stop();
    await slack.close();
  }
};
