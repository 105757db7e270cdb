// Runs the real bot (`main.ts serve`, from the sources or compiled as `npm start` runs it) against the
// world and a Slack emulator.
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Catalog } from '../../src/config/catalog-schema.js';
import { eventually } from './kubectl.js';
import type { SlackEmulator } from './slack-emulator/index.js';
import { freePort } from './world/ports.js';
import type { WorldInfo } from './world/world.js';

export interface BotProcess {
  url: string;
  port: number;
  logFile: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Rethrows a failed wait with the end of the bot's log, so a CI failure says what the bot did. */
  explain(err: unknown): never;
}

export function writeCatalog(world: WorldInfo, catalog: Catalog, name: string): string {
  // Back to the catalog's own form: the parsed entry's kind + name become `workload: { kind, name }`.
  const services = Object.fromEntries(
    [...catalog.services.values()].map(({ name: n, kind, deployment, ...svc }) => [
      n,
      { ...svc, workload: { kind, name: deployment } },
    ]),
  );
  const file = join(world.root, `catalog-${name}.yaml`);
  writeFileSync(file, stringify({ services }));
  return file;
}

export async function startBot(
  world: WorldInfo,
  env: Record<string, string>,
  name: string,
  opts: { compiled?: boolean } = {},
): Promise<BotProcess> {
  const port = await freePort();
  const logFile = join(world.logDir, `bot-${name}.log`);
  const out = openSync(logFile, 'a');
  // compiled: what `npm start` and the image run (needs `npm run build`); otherwise the sources via tsx.
  const entry = opts.compiled ? ['--enable-source-maps', 'dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  const proc = spawn(process.execPath, [...entry, 'serve'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOSTNAME: `bot-${name}`,
      REDIS_URL: world.redisUrl,
      KUBECONFIG: world.kubeconfig,
      PROMETHEUS_URL: world.prometheusUrl,
      // The bot asks the world's Alertmanager what fires after a rollback ("no new alerts firing").
      ALERTMANAGER_URL: world.alertmanagerUrl,
      ...env,
    },
    stdio: ['ignore', out, out],
  });
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  try {
    await eventually(
      `bot ${name} /ready (log: ${logFile})`,
      async () => {
        if (exited) throw new Error(`bot exited; see ${logFile}`);
        return (await fetch(`${url}/ready`)).ok;
      },
      60_000,
    );
  } catch (err) {
    // A bot that never became ready must not outlive the test.
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    port,
    logFile,
    proc,
    explain: (err: unknown) => {
      const log = readFileSync(logFile, 'utf8').slice(-6000);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nbot log (${logFile}):\n${log}`);
    },
    stop: async () => {
      if (exited) return;
      proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 8000))]);
      if (!exited) proc.kill('SIGKILL');
    },
  };
}

/** The bot in HTTP mode against a Slack emulator, with its own catalog: what the e2e tests run. */
export function startSlackBot(
  world: WorldInfo,
  o: {
    slack: SlackEmulator;
    botToken: string;
    signingSecret: string;
    catalog: Catalog;
    name: string;
    env?: Record<string, string>;
    compiled?: boolean;
  },
): Promise<BotProcess> {
  return startBot(
    world,
    {
      CATALOG_PATH: writeCatalog(world, o.catalog, o.name),
      SLACK_BOT_TOKEN: o.botToken,
      SLACK_SIGNING_SECRET: o.signingSecret,
      SLACK_API_URL: `${o.slack.url}/api/`,
      ...o.env,
    },
    o.name,
    o.compiled ? { compiled: true } : {},
  );
}
