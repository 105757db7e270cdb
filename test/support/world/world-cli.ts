// `npm run world -- up|down|env`: the test world from the shell, for poking at it by hand.
// `up` leaves the processes running and records them; `down` stops them; `env` prints export lines.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup } from './proc.js';
import { startWorld, type WorldInfo } from './world.js';

const stateDir = join(tmpdir(), 'rollback-bot-world');
const stateFile = join(stateDir, 'current.json');

function current(): WorldInfo | undefined {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as WorldInfo) : undefined;
}

function envLines(w: WorldInfo): string {
  return [
    `export KUBECONFIG=${w.kubeconfig}`,
    `export REDIS_URL=${w.redisUrl}`,
    `export DATABASE_URL=${w.postgresUrl}`,
    `export PROMETHEUS_URL=${w.prometheusUrl}`,
    `export ALERTMANAGER_URL=${w.alertmanagerUrl}`,
    `export STANDIN_URL=${w.standinUrl}`,
    `export PATH=${w.binDir}:$PATH`,
    `# logs: ${w.logDir}`,
  ].join('\n');
}

async function down(): Promise<void> {
  const w = current();
  if (!w) {
    console.error('no world is up');
    return;
  }
  for (const p of [...w.pids].reverse()) killGroup(p.pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 2000));
  for (const p of w.pids) killGroup(p.pid, 'SIGKILL');
  rmSync(stateFile, { force: true });
  console.error(`world stopped (data and logs kept in ${w.root})`);
}

async function main(cmd: string | undefined): Promise<void> {
  switch (cmd) {
    case 'up': {
      if (current()) await down();
      // Detached parts are unref'd, so while a failed start stops them nothing else would keep this
      // process alive: it would exit 0 in silence instead of printing why the world did not start.
      const alive = setInterval(() => undefined, 1000);
      const world = await startWorld({ detach: true }).finally(() => clearInterval(alive));
      mkdirSync(stateDir, { recursive: true });
      writeFileSync(stateFile, JSON.stringify(world.info, null, 2));
      console.log(envLines(world.info));
      process.exit(0);
      break;
    }
    case 'down':
      await down();
      break;
    case 'env': {
      const w = current();
      if (!w) throw new Error('no world is up: run `npm run world -- up` first');
      console.log(envLines(w));
      break;
    }
    default:
      console.error('usage: npm run world -- up|down|env');
      process.exit(2);
  }
}

main(process.argv[2]).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
