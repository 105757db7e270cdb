// Starts and stops the whole test world. Every part runs on 127.0.0.1, on free ports, with data and
// logs under one temp dir; a part that cannot start fails the run with its name and log file.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installGitOpsCrds, readGitOpsCrds } from '../crds.js';
import { writeAlembic } from './alembic.js';
import { writeAppScripts } from './app-scripts.js';
import { buildBinaries, startCluster } from './cluster.js';
import { ensureDebianPackages } from './debian.js';
import type { Pki } from './pki.js';
import { freePorts } from './ports.js';
import {
  installExitHooks,
  killAllNow,
  type ManagedProcess,
  startProcess,
  WorldError,
  waitFor,
} from './proc.js';
import { buildAlertRules } from './prometheus-rules.js';
import {
  type AlertTimings,
  startAlertmanager,
  startPostgres,
  startPrometheus,
  startRedis,
} from './services.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface WorldInfo {
  root: string;
  logDir: string;
  kubeconfig: string;
  apiServer: string;
  /** kube-controller-manager's secure port, for its /metrics (the bench reads its client throttling). */
  controllerManager: string;
  /** The world's CA and admin client certificate (files), for reading its servers over mutual TLS. */
  pki: Pki;
  kubectl: string;
  binDir: string;
  nodeName: string;
  /** `redis://:<password>@127.0.0.1:<port>`: the world's Redis requires its (random) password. */
  redisUrl: string;
  postgresUrl: string;
  prometheusUrl: string;
  alertmanagerUrl: string;
  alertmanagerConfigFile: string;
  standinUrl: string;
  timings: AlertTimings;
  startedMs: number;
  pids: { name: string; pid: number }[];
}

export interface World {
  info: WorldInfo;
  stop(): Promise<void>;
}

/** Test values: alerts fire within seconds instead of minutes. */
export const TEST_TIMINGS: AlertTimings = { metricsFor: '10s', rateWindow: '15s', podsFor: '10s' };

export interface WorldOptions {
  /** Leave processes running after this Node process exits (world CLI `up`). */
  detach?: boolean;
  alertWebhookUrl?: string;
  alertWebhookToken?: string;
  timings?: AlertTimings;
  log?: (line: string) => void;
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const detach = opts.detach ?? false;
  const timings = opts.timings ?? TEST_TIMINGS;
  const started = Date.now();
  if (!detach) installExitHooks();
  ensureDebianPackages(log);
  const binDir = await buildBinaries(log);
  // Before any process starts: a module the proxy refuses fails the run here, saying why.
  let gitOpsCrds: string[];
  try {
    gitOpsCrds = readGitOpsCrds();
  } catch (err) {
    throw new WorldError('GitOps CRDs', (err as Error).message);
  }

  const root = mkdtempSync(join(tmpdir(), 'rollback-bot-world-'));
  // Readable by the postgres user, which runs PostgreSQL below when we are root.
  chmodSync(root, 0o755);
  const logDir = join(root, 'logs');
  const execBin = join(root, 'exec-bin');
  mkdirSync(logDir);
  mkdirSync(execBin);
  writeAlembic(execBin);
  writeAppScripts(root);
  log(`[world] starting in ${root} (logs: ${logDir})`);

  const procs: ManagedProcess[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop();
  };
  try {
    const common = { root, logDir, detach };
    const [standinPort, kubeletPort] = await freePorts(2);
    const [redis, postgres, am] = await Promise.all([
      startRedis(common),
      startPostgres({ ...common, database: 'release_manager' }),
      startAlertmanager({
        ...common,
        webhookUrl: opts.alertWebhookUrl ?? 'http://127.0.0.1:9/unset',
        bearerToken: opts.alertWebhookToken ?? 'unset',
      }),
    ]);
    procs.push(redis.proc, postgres.proc, am.proc);
    const [cluster, prom] = await Promise.all([
      startCluster({
        root,
        logDir,
        binDir,
        execBinDir: execBin,
        kubeletPort: kubeletPort as number,
        detach,
        log,
      }),
      startPrometheus({
        ...common,
        scrapeTarget: `127.0.0.1:${standinPort}`,
        alertmanager: am.url.replace('http://', ''),
        rules: buildAlertRules(timings),
      }),
    ]);
    procs.push(...cluster.processes, prom.proc);

    const standin = startProcess({
      name: 'standin',
      logDir,
      detach,
      cwd: repoRoot,
      command: process.execPath,
      args: ['--import', 'tsx', join(repoRoot, 'test/support/standin/main.ts')],
      env: {
        ...process.env,
        KUBECONFIG: cluster.info.kubeconfig,
        STANDIN_PORT: String(standinPort),
        STANDIN_DIR: root,
        STANDIN_KUBELET_PORT: String(kubeletPort),
        STANDIN_KWOK_SERVER: cluster.info.kwokServer,
        STANDIN_TLS_CERT: cluster.info.pki.adminCert,
        STANDIN_TLS_KEY: cluster.info.pki.adminKey,
        STANDIN_EXEC_BIN: execBin,
        STANDIN_DATABASE_URL: postgres.url,
      },
    });
    procs.push(standin);
    const standinUrl = `http://127.0.0.1:${standinPort}`;
    await Promise.all([
      waitFor(
        'stand-in /metrics',
        standin,
        async () => ((await fetch(`${standinUrl}/metrics`)).ok ? true : undefined),
        30_000,
      ),
      installGitOpsCrds(cluster.info.kubectl, cluster.info.kubeconfig, gitOpsCrds).catch((err: Error) => {
        throw new WorldError('GitOps CRDs', err.message, join(logDir, 'kube-apiserver.log'));
      }),
    ]);

    const info: WorldInfo = {
      root,
      logDir,
      kubeconfig: cluster.info.kubeconfig,
      apiServer: cluster.info.server,
      controllerManager: cluster.info.controllerManager,
      pki: cluster.info.pki,
      kubectl: cluster.info.kubectl,
      binDir,
      nodeName: cluster.info.nodeName,
      redisUrl: redis.url,
      postgresUrl: postgres.url,
      prometheusUrl: prom.url,
      alertmanagerUrl: am.url,
      alertmanagerConfigFile: am.configFile,
      standinUrl,
      timings,
      startedMs: Date.now() - started,
      pids: procs.map((p) => ({ name: p.name, pid: p.pid })),
    };
    writeFileSync(join(root, 'world.json'), JSON.stringify(info, null, 2));
    log(`[world] ready in ${info.startedMs} ms`);
    return { info, stop };
  } catch (err) {
    await stop();
    killAllNow(); // parts that failed before they were handed back
    throw err;
  }
}
