// What the alert sections drive: N services, each its own namespace, Deployment and Slack channel
// (Slack limits posts per channel, so one channel per service keeps a section from measuring the
// emulator's 429s), with a bad release rolled out so a firing alert opens an incident. The real bot
// process runs against them, compiled, with the Alertmanager webhook on and watch triggers off (the
// alerts under test are the only signals).
import type { Catalog } from '../../src/config/catalog-schema.js';
import { alertmanagerNotification } from '../../test/support/alert-payloads.js';
import { type BotProcess, startSlackBot } from '../../test/support/bot-process.js';
import { worldCatalog } from '../../test/support/engine.js';
import { kubectlOk } from '../../test/support/kubectl.js';
import { freshNamespace } from '../../test/support/namespaces.js';
import { NAME, setDatabaseHead, shipRelease } from '../../test/support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../../test/support/slack-emulator/index.js';
import type { WorldInfo } from '../../test/support/world/world.js';
import { cpuSeconds, rssMb } from './proc.js';

export const WEBHOOK_TOKEN = 'bench-alert-token';
const U = 'U0SRE00001';

export interface FleetService {
  name: string;
  namespace: string;
  channel: string;
  policy: 'propose' | 'auto-unconfirmed';
  /** The revision the Deployment is on now (a bad release). */
  revision: number;
}

export interface AlertFleet {
  services: FleetService[];
  slack: SlackEmulator;
  bot: BotProcess;
  /** Rolls every service onto a new bad release (a new revision: a new incident key). */
  shipBadRevision(): Promise<void>;
  /** Top-level posts (incident threads) in a service's channel. */
  threads(svc: FleetService): number;
  /** POSTs one webhook body; resolves with the answer's status and its time in ms. */
  post(body: string): Promise<{ status: number; ms: number }>;
  /** The bot's resident memory (MB) and CPU time (s, user + system) from /proc. */
  usage(): { rssMb: number; cpuSeconds: number };
  stop(): Promise<void>;
}

export async function startAlertFleet(
  world: WorldInfo,
  o: {
    prefix: string;
    count: number;
    /**
     * Per service (by index): `propose` (the example's), or `auto-unconfirmed`: policy auto with a trigger
     * the bad release never reaches (99% errors), so the bot runs its guard rails and its fresh read, is
     * not confirmed, and proposes instead. That costs what an automatic rollback's checks cost, without
     * a rollback running during the bench.
     */
    policy?: (i: number) => 'propose' | 'auto-unconfirmed';
  },
): Promise<AlertFleet> {
  await setDatabaseHead(world, 'a');
  const services: FleetService[] = [];
  for (let i = 0; i < o.count; i++) {
    const namespace = await freshNamespace(world, `${o.prefix}-${i}`);
    services.push({
      name: `rm-${i}`,
      namespace,
      channel: `C0ALERTS${String(i).padStart(3, '0')}`,
      policy: o.policy?.(i) ?? 'propose',
      revision: 0,
    });
  }
  let release = 1;
  const shipAll = async (image: string) => {
    release += 1;
    await Promise.all(
      services.map(async (svc) => {
        svc.revision += 1;
        await shipRelease(world, svc.namespace, { image, cause: `v${release}`, head: 'a' }, svc.revision, {
          replicas: 1,
          baseline: false,
        });
      }),
    );
  };
  await shipAll('registry.test/release-manager:v1');
  const slack = await startSlackEmulator({
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    users: [{ id: U, name: 'alice' }],
    channels: services.map((s) => ({ id: s.channel, name: s.name, members: [U] })),
  });
  const catalog: Catalog = { services: new Map() };
  for (const s of services) {
    const [entry] = worldCatalog(world, s.namespace, (svc) => {
      svc.channel = s.channel;
      svc.notify = {};
      if (s.policy === 'auto-unconfirmed') {
        svc.policy = { mode: 'auto', cooldownMinutes: 0, maxAutoRollbacks: 100, windowMinutes: 60 };
        svc.metrics.triggerErrorRatio = 0.99;
      } else svc.policy.mode = 'propose';
    }).services.values();
    if (!entry) throw new Error('worldCatalog returned no entry');
    entry.name = s.name;
    catalog.services.set(s.name, entry);
  }
  const bot = await startSlackBot(world, {
    slack,
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    catalog,
    name: o.prefix,
    env: {
      ALERT_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      WATCH_TRIGGERS: 'false',
      // BENCH_CPU_PROF=<dir>: the bot writes a V8 CPU profile there when it stops (open it in DevTools).
      ...(process.env.BENCH_CPU_PROF
        ? { NODE_OPTIONS: `--import ${new URL('./cpu-profile.mjs', import.meta.url).pathname}` }
        : {}),
    },
    compiled: true,
  }).catch(async (err: unknown) => {
    await slack.close();
    throw err;
  });
  const pid = bot.proc.pid;
  return {
    services,
    slack,
    bot,
    shipBadRevision: () => shipAll(`registry.test/release-manager:v${release + 1}-bad`),
    threads: (svc) => slack.messages(svc.channel).filter((m) => m.via === 'chat.postMessage').length,
    async post(body) {
      const t = performance.now();
      const res = await fetch(`${bot.url}/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
        body,
      });
      await res.arrayBuffer();
      return { status: res.status, ms: performance.now() - t };
    },
    usage() {
      if (pid === undefined) throw new Error('the bot has no pid');
      return { rssMb: rssMb(pid), cpuSeconds: cpuSeconds(pid) };
    },
    async stop() {
      await bot.stop();
      await slack.close();
      await kubectlOk(world, ['delete', 'namespace', '--wait=false', ...services.map((s) => s.namespace)]);
    },
  };
}

/** One Alertmanager notification for a service's Deployment, as the webhook receives it. */
export function alertBody(
  svc: FleetService,
  a: { alertname: string; fingerprint: string; status?: 'firing' | 'resolved'; startsAt?: string },
): string {
  const status = a.status ?? 'firing';
  return JSON.stringify(
    alertmanagerNotification(
      [
        {
          status,
          labels: {
            alertname: a.alertname,
            namespace: svc.namespace,
            deployment: NAME,
            severity: 'critical',
          },
          annotations: { summary: `${a.alertname} on ${svc.name}` },
          startsAt: a.startsAt ?? new Date().toISOString(),
          endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
          fingerprint: a.fingerprint,
        },
      ],
      status,
    ),
  );
}
