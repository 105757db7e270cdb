// npm run bench: each of the bot's figures next to an anchor measured in the same run (kubectl, a
// minimal Bolt app, the webhook's own answer), on one test world. Prints a table, writes the same
// figures as JSON, and with --check exits 1 naming each missed goal. Not part of npm test.
//   npm run bench -- [--check] [--only ack,rollback,...] [--out test-artifacts/bench.json]
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { kubectl, kubectlOk } from '../test/support/kubectl.js';
import { startWorld } from '../test/support/world/world.js';
import { benchAck } from './bench/ack.js';
import { benchAlerts } from './bench/alerts.js';
import { benchConcurrency } from './bench/concurrency.js';
import type { Section } from './bench/context.js';
import { type Figure, missed, table, writeJson } from './bench/figures.js';
import { benchRollback } from './bench/rollback.js';
import { benchScale } from './bench/scale.js';
import { benchStorm } from './bench/storm.js';
import { settleWorld } from './bench/world-settle.js';

// In the order they run: the idle and latency figures first, on a quiet world; scale last, because
// its 200 Deployments and extra nodes stay on the world.
const SECTIONS: Record<string, Section> = {
  ack: benchAck,
  alerts: benchAlerts,
  rollback: benchRollback,
  storm: benchStorm,
  concurrency: benchConcurrency,
  scale: benchScale,
};

const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'test-artifacts/bench.json' },
  },
});
const only = values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((s) => !(s in SECTIONS)) ?? [];
if (unknown.length) {
  console.error(`unknown section(s): ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`);
  process.exit(2);
}

const log = (line: string) => console.error(line);
const figures: Figure[] = [];
const world = await startWorld({ log });
const redis = new Redis(world.info.redisUrl, { maxRetriesPerRequest: 3 });
const namespaces = async () =>
  new Set((await kubectlOk(world.info, ['get', 'namespaces', '-o', 'name'])).split('\n'));
const before = await namespaces();
log(`[bench] before the first section: ${(await settleWorld(world.info, [])).summary}`);
try {
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (only && !only.includes(name)) continue;
    log(`[bench] ${name}`);
    try {
      figures.push(...(await section({ world: world.info, log })));
    } catch (err) {
      // A section that could not measure is a miss, never a pass.
      figures.push({
        section: name,
        figure: `${name}: could not measure`,
        value: Number.NaN,
        unit: '',
        goal: 'measured',
        met: false,
        note: (err as Error).message.split('\n')[0]?.slice(0, 200) ?? 'error',
      });
      log(`[bench] ${name} failed: ${(err as Error).stack ?? err}`);
    }
    // Each section starts on an empty Redis: what one section's bots left (a backlog of dry runs, their
    // outboxes) would otherwise be taken over and delivered by the next section's bot.
    await redis.flushdb();
    // And on a cluster without its Deployments: the one node takes 110 pods, and the rollback
    // section alone leaves 60 (the concurrency section then found no room for its own).
    const made = [...(await namespaces())].filter((n) => n && !before.has(n));
    if (made.length) await kubectl(world.info, ['delete', '--wait=false', ...made]);
    // The next section is measured on a world that has finished tearing these down.
    log(`[bench] after ${name}: ${(await settleWorld(world.info, made)).summary}`);
  }
} finally {
  redis.disconnect();
  await world.stop();
}

const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const date = new Date().toISOString();
console.log(`\nbench ${date} on ${machine}\n`);
console.log(table(figures));
writeJson(values.out, { date, machine, figures });
console.log(`\nfigures written to ${values.out}`);
const misses = missed(figures);
if (values.check && misses.length) {
  console.error(`\n${misses.length} goal(s) missed:`);
  for (const f of misses) console.error(`- ${f.figure}: ${f.goal}${f.note ? ` (${f.note})` : ''}`);
  process.exit(1);
}
process.exit(0);
