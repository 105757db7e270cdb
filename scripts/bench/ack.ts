// Slack ack under 100 concurrent /rollback commands, and idle memory: the bot against a minimal Bolt
// app (minimal-bolt.mjs) started here, with the same receiver and npm start's node flags, measured
// in the same run on the same emulator.
//
// Ack: the time Slack waits for the HTTP answer to a signed slash command, timed by a load generator
// in a process of its own (load-generator.mjs); the emulator signs each command and checks each answer
// outside those times. Two loads, each 100 commands at once: `/rollback help` and
// `/rollback release-manager --dry-run` (a real service with history: each one is a real dry run,
// assessed and posted in a thread). The minimal app gets the same 100 commands and only acks.
// Warm-up rounds first, then bot and minimal rounds interleaved (ABBA…), so drift on a shared machine
// hits both; each round starts once both processes are quiet (no rollback in flight, no Slack
// delivery pending, no CPU burning), so a round measures its own burst, not the previous one's tail.
//
// Idle RSS: VmRSS from /proc, both processes started the same way, after they settle, the median of
// a few samples, before any load.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type BotProcess, startSlackBot } from '../../test/support/bot-process.js';
import { worldCatalog } from '../../test/support/engine.js';
import { eventually } from '../../test/support/kubectl.js';
import { freshNamespace } from '../../test/support/namespaces.js';
import { IMAGES, setDatabaseHead, shipReleases } from '../../test/support/releases.js';
import {
  type SlackEmulator,
  startSlackEmulator,
  type Transport,
  type TransportAnswer,
} from '../../test/support/slack-emulator/index.js';
import { percentile } from '../../test/support/stats.js';
import { freePort } from '../../test/support/world/ports.js';
import type { WorldInfo } from '../../test/support/world/world.js';
import type { BenchContext, Section } from './context.js';
import { type Figure, ratioFigure } from './figures.js';
import { calmTwice, cpuTicks, rssMb } from './proc.js';
import { settleWorld } from './world-settle.js';

const C = 'C0INCIDENTS';
const TOKEN = 'xoxb-bench';
const SECRET = 'bench-secret';
const CONCURRENT = 100;
const WARMUP_ROUNDS = 2;
/** Per process and load; rounds alternate bot/minimal in ABBA order. */
const MEASURED_ROUNDS = 6;
/** One user per concurrent command: a dry run is limited per person (DRY_RUN_LIMIT per window). */
const USERS = Array.from({ length: CONCURRENT }, (_, i) => `U0BENCH${String(i).padStart(3, '0')}`);
/** npm start's flags (package.json "start"), for both processes. */
const NODE_FLAGS = ['--enable-source-maps'];

interface Target {
  name: 'bot' | 'minimal';
  url: string;
  pid: number;
}

interface Load {
  name: string;
  text: string;
  /**
   * The bot's work after each ack outlasts the round: 100 dry runs in one channel post at Slack's
   * 1 message/s there (the notifier's lanes), minutes of work, done four commands at a time. Rounds
   * then follow each other after a short pause instead of waiting for it, so the acks are measured
   * while the bot works through the earlier commands (the minimal app's rounds run beside that work
   * too, on the same cores).
   */
  backlog: boolean;
}

const ALL_LOADS: Load[] = [
  { name: 'help', text: 'help', backlog: false },
  { name: 'dry run', text: 'release-manager --dry-run', backlog: true },
];
/** BENCH_ACK_LOADS=help: only the loads named (comma-separated), e.g. to profile one alone. */
const LOADS = process.env.BENCH_ACK_LOADS
  ? ALL_LOADS.filter((l) => process.env.BENCH_ACK_LOADS?.split(',').includes(l.name))
  : ALL_LOADS;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Ticks (10 ms) of CPU a quiet process may use in 500 ms. Profiled (BENCH_CPU_PROF), the bot's own
 * sampler costs an idle process about 1.4 ticks per 500 ms (1 ms sampling, measured on 2 cores), so it
 * would never be quiet at one.
 */
const QUIET_TICKS = process.env.BENCH_CPU_PROF ? 3 : 1;

/** Until each process used at most QUIET_TICKS of CPU over 500 ms, twice in a row. */
async function quiet(pids: number[], what: string): Promise<void> {
  const calm = async () => {
    const before = pids.map(cpuTicks);
    await sleep(500);
    return pids.every((p, i) => cpuTicks(p) - (before[i] ?? 0) <= QUIET_TICKS);
  };
  if (!(await calmTwice(calm, performance.now() + 60_000))) throw new Error(`${what}: still busy after 60 s`);
}

async function idleRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssMb(pid));
    await sleep(400);
  }
  return percentile(samples, 50);
}

