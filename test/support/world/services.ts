// Redis, PostgreSQL, Prometheus and Alertmanager from Debian's packages, each on a free loopback port
// with its data and log in the world's temp dir.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG_BIN } from './debian.js';
import { freePort } from './ports.js';
import { type ManagedProcess, startProcess, waitFor } from './proc.js';

interface Common {
  root: string;
  logDir: string;
  detach: boolean;
}

async function tcpPing(port: number, send: string, expect: string): Promise<true | undefined> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const done = (v: true | undefined) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(1000, () => done(undefined));
    sock.on('error', () => done(undefined));
    sock.on('connect', () => sock.write(send));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes(expect)) done(true);
    });
  });
}

export interface RedisOptions extends Common {
  name?: string;
  port?: number;
  dataDir?: string;
  /** `requirepass`; a random one when absent (a restart test passes the first server's again). */
  password?: string;
}

/**
 * Redis with AOF on (appendfsync everysec) and a password (`requirepass`), as in production (DESIGN.md:
 * "Redis is bounded and password-protected"), so a client that forgets the password fails here too.
 * The URL it returns carries the password: `redis://:<password>@127.0.0.1:<port>`.
 */
export async function startRedis(
  o: RedisOptions,
): Promise<{ url: string; port: number; password: string; dataDir: string; proc: ManagedProcess }> {
  const port = o.port ?? (await freePort());
  const password = o.password ?? randomBytes(18).toString('hex');
  const dataDir = o.dataDir ?? join(o.root, 'redis');
  mkdirSync(dataDir, { recursive: true });
  const proc = startProcess({
    name: o.name ?? 'redis',
    logDir: o.logDir,
    detach: o.detach,
    command: '/usr/bin/redis-server',
    args: [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dataDir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--requirepass',
      password,
    ],
  });
  // Ask for the process id, so a different server that already holds the port does not pass for ours.
  await waitFor(
    'redis to answer',
    proc,
    () => tcpPing(port, `AUTH ${password}\r\nINFO server\r\n`, `process_id:${proc.pid}\r\n`),
    20_000,
  );
  return { url: `redis://:${password}@127.0.0.1:${port}`, port, password, dataDir, proc };
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  // PostgreSQL refuses to run as root; Debian's package creates the postgres user.
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function startPostgres(
  o: Common & { database: string },
): Promise<{ url: string; port: number; proc: ManagedProcess }> {
  const port = await freePort();
  const dir = join(o.root, 'postgres');
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  const user = postgresUser();
  if (user) chownSync(dir, user.uid, user.gid);
  execFileSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(user ?? {}),
    },
  );
  const proc = startProcess({
    name: 'postgres',
    logDir: o.logDir,
    detach: o.detach,
    command: join(PG_BIN, 'postgres'),
    args: [
      '-D',
      data,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
    ],
    ...(user ?? {}),
  });
  const psql = (sql: string, db = 'postgres') =>
    execFileSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-tAc', sql], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  await waitFor(
    'postgres accepting connections',
    proc,
    async () => (psql('select 1').trim() === '1' ? true : undefined),
    30_000,
  );
  psql(`create database ${o.database}`);
  return { url: `postgres://postgres@127.0.0.1:${port}/${o.database}`, port, proc };
}

export interface AlertTimings {
  /** `for:` of the error-ratio and p99 alerts (procedure: 2m). */
  metricsFor: string;
  /** Rate window of the error-ratio and p99 expressions. */
  rateWindow: string;
  /** `for:` of the crash-loop and stuck-rollout alerts. */
  podsFor: string;
}

export async function startPrometheus(
  o: Common & { scrapeTarget: string; alertmanager: string; rules: string },
): Promise<{ url: string; proc: ManagedProcess }> {
  const port = await freePort();
  const dir = join(o.root, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'rules.yml'), o.rules);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:
  # 2 s leaves the stand-in time to answer under load (the scrape timeout equals the interval);
  # the 15 s rate windows still see seven samples.
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
  - static_configs:
    - targets: ['${o.alertmanager}']
scrape_configs:
- job_name: release-manager
  honor_labels: true
  static_configs:
  - targets: ['${o.scrapeTarget}']
`,
  );
  const proc = startProcess({
    name: 'prometheus',
    logDir: o.logDir,
    detach: o.detach,
    command: '/usr/bin/prometheus',
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--storage.tsdb.retention.time=1d',
    ],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'prometheus /-/ready',
    proc,
    async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
    30_000,
  );
  return { url, proc };
}

export function alertmanagerConfig(webhookUrl: string, bearerToken: string): string {
  return `route:
  receiver: rollback-bot
  group_by: [alertname, namespace, deployment, pod]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1m
receivers:
- name: rollback-bot
  webhook_configs:
  - url: ${JSON.stringify(webhookUrl)}
    send_resolved: true
    http_config:
      authorization:
        type: Bearer
        credentials: ${JSON.stringify(bearerToken)}
`;
}

export async function startAlertmanager(
  o: Common & { webhookUrl: string; bearerToken: string },
): Promise<{ url: string; configFile: string; proc: ManagedProcess }> {
  const port = await freePort();
  const dir = join(o.root, 'alertmanager');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, alertmanagerConfig(o.webhookUrl, o.bearerToken));
  const proc = startProcess({
    name: 'alertmanager',
    logDir: o.logDir,
    detach: o.detach,
    command: '/usr/bin/prometheus-alertmanager',
    args: [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // An empty cluster address turns off the gossip listener (it would bind 0.0.0.0:9094).
      '--cluster.listen-address=',
    ],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'alertmanager /-/ready',
    proc,
    async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
    30_000,
  );
  return { url, configFile, proc };
}
