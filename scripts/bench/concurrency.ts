// 20 rollbacks of 20 Deployments approved at once, against one rollback alone in the same run, on the
// compiled bot and the Slack emulator with Slack's own limits (chat.postMessage ≈ 1/s per channel with
// a burst of 3, chat.update 50/min per workspace): nothing here raises them.
//
// Two channel layouts, because where the threads live decides what Slack lets through:
// - "one #incidents": the bot's documented default, every service's thread in one channel. Slack
//   takes about one post a second there, whoever posts, so 20 threads share one second-by-second lane.
// - "5 team channels": the same 20 services spread over five team channels, four each.
// The anchor is one rollback alone in its own channel, before both. The same 20 Deployments serve both
// layouts (broken again between them); the second runs on a second bot whose catalog names them anew.
// Twenty /rollback commands at once in one channel can lose a root post to 429s (the command is then
// answered with an error): those are counted, and sent again one at a time, as the person would.
//
// For each rollback: approve (the click) → verified (the `verified` event in the record, the bot's own
// clock on this machine) and → the thread says so (the summary post, as the emulator took it). The
// thread of each of the 20 must hold the same kinds of messages as the single one's (nothing lost to
// 429s), and every 429 the emulator answered must be followed by the same call succeeding (retried).
import { Redis } from 'ioredis';
import type { Catalog, CatalogEntry } from '../../src/config/catalog-schema.js';
import type { Rollback } from '../../src/rollback/model.js';
import { createRedisStore } from '../../src/store/create-redis-store.js';
import { type BotProcess, startSlackBot } from '../../test/support/bot-process.js';
import { worldCatalog } from '../../test/support/engine.js';
import { eventually, kubectlOk } from '../../test/support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../../test/support/namespaces.js';
import { NAME, resourcesRecorded, setDatabaseHead, shipRelease } from '../../test/support/releases.js';
import {
  type CallRecord,
  type StoredMessage,
  startSlackEmulator,
} from '../../test/support/slack-emulator/index.js';
import { hasButton, textOf } from '../../test/support/slack-text.js';
import type { WorldInfo } from '../../test/support/world/world.js';
import type { Section } from './context.js';
import { type ControllerLoad, controllerLoad, describeLoad, loadBetween } from './controller-manager.js';
import { type Figure, ratioFigure } from './figures.js';

const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const SRE = 'U0SRE00001';
const EM = 'U0ENGMGR01';
const MONITOR = 'S0MONITOR1';
const SECRET = 'bench-concurrency-secret';
const TOKEN = 'xoxb-bench-concurrency';
const N = 20;
const MAX_RATIO = 1.5;

const SOLO = { id: 'C0SOLO0001', name: 'payments-incidents' };
const INCIDENTS = { id: 'C0INCIDENTS', name: 'incidents' };
const TEAMS = Array.from({ length: 5 }, (_, i) => ({ id: `C0TEAM000${i + 1}`, name: `team-${i + 1}` }));

interface Planned {
  service: string;
  namespace: string;
  channel: string;
}

interface Layout {
  name: string;
  services: Planned[];
}

interface Timed {
  service: string;
  channel: string;
  id: string;
  rootTs: string;
  approvedAt: number;
  verifiedAt: number;
  /** When the emulator took the thread's summary post (the person sees "verified"). */
  shownAt: number;
  state: string;
  /** Each transition after the approval: its event type and ms after the click. */
  steps: { type: string; ms: number }[];
}

