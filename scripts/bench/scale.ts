// Scale: 200 catalogued services (real Deployments, 10 in each of 20 namespaces; entries shaped as
// manifests/catalog.yaml writes its example) with the watch triggers on, as in production. How long the bot takes to be ready with its watches open, what it
// costs idle (RSS, CPU over 30 s), and whether its watch connections follow namespaces or services.
// The watches are counted by the apiserver itself (apiserver_longrunning_requests, verb WATCH): the
// same 20 namespaces with 20 services (one each) and with 200 must open as many; 5 namespaces fewer.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadCatalog } from '../../src/config/load-catalog.js';
import { type BotProcess, startBot } from '../../test/support/bot-process.js';
import { EXAMPLE_CATALOG } from '../../test/support/engine.js';
import { deploymentYaml, kubectlOk } from '../../test/support/kubectl.js';
import { addKwokNode } from '../../test/support/kwok-nodes.js';
import { deleteNamespaces, freshNamespace } from '../../test/support/namespaces.js';
import { startSlackEmulator } from '../../test/support/slack-emulator/index.js';
import type { WorldInfo } from '../../test/support/world/world.js';
import type { Section } from './context.js';
import type { Figure } from './figures.js';
import { cpuSeconds, rssMb } from './proc.js';

const C = 'C0INCIDENTS';
const U = 'U0SRE00001';
const NAMESPACES = 20;
const PER_NAMESPACE = 10;
const IMAGE = 'registry.test/release-manager:v1';
const IDLE_CPU_SECONDS = 30;
/** After the start-up reads are over, before idle is measured. */
const SETTLE_MS = 5_000;

/** WATCH requests the apiserver holds open now, by resource (its own gauge). */
async function watchesByResource(world: WorldInfo): Promise<Map<string, number>> {
  const text = await kubectlOk(world, ['get', '--raw', '/metrics']);
  const out = new Map<string, number>();
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_longrunning_requests{')) continue;
    seen = true;
    if (!line.includes('verb="WATCH"')) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '?';
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    out.set(resource, (out.get(resource) ?? 0) + value);
  }
  if (!seen) throw new Error('the apiserver exports no apiserver_longrunning_requests: cannot count watches');
  return out;
}

/** Watches the bot holds: the apiserver's count with the bot minus its count before the bot started. */
async function botWatches(world: WorldInfo, before: Map<string, number>): Promise<Record<string, number>> {
  // Median of three samples a second apart: a controller's watch timing out and reopening moves one.
  const samples: Record<string, number>[] = [];
  for (let i = 0; i < 3; i++) {
    const now = await watchesByResource(world);
    const delta: Record<string, number> = {};
    for (const r of new Set([...now.keys(), ...before.keys()])) {
      const d = (now.get(r) ?? 0) - (before.get(r) ?? 0);
      if (d !== 0) delta[r] = d;
    }
    samples.push(delta);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const sum = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);
  samples.sort((a, b) => sum(a) - sum(b));
  return samples[1] ?? {};
}

const sumOf = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);
const describeWatches = (d: Record<string, number>) =>
  Object.entries(d)
    .map(([r, n]) => `${r} ${n}`)
    .join(', ') || 'none';

/** CPU used while idle, as % of one core. */
async function idleCpuPercent(pid: number, seconds: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - t0) / 1000;
  return ((cpuSeconds(pid) - c0) / wall) * 100;
}

/**
 * One entry per Deployment, as a team writes them: the worked example's release-manager entry as it
 * stands in manifests/catalog.yaml (not its parsed form, where every default is spelled out and an
 * entry is twice the size), pointed at the world. Written as YAML and loaded as the bot loads it.
 */
function scaleCatalog(
  world: WorldInfo,
  deployments: { ns: string; name: string }[],
  file: string,
): { path: string; ms: number } {
  const example = parseYaml(readFileSync(EXAMPLE_CATALOG, 'utf8')).services['release-manager'];
  if (!example) throw new Error('the example catalog lost release-manager');
  const services: Record<string, unknown> = {};
  for (const { ns, name } of deployments) {
    const url = `${world.standinUrl}/d/${ns}/${name}`;
    services[`${ns}-${name}`] = {
      ...structuredClone(example),
      namespace: ns,
      deployment: name,
      podSelector: `app=${name}`,
      channel: C,
      notify: {},
      health: { ...example.health, url: `${url}/health`, readyUrl: `${url}/ready` },
      smokeChecks: [{ name: 'api responds', http: { url: `${url}/ready`, expectStatus: 200 } }],
    };
  }
  const path = join(world.root, `catalog-${file}.yaml`);
  writeFileSync(path, stringifyYaml({ services }));
  const t0 = performance.now();
  const loaded = loadCatalog(path).services.size;
  const ms = performance.now() - t0;
  if (loaded !== deployments.length)
    throw new Error(`${path}: ${loaded} of ${deployments.length} entries loaded`);
  return { path, ms };
}