async function startMinimal(
  world: WorldInfo,
  slack: SlackEmulator,
): Promise<{ target: Target; stop(): Promise<void> }> {
  const port = await freePort();
  const logFile = join(world.logDir, 'bench-minimal-bolt.log');
  const out = openSync(logFile, 'a');
  const proc: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, 'scripts/bench/minimal-bolt.mjs'], {
    env: {
      ...process.env,
      PORT: String(port),
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: `${slack.url}/api/`,
      KUBECONFIG: world.kubeconfig,
    },
    stdio: ['ignore', out, out],
  });
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(5000)]);
    if (!exited) proc.kill('SIGKILL');
  };
  try {
    await eventually(`minimal Bolt app /ready (log: ${logFile})`, async () => {
      if (exited) throw new Error(`minimal Bolt app exited; see ${logFile}`);
      return (await fetch(`${url}/ready`)).ok;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  if (proc.pid === undefined) throw new Error('minimal Bolt app has no pid');
  return { target: { name: 'minimal', url, pid: proc.pid }, stop };
}

/** The load generator: a transport for the emulator's commands, and its stop. */
async function startLoadGenerator(): Promise<{ transport: Transport; stop(): void }> {
  const child = fork('scripts/bench/load-generator.mjs', [], { execArgv: NODE_FLAGS, stdio: 'inherit' });
  type Answer = TransportAnswer & { id: number; error?: string };
  const waiting = new Map<number, { resolve(a: TransportAnswer): void; reject(e: Error): void }>();
  let next = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`load generator exited (${code}) before it was ready`)));
    child.on('message', (m: { ready?: true } & Partial<Answer>) => {
      if (m.ready) return resolve();
      const w = waiting.get(m.id as number);
      if (!w) return;
      waiting.delete(m.id as number);
      if (m.error) w.reject(new Error(`load generator: ${m.error}`));
      else w.resolve(m as TransportAnswer);
    });
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`load generator exited (${code})`));
    waiting.clear();
  });
  await ready;
  return {
    transport: (req) =>
      new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        child.send({ id, ...req });
      }),
    stop: () => child.kill('SIGTERM'),
  };
}

/**
 * 100 signed commands at once. One not answered within Slack's 3 s counts as never (Infinity: Slack
 * shows the person an error); any answer but 200 is a broken run, not a slow one.
 */
async function burst(slack: SlackEmulator, transport: Transport, t: Target, load: Load): Promise<number[]> {
  const results = await Promise.all(
    USERS.map((userId) =>
      slack.sendSlashCommand({
        transport,
        botUrl: `${t.url}/slack/events`,
        command: '/rollback',
        text: load.text,
        userId,
        channelId: C,
      }),
    ),
  );
  const bad = results.find((r) => !r.timedOut && r.status !== 200);
  if (bad) throw new Error(`${t.name}, ${load.name}: a command was answered ${bad.status}: ${bad.body}`);
  return results.map((r) => (r.timedOut ? Number.POSITIVE_INFINITY : r.ms));
}

/**
 * Nothing of the bot's left running (no rollback in flight, no Slack delivery pending, CPU calm), and
 * the world's own servers at rest: a round that met the apiserver's or Prometheus's periodic work on
 * the two shared cores measured that, whichever app it was.
 */
async function settle(ctx: BenchContext, redis: Redis, pids: number[], what: string): Promise<void> {
  await eventually(
    `${what}: the bot's rollbacks and Slack deliveries finish`,
    async () => (await redis.scard('rb:active')) === 0 && (await redis.zcard('rb:outbox:pending')) === 0,
    120_000,
  );
  const world = await settleWorld(ctx.world, [], { maxMs: 30_000 });
  if (!world.settled) ctx.log(`[bench] ack ${what}: ${world.summary}`);
  await quiet(pids, what);
}

/** Between rounds: everything settled, or (a backlog load) a pause. */
async function between(
  ctx: BenchContext,
  redis: Redis,
  pids: number[],
  what: string,
  load: Load,
): Promise<void> {
  if (load.backlog) await sleep(3000);
  else await settle(ctx, redis, pids, what);
}