/** Runs a few at a time: setting 41 Deployments up all at once only queues them on 2 cores. */
async function pool<T, R>(items: T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

/** A message's kind, with the service's own words taken out: what two threads are compared on. */
function kindOf(m: StoredMessage, service: string): string {
  // Rollout progress: one message edited in place, whatever the rollout said last.
  if (JSON.stringify(m.blocks).includes(':rewind:')) return `${m.via}: rollout progress`;
  const text = m.text.replaceAll(service, 'SVC');
  const head = text.split(/[:.\n]/)[0] ?? '';
  return `${m.via}${m.files?.length ? '+file' : ''}${m.reply_broadcast ? '+broadcast' : ''}: ${head.replace(/\d+/g, '#').slice(0, 60)}`;
}

function kinds(msgs: StoredMessage[], service: string): string[] {
  return msgs.map((m) => kindOf(m, service)).sort();
}

/** What the second multiset lacks of the first (kinds lost), as "kind ×n". */
function lacking(expected: string[], got: string[]): string[] {
  const left = new Map<string, number>();
  for (const k of got) left.set(k, (left.get(k) ?? 0) + 1);
  const out: string[] = [];
  for (const k of expected) {
    const n = left.get(k) ?? 0;
    if (n > 0) left.set(k, n - 1);
    else out.push(k);
  }
  return out;
}

const sameCall = (a: CallRecord, b: CallRecord) =>
  a.method === b.method &&
  a.args.channel === b.args.channel &&
  a.args.thread_ts === b.args.thread_ts &&
  a.args.ts === b.args.ts &&
  a.args.text === b.args.text;

/**
 * The good release, then the bad one, as CD shipped them. Not shipReleases(): on a machine this loaded
 * the good release can miss its 15 s progress deadline and still become Ready a little later.
 */
async function ship(world: WorldInfo, namespace: string): Promise<void> {
  await shipRelease(world, namespace, { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' }, 1, {
    replicas: 2,
  });
  await eventually(
    `${namespace}/${NAME} ready`,
    async () =>
      (await kubectlOk(world, [
        'get',
        'deployment',
        NAME,
        '-n',
        namespace,
        '-o',
        'jsonpath={.status.readyReplicas}',
      ])) === '2',
    180_000,
  );
  await resourcesRecorded(world, namespace, NAME, 'Deployment');
  await shipRelease(world, namespace, { image: BAD, cause: 'Release v2024.01.15', head: 'aaa111' }, 2, {
    replicas: 2,
  });
}

const crashLooping = (world: WorldInfo, namespace: string) =>
  eventually(
    `crash loop in ${namespace}`,
    async () => (await kubectlOk(world, ['get', 'pods', '-n', namespace])).includes('CrashLoopBackOff'),
    180_000,
  );

export const benchConcurrency: Section = async ({ world, log }) => {
  await setDatabaseHead(world, 'aaa111');
  log(`[concurrency] shipping ${N + 1} Deployments (good, then crash-looping)`);
  const t0 = Date.now();
  const namespaces = await pool(
    Array.from({ length: N + 1 }, (_, i) => i),
    4,
    async () => {
      const ns = await freshNamespace(world, 'bench-conc');
      await ship(world, ns);
      return ns;
    },
  );
  await pool(namespaces, 4, (ns) => crashLooping(world, ns));
  log(`[concurrency] shipped in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const [soloNs, ...many] = namespaces as [string, ...string[]];
  const solo: Planned = { service: 'payments-api', namespace: soloNs, channel: SOLO.id };
  // The same 20 Deployments in both layouts, broken again between them: the catalog names them anew
  // for each (a workload is catalogued once), so the second layout runs on a second bot process.
  const layouts: Layout[] = [
    {
      name: 'one #incidents',
      services: many.map((namespace, i) => ({
        service: `inc-svc-${String(i + 1).padStart(2, '0')}`,
        namespace,
        channel: INCIDENTS.id,
      })),
    },
    {
      name: '5 team channels',
      services: many.map((namespace, i) => ({
        service: `team-svc-${String(i + 1).padStart(2, '0')}`,
        namespace,
        channel: TEAMS[i % TEAMS.length]?.id ?? '',
      })),
    },
  ];

  const catalogFor = (planned: Planned[]): Catalog => {
    const entries = new Map<string, CatalogEntry>();
    for (const s of planned) {
      const entry = worldCatalog(world, s.namespace, (svc) => {
        svc.channel = s.channel;
        svc.approvers = { users: [SRE], groups: [], requireSecondPerson: false, expireMinutes: 60 };
        svc.notify = { engineeringManager: EM, monitoringGroup: MONITOR };
      }).services.get('release-manager');
      if (!entry) throw new Error('worldCatalog lost release-manager');
      entries.set(s.service, { ...entry, name: s.service });
    }
    return { services: entries };
  };

  const slack = await startSlackEmulator({
    botToken: TOKEN,
    signingSecret: SECRET,
    users: [
      { id: SRE, name: 'alice' },
      { id: EM, name: 'erin' },
    ],
    usergroups: { [MONITOR]: [EM] },
    channels: [SOLO, INCIDENTS, ...TEAMS].map((c) => ({ ...c, members: [SRE, EM] })),
  });
  const redis = new Redis(world.redisUrl);
  const store = createRedisStore(redis);
  let bot: BotProcess | undefined;
  const startBot = async (planned: Planned[], name: string) => {
    await bot?.stop();
    bot = await startSlackBot(world, {
      slack,
      botToken: TOKEN,
      signingSecret: SECRET,
      catalog: catalogFor(planned),
      name,
      env: { WATCH_TRIGGERS: 'false' },
      compiled: true,
    });
    return bot;
  };

  const rootOf = (s: Planned) =>
    slack
      .messages(s.channel)
      .find(
        (m) =>
          m.via === 'chat.postMessage' &&
          !m.thread_ts &&
          (m.history[0]?.text ?? m.text).startsWith(`Rollback of ${s.service} requested`),
      );

  async function idFromStore(service: string): Promise<string> {
    const recent = await store.listRecent(5, service);
    const id = recent[0]?.id;
    if (!id) throw new Error(`no rollback of ${service} recorded`);
    return id;
  }

  const refusals = () => slack.ephemerals({ userId: SRE }).filter((e) => /rate limit/i.test(e.text));
  const command = (running: BotProcess, s: Planned) =>
    slack.sendSlashCommand({
      botUrl: `${running.url}/slack/events`,
      command: '/rollback',
      text: `${s.service} error rate 8% since v2024.01.15`,
      userId: SRE,
      channelId: s.channel,
    });

  /**
   * /rollback for each at once, waits for every assessment, then clicks Approve on all at once. A
   * command whose root post Slack kept refusing (429 until the client gave up) is answered with an
   * error: counted, and sent again one at a time, as the person would.
   */
  async function run(
    running: BotProcess,
    layout: Layout,
  ): Promise<Timed[] & { refused: number; unackedClicks: number; load: ControllerLoad }> {
    log(`[concurrency] ${layout.name}: /rollback × ${layout.services.length}`);
    const refusedBefore = refusals().length;
    const acks = await Promise.all(layout.services.map((s) => command(running, s)));
    // Not acked within Slack's 3 s: Slack tells the person it failed; the bot may have started it anyway.
    const unacked = acks.filter((a) => a.status !== 200).length;
    if (unacked) log(`[concurrency] ${layout.name}: ${unacked} /rollback commands not acked within 3 s`);
    await eventually(
      'every /rollback answered (a root message or an error)',
      async () =>
        layout.services.filter((s) => rootOf(s)).length + refusals().length - refusedBefore >=
        layout.services.length - unacked,
      180_000,
    );
    // The unacked ones that did start show their root within a few seconds more.
    if (unacked) await new Promise((r) => setTimeout(r, 10_000));
    const refused = layout.services.filter((s) => !rootOf(s)).length;
    for (const s of layout.services.filter((x) => !rootOf(x))) {
      log(`[concurrency] ${layout.name}: /rollback ${s.service} again (its first was refused)`);
      for (let attempt = 0; !rootOf(s); attempt++) {
        if (attempt >= 5) throw new Error(`/rollback ${s.service} refused 5 times`);
        const before = refusals().length;
        await command(running, s);
        await eventually(
          `/rollback ${s.service} answered`,
          async () => rootOf(s) || refusals().length > before,
          60_000,
        ).catch(() => undefined); // not acked and not started: sent again
      }
    }
    const ready = await Promise.all(
      layout.services.map((s) =>
        eventually(
          `assessment of ${s.service} with Approve`,
          async () => {
            const root = rootOf(s);
            const assessment =
              root && slack.thread(s.channel, root.ts).find((m) => hasButton(m, 'rollback_approve'));
            return root && assessment ? { s, root, assessment } : undefined;
          },
          300_000,
        ).catch((err: unknown) => running.explain(err)),
      ),
    );
    log(`[concurrency] ${layout.name}: approving ${ready.length} at once`);
    const loadBefore = await controllerLoad(world);
    const approvedAt = Date.now();
    const click = ({ s, assessment }: (typeof ready)[number]) =>
      slack.clickButton({
        botUrl: `${running.url}/slack/events`,
        channelId: s.channel,
        messageTs: assessment.ts,
        actionId: 'rollback_approve',
        userId: SRE,
      });
    const clicks = await Promise.all(ready.map(click));
    // A click not acked within 3 s: Slack shows the person an error; the bot may have approved anyway.
    // If it did not, the person clicks again: the time still counts from the first click.
    const unclicked = ready.filter((_, i) => clicks[i]?.status !== 200);
    if (unclicked.length)
      log(`[concurrency] ${layout.name}: ${unclicked.length} approvals not acked within 3 s`);
    for (const x of unclicked) {
      const id = /id `([0-9a-f-]{36})`/.exec(textOf(x.root))?.[1] ?? (await idFromStore(x.s.service));
      for (let attempt = 0; ; attempt++) {
        const approved = await eventually(
          `${x.s.service} approved`,
          async () => ((await store.get(id))?.state !== 'awaiting_approval' ? true : undefined),
          10_000,
        ).catch(() => false);
        if (approved) break;
        if (attempt >= 3) throw new Error(`${x.s.service}: approval clicked 4 times, never taken`);
        await click(x);
      }
    }
    const timed = await Promise.all(
      ready.map(async ({ s, root }) => {
        const id = /id `([0-9a-f-]{36})`/.exec(textOf(root))?.[1] ?? (await idFromStore(s.service));
        const r = await eventually(
          `${s.service} ended`,
          async () => {
            const x = await store.get(id);
            return x && ['completed', 'failed', 'cancelled'].includes(x.state) ? x : undefined;
          },
          600_000,
        ).catch((err: unknown) => running.explain(err));
        const events = await store.events(id);
        const verified = events.find((e) => e.type === 'verified');
        const steps = events
          .filter((e) => Date.parse(e.at) >= approvedAt && (e.from !== e.to || e.data?.milestone))
          .map((e) => ({
            type: e.from !== e.to ? e.type : `(${String(e.data?.milestone).slice(0, 40)})`,
            ms: Date.parse(e.at) - approvedAt,
          }));
        const summary = await eventually(
          `${s.service}'s summary in its thread`,
          async () =>
            slack
              .calls('chat.postMessage')
              .find(
                (c) =>
                  c.ok &&
                  c.args.thread_ts === root.ts &&
                  String(c.args.text).startsWith(`Rollback of ${s.service}: `),
              ),
          600_000,
        ).catch((err: unknown) => running.explain(err));
        return {
          service: s.service,
          channel: s.channel,
          id,
          rootTs: root.ts,
          approvedAt,
          verifiedAt: verified ? Date.parse(verified.at) : Number.NaN,
          shownAt: summary.at,
          state: (r as Rollback).state,
          steps,
        };
      }),
    );
    const load = loadBetween(loadBefore, await controllerLoad(world));
    log(
      `[concurrency] ${layout.name}: kube-controller-manager, approve → last summary: ${describeLoad(load)}`,
    );
    return Object.assign(timed, { refused, unackedClicks: unclicked.length, load });
  }

  /** Waits until nothing is left to post (outboxes empty, no Slack call for 3 s). */
  async function settled(runs: Timed[]): Promise<void> {
    await eventually(
      'every outbox delivered',
      async () => {
        for (const t of runs) if ((await store.outbox(t.id, 1)).length) return undefined;
        return true;
      },
      300_000,
    );
    let last = -1;
    await eventually(
      'the threads settled',
      async () => {
        await new Promise((r) => setTimeout(r, 2750));
        const n = slack.calls().length;
        const quiet = n === last;
        last = n;
        return quiet || undefined;
      },
      120_000,
    );
  }

  const threadOf = (t: Timed) => slack.thread(t.channel, t.rootTs);

  try {
    const first = await startBot([solo, ...(layouts[0]?.services ?? [])], 'bench-concurrency-1');
    // The anchor: one rollback alone, in its own channel.
    const aloneRuns = await run(first, { name: 'one rollback alone', services: [solo] });
    const [alone] = aloneRuns;
    if (!alone) throw new Error('the single rollback did not run');
    await settled([alone]);
    const soloKinds = kinds(threadOf(alone), alone.service);
    const soloVerify = alone.verifiedAt - alone.approvedAt;
    const soloShown = alone.shownAt - alone.approvedAt;
    log(`[concurrency] alone: ${alone.steps.map((x) => `${x.type} +${x.ms}`).join(', ')}`);
    log(
      `[concurrency] alone: verified ${soloVerify} ms, shown ${soloShown} ms, ${soloKinds.length} messages in its thread:\n  ${soloKinds.join('\n  ')}`,
    );
    if (alone.state !== 'completed' || Number.isNaN(soloVerify))
      throw new Error(`the single rollback ended ${alone.state}, not verified`);

    const figures: Figure[] = [];
    for (const [i, layout] of layouts.entries()) {
      let running = first;
      if (i > 0) {
        log(`[concurrency] breaking the ${N} Deployments again for ${layout.name}`);
        await pool(many, 4, async (ns) => {
          await kubectlOk(world, ['set', 'image', `deployment/${NAME}`, '-n', ns, `app=${BAD}`]);
          await crashLooping(world, ns);
        });
        running = await startBot(layout.services, `bench-concurrency-${i + 1}`);
      }
      const from = slack.calls().length;
      const rejectedBefore = slack.rejected().length;
      const runs = await run(running, layout);
      await settled(runs);
      const calls = slack.calls().slice(from);
      const limited = calls.filter((c) => c.status === 429);
      const retried = limited.filter((c) => calls.some((d) => d.ok && d.at >= c.at && sameCall(c, d))).length;
      const verified = runs.filter((t) => t.state === 'completed' && !Number.isNaN(t.verifiedAt));
      const start = Math.min(...runs.map((t) => t.approvedAt));
      const wall = Math.max(...runs.map((t) => t.verifiedAt)) - start;
      const shown = Math.max(...runs.map((t) => t.shownAt)) - start;
      const lost = runs.flatMap((t) => lacking(soloKinds, kinds(threadOf(t), t.service)));
      const extra = runs.flatMap((t) => lacking(kinds(threadOf(t), t.service), soloKinds));
      const rejected = slack.rejected().slice(rejectedBefore);
      log(
        `[concurrency] ${layout.name}: ${verified.length}/${runs.length} verified, last verified ${wall} ms, last shown ${shown} ms; ${limited.length} × 429 (${retried} retried), ${lost.length} messages missing${lost.length ? `: ${[...new Set(lost)].join('; ')}` : ''}, ${extra.length} extra${extra.length ? `: ${[...new Set(extra)].join('; ')}` : ''}, ${rejected.length} refused${rejected.length ? `: ${rejected.map((x) => `${x.method} ${x.error}`).join('; ')}` : ''}`,
      );
      for (const t of runs)
        log(
          `  ${t.service} (${t.channel}): ${t.state}, shown +${t.shownAt - t.approvedAt} ms; ${t.steps.map((x) => `${x.type} +${x.ms}`).join(', ')}`,
        );
      const allVerified = { goal: `all ${N} verified`, met: verified.length === N };
      const noneLost = {
        goal: 'no message lost to 429s',
        met: lost.length === 0 && extra.length === 0 && retried === limited.length && rejected.length === 0,
      };
      const slackNote = `${limited.length} × 429, ${retried} retried, ${lost.length} lost, ${extra.length} extra`;
      const { refused } = runs;
      figures.push(
        {
          section: 'concurrency',
          figure: `${N} × /rollback at once, ${layout.name}: commands that did not start (root post lost to 429s, or no ack in 3 s)`,
          value: refused,
          unit: '',
          goal: '0',
          met: refused === 0,
          note: 'each sent again by hand until it started',
        },
        ratioFigure({
          section: 'concurrency',
          figure: `${N} rollbacks approved at once, ${layout.name}: approve → last verified (record)`,
          anchor: { what: 'one alone: approve → verified', value: soloVerify },
          value: wall,
          unit: 'ms',
          maxRatio: MAX_RATIO,
          also: [allVerified, noneLost],
          note: `${verified.length}/${N} verified; ${slackNote}${runs.unackedClicks ? `; ${runs.unackedClicks} clicks not acked in 3 s` : ''}`,
        }),
        ratioFigure({
          section: 'concurrency',
          figure: `${N} rollbacks approved at once, ${layout.name}: approve → last "verified" in its thread`,
          anchor: { what: 'one alone: approve → shown', value: soloShown },
          value: shown,
          unit: 'ms',
          maxRatio: MAX_RATIO,
          also: [noneLost],
          note: slackNote,
        }),
        {
          section: 'concurrency',
          figure: `${N} rollbacks approved at once, ${layout.name}: kube-controller-manager's own wait on its API rate limit, approve → last summary (informational)`,
          anchor: { what: 'one alone', value: aloneRuns.load.throttled.seconds },
          value: runs.load.throttled.seconds,
          unit: 's',
          goal: '—',
          met: true,
          note: describeLoad(runs.load),
        },
      );
    }
    return figures;
  } finally {
    await bot?.stop();
    await slack.close();
    redis.disconnect();
    await deleteNamespaces(world);
  }
};