export const benchScale: Section = async ({ world, log }) => {
  // One KWOK node takes 110 pods: two more hold the 200.
  const removeNodes = await Promise.all([
    addKwokNode(world, `kwok-scale-${process.pid}-1`),
    addKwokNode(world, `kwok-scale-${process.pid}-2`),
  ]);
  const slack = await startSlackEmulator({
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    users: [{ id: U, name: 'alice' }],
    channels: [{ id: C, name: 'incidents', members: [U] }],
  });
  const bots: BotProcess[] = [];
  try {
    const t0 = performance.now();
    const namespaces = await Promise.all(
      Array.from({ length: NAMESPACES }, () => freshNamespace(world, 'bench-scale')),
    );
    const all = namespaces.flatMap((ns) =>
      Array.from({ length: PER_NAMESPACE }, (_, i) => ({ ns, name: `svc-${String(i).padStart(2, '0')}` })),
    );
    await Promise.all(
      namespaces.map((ns) =>
        kubectlOk(
          world,
          ['apply', '-f', '-'],
          all
            .filter((d) => d.ns === ns)
            .map((d) =>
              deploymentYaml({
                namespace: ns,
                name: d.name,
                app: d.name,
                image: IMAGE,
                replicas: 1,
                progressDeadlineSeconds: 600,
              }),
            )
            .join('---\n'),
        ),
      ),
    );
    await Promise.all(
      namespaces.map((ns) =>
        kubectlOk(world, [
          'wait',
          '--for=condition=Available',
          'deployment',
          '--all',
          '-n',
          ns,
          '--timeout=180s',
        ]),
      ),
    );
    log(
      `[scale] ${all.length} Deployments available in ${NAMESPACES} namespaces in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    /** Starts the bot on `catalog`; measures ready, its watches, idle RSS and CPU; stops it. */
    const run = async (
      name: string,
      { path: catalogPath, ms: catalogMs }: { path: string; ms: number },
      services: number,
      opts: { idle: boolean },
    ) => {
      const before = await watchesByResource(world);
      const started = Date.now();
      const bot = await startBot(
        world,
        {
          CATALOG_PATH: catalogPath,
          SLACK_BOT_TOKEN: 'xoxb-bench',
          SLACK_SIGNING_SECRET: 'bench-secret',
          SLACK_API_URL: `${slack.url}/api/`,
          WATCH_TRIGGERS: 'true',
        },
        `bench-scale-${name}-${process.pid}`,
        { compiled: true },
      );
      bots.push(bot);
      const readyAt = Date.now();
      // /ready answers once Slack listens; the watches are open when the bot logs "started".
      const logLine = (msg: string) =>
        readFileSync(bot.logFile, 'utf8')
          .split('\n')
          .find((l) => l.includes(`"msg":"${msg}"`));
      let startedAt: number | undefined;
      for (let i = 0; i < 1200 && startedAt === undefined; i++) {
        const line = logLine('rollback-bot started');
        if (line) startedAt = Date.parse(JSON.parse(line).at);
        else await new Promise((r) => setTimeout(r, 100));
      }
      if (startedAt === undefined) throw new Error(`bot ${name} never logged "rollback-bot started"`);
      const watchLine = logLine('watch triggers started');
      const watchMs = watchLine ? Number(JSON.parse(watchLine).ms) : Number.NaN;
      // Where the time went: /ready (node, imports, config, Slack; polled every 250 ms), the watches
      // (opened alongside Slack's start), and the catalog's load as the bot does it (in this process).
      const breakdown = `/ready at ${((readyAt - started) / 1000).toFixed(1)} s, watches opened in ${(watchMs / 1000).toFixed(1)} s, catalog load ${(catalogMs / 1000).toFixed(1)} s`;
      const readyMs = Math.max(readyAt, startedAt) - started;
      // Idle means after the start-up reads (one per workload): the bot says when they are over.
      let readsMs: number | undefined;
      for (let i = 0; i < 1200 && readsMs === undefined; i++) {
        const line = logLine('watch triggers: every workload read');
        if (line) readsMs = Number(JSON.parse(line).ms);
        else await new Promise((r) => setTimeout(r, 100));
      }
      if (readsMs === undefined) throw new Error(`bot ${name} never finished reading its workloads`);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const watches = await botWatches(world, before);
      const rss = rssMb(bot.proc.pid!);
      const cpu = opts.idle ? await idleCpuPercent(bot.proc.pid!, IDLE_CPU_SECONDS) : Number.NaN;
      const warnings = readFileSync(bot.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"level":"warn"') && !l.includes('verification not configured')).length;
      await bot.stop();
      bots.pop();
      log(
        `[scale] ${name}: ${services} services, ready ${readyMs} ms (${breakdown}; every workload read after ${readsMs} ms), watches ${sumOf(watches)} (${describeWatches(watches)}), RSS ${rss.toFixed(0)} MB, idle CPU ${cpu.toFixed(2)}%, ${warnings} warning(s)`,
      );
      return { readyMs, breakdown, readsMs, watches, rss, cpu, warnings };
    };

    const oneEach = namespaces.map((ns) => ({ ns, name: 'svc-00' }));
    const small = await run('20svc-20ns', scaleCatalog(world, oneEach, 'scale-20'), 20, { idle: true });
    const big = await run('200svc-20ns', scaleCatalog(world, all, 'scale-200'), all.length, { idle: true });
    const few = await run('5svc-5ns', scaleCatalog(world, oneEach.slice(0, 5), 'scale-5'), 5, {
      idle: false,
    });

    const smallW = sumOf(small.watches);
    const bigW = sumOf(big.watches);
    const fewW = sumOf(few.watches);
    if (smallW <= 0 || bigW <= 0)
      throw new Error(`the apiserver counted no watches of the bot (${smallW}, ${bigW}): cannot compare`);
    const figures: Figure[] = [
      {
        section: 'scale',
        figure: 'scale: ready with watches, 200 services / 20 namespaces',
        anchor: { what: '20 services / 20 namespaces', value: small.readyMs },
        value: big.readyMs,
        ratio: big.readyMs / small.readyMs,
        unit: 'ms',
        goal: '< 10 s',
        met: big.readyMs < 10_000,
        note: `process start → /ready and watches open; ${big.breakdown}; at 20: ${small.breakdown}`,
      },
      {
        section: 'scale',
        figure: 'scale: apiserver WATCH requests, 200 vs 20 services (same 20 namespaces)',
        anchor: { what: '20 services', value: smallW },
        value: bigW,
        ratio: bigW / smallW,
        unit: 'watches',
        goal: '≤ 1.10× (follows namespaces)',
        met: bigW / smallW <= 1.1,
        note: describeWatches(big.watches),
      },
      {
        section: 'scale',
        figure: 'scale: apiserver WATCH requests, 20 vs 5 namespaces (one service each)',
        anchor: { what: '5 namespaces', value: fewW },
        value: smallW,
        ratio: fewW > 0 ? smallW / fewW : Number.POSITIVE_INFINITY,
        unit: 'watches',
        goal: 'grows with namespaces (> 1×)',
        met: smallW > fewW,
        note: `${(smallW / NAMESPACES).toFixed(1)} per namespace at 20, ${(fewW / 5).toFixed(1)} at 5`,
      },
      {
        section: 'scale',
        figure: 'scale: idle RSS, 200 services',
        anchor: { what: '20 services', value: small.rss },
        value: big.rss,
        ratio: big.rss / small.rss,
        unit: 'MB',
        goal: '< 250 MB',
        met: big.rss < 250,
      },
      {
        section: 'scale',
        figure: `scale: idle CPU over ${IDLE_CPU_SECONDS} s, 200 services`,
        anchor: { what: '20 services', value: small.cpu },
        value: big.cpu,
        ...(small.cpu > 0 ? { ratio: big.cpu / small.cpu } : {}),
        unit: '% of a core',
        goal: '< 2%',
        met: big.cpu < 2,
        ...(big.warnings ? { note: `${big.warnings} warning(s) in the bot's log` } : {}),
      },
    ];
    return figures;
  } finally {
    for (const b of bots) await b.stop();
    await slack.close();
    await deleteNamespaces(world);
    for (const remove of removeNodes) await remove();
  }
};