async function measure(
  ctx: BenchContext,
  slack: SlackEmulator,
  transport: Transport,
  redis: Redis,
  bot: Target,
  minimal: Target,
): Promise<Figure[]> {
  const figures: Figure[] = [];
  const pids = [bot.pid, minimal.pid];
  for (const load of LOADS) {
    const ms: Record<Target['name'], number[]> = { bot: [], minimal: [] };
    /** Each round's own p99: the pooled p99 is set by the worst round, these show the others. */
    const rounds: Record<Target['name'], number[]> = { bot: [], minimal: [] };
    // Warm-up: JIT, connection pools, Bolt's first auth.test; not counted.
    for (let i = 0; i < WARMUP_ROUNDS; i++) {
      for (const t of [bot, minimal]) {
        await between(ctx, redis, pids, `${load.name} warm-up`, load);
        await burst(slack, transport, t, load);
      }
    }
    for (let i = 0; i < MEASURED_ROUNDS; i++) {
      // ABBA: bot, minimal, minimal, bot, …: each gets the early and the late slot equally often.
      const order = i % 2 === 0 ? [bot, minimal] : [minimal, bot];
      for (const t of order) {
        await between(ctx, redis, pids, `${load.name} round ${i + 1}`, load);
        const round = await burst(slack, transport, t, load);
        ms[t.name].push(...round);
        rounds[t.name].push(percentile(round, 99));
        ctx.log(`[bench] ack ${load.name} ${t.name} round ${i + 1}: p99 ${percentile(round, 99)} ms`);
      }
    }
    await between(ctx, redis, pids, `${load.name} end`, load);
    const botP99 = percentile(ms.bot, 99);
    const minimalP99 = percentile(ms.minimal, 99);
    figures.push(
      ratioFigure({
        section: 'ack',
        figure: `Slack ack p99, ${CONCURRENT} concurrent /rollback ${load.text}`,
        anchor: { what: 'minimal Bolt app', value: minimalP99 },
        value: botP99,
        unit: 'ms',
        maxRatio: 1.25,
        note: [
          `${MEASURED_ROUNDS}×${CONCURRENT} each; p50 ${percentile(ms.bot, 50)} vs ${percentile(ms.minimal, 50)} ms`,
          `rounds' p99s ${rounds.bot.join('/')} vs ${rounds.minimal.join('/')} ms`,
          ...(['bot', 'minimal'] as const).flatMap((n) => {
            const lost = ms[n].filter((x) => x === Number.POSITIVE_INFINITY).length;
            return lost ? [`${n}: ${lost} not acked within 3 s`] : [];
          }),
        ].join('; '),
      }),
    );
  }
  return figures;
}

export const benchAck: Section = async (ctx) => {
  const { world } = ctx;
  await setDatabaseHead(world, 'aaa111');
  const ns = await freshNamespace(world, 'bench-ack');
  // Two releases: the dry run has a revision to go back to, and assesses as a real request would.
  await shipReleases(world, ns, [
    { image: IMAGES.good, cause: 'Release v2024.01.14', head: 'aaa111' },
    { image: IMAGES.next, cause: 'Release v2024.01.15', head: 'aaa111' },
  ]);
  const slack = await startSlackEmulator({
    botToken: TOKEN,
    signingSecret: SECRET,
    users: USERS.map((id) => ({ id, name: id.toLowerCase() })),
    channels: [{ id: C, name: 'incidents', members: USERS }],
    // Generous: the figure is the ack, not the bot's queueing behind Slack's rate limits.
    rateLimit: { perSecond: 1000, burst: 1000 },
    updateRateLimit: { perSecond: 1000, burst: 1000 },
  });
  const catalog = worldCatalog(world, ns, (svc) => {
    svc.channel = C;
    svc.notify = {};
  });
  const redis = new Redis(world.redisUrl, { maxRetriesPerRequest: 3 });
  let bot: BotProcess | undefined;
  let minimal: Awaited<ReturnType<typeof startMinimal>> | undefined;
  let load: Awaited<ReturnType<typeof startLoadGenerator>> | undefined;
  try {
    bot = await startSlackBot(world, {
      slack,
      botToken: TOKEN,
      signingSecret: SECRET,
      catalog,
      name: 'bench-ack',
      // As deployed (manifests/deployment.yaml): the watch triggers on, so idle RSS counts them too.
      // Both releases are healthy, so they signal nothing during the loads.
      env: {
        WATCH_TRIGGERS: 'true',
        // BENCH_CPU_PROF=<dir>: the bot writes a V8 CPU profile there when it stops (open it in DevTools).
        ...(process.env.BENCH_CPU_PROF
          ? { NODE_OPTIONS: `--import ${new URL('./cpu-profile.mjs', import.meta.url).pathname}` }
          : {}),
      },
      compiled: true,
    });
    minimal = await startMinimal(world, slack);
    if (bot.proc.pid === undefined) throw new Error('bot has no pid');
    const botTarget: Target = { name: 'bot', url: bot.url, pid: bot.proc.pid };

    // Idle: both started, ready, then left alone.
    await sleep(3000);
    await quiet([botTarget.pid, minimal.target.pid], 'idle');
    const [botRss, minimalRss] = [await idleRss(botTarget.pid), await idleRss(minimal.target.pid)];
    const rss = ratioFigure({
      section: 'ack',
      figure: 'idle RSS',
      anchor: { what: 'minimal Bolt app + @kubernetes/client-node', value: minimalRss },
      value: botRss,
      unit: 'MB',
      maxRatio: 1.3,
      also: [{ goal: '< 150 MB', met: botRss < 150 }],
      note: 'VmRSS, median of 5, after start',
    });
    load = await startLoadGenerator();
    return [rss, ...(await measure(ctx, slack, load.transport, redis, botTarget, minimal.target))];
  } finally {
    load?.stop();
    await bot?.stop();
    await minimal?.stop();
    await slack.close();
    redis.disconnect();
  }
};
