// The image, without Docker: the Dockerfile's own instructions are carried out into temp directories
// (test/support/image/simulate.ts says how, and where that differs from a real build), then the final
// stage is checked for what it holds and started with its own CMD against the test world, probed with
// its own HEALTHCHECK, and stopped the way Kubernetes stops it.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeCatalog } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { type SimulatedStage, simulateBuild } from '../support/image/simulate.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { freePort } from '../support/world/ports.js';

const world = inject('world');
const ALICE = 'U0SRE00001';
const C = 'C0INCIDENTS';

/** Every file below `dir` (relative paths), and their total size, without following symlinks. */
function walk(dir: string): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  const visit = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) visit(path);
      else {
        files.push(path);
        bytes += lstatSync(join(dir, path)).size;
      }
    }
  };
  visit('');
  return { files, bytes };
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function exitOf(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('the image', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rollback-bot-image-'));
  let final: SimulatedStage;
  let app: string;
  let env: Record<string, string>;
  let bot: ChildProcess | undefined;
  let emu: SlackEmulator | undefined;
  const logFile = join(world.logDir, 'bot-image.log');

  beforeAll(async () => {
    const started = performance.now();
    const sim = await simulateBuild({ dir, logFile: join(world.logDir, 'image-build.log') });
    final = sim.final;
    app = join(final.root, final.workdir);
    console.log(
      `[image] built without Docker in ${((performance.now() - started) / 1000).toFixed(1)} s (${sim.stages.length} stages; log ${sim.logFile})`,
    );
  }, 600_000);

  afterAll(async () => {
    if (bot && bot.exitCode === null && bot.signalCode === null) bot.kill('SIGKILL');
    await emu?.close();
    await deleteNamespaces(world);
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the compiled bot and its production dependencies, and nothing else', () => {
    expect(readdirSync(app).sort()).toEqual(['dist', 'node_modules', 'package-lock.json', 'package.json']);
    expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
    // The lockfile marks what only development needs; none of it may ship, all the rest must.
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const shipped = (path: string) => existsSync(join(app, path));
    expect(installed.filter(([p, v]) => v.dev && shipped(p)).map(([p]) => p)).toEqual([]);
    expect(installed.filter(([p, v]) => !v.dev && !v.optional && !shipped(p)).map(([p]) => p)).toEqual([]);
    for (const tool of ['typescript', 'vitest', 'tsx', '@biomejs', 'dockerfile-utils', 'playwright-core'])
      expect(shipped(`node_modules/${tool}`), tool).toBe(false);

    const { files, bytes } = walk(final.root);
    const ours = files.filter((f) => !f.includes('/node_modules/'));
    expect(ours.filter((f) => /(^|\/)(src|test)\//.test(f))).toEqual([]);
    expect(ours.filter((f) => /\.[cm]?ts$/.test(f) && !/\.d\.[cm]?ts$/.test(f))).toEqual([]);
    expect(ours.filter((f) => /(^|\/)\.env/.test(f))).toEqual([]);
    // Third-party packages may ship TypeScript sources (zod does); they are inert in the image.
    const thirdPartyTs = files.filter(
      (f) => f.includes('/node_modules/') && /\.[cm]?ts$/.test(f) && !/\.d\.[cm]?ts$/.test(f),
    );
    const modules = walk(join(app, 'node_modules'));
    console.log(
      `[image] final stage: ${mb(bytes)} MB in ${files.length} files; node_modules ${mb(modules.bytes)} MB (${thirdPartyTs.length} third-party .ts sources); dist ${mb(walk(join(app, 'dist')).bytes)} MB`,
    );
  });

  it('loads nothing from outside its own directory', () => {
    // Node looks for packages in every node_modules above the importing file: one above the stage
    // would hide a dependency missing from the image.
    for (let d = dirname(final.root); d !== dirname(d); d = dirname(d))
      expect(existsSync(join(d, 'node_modules')), d).toBe(false);
    expect(existsSync('/node_modules')).toBe(false);
  });

  it('starts from its CMD and answers /health and /ready', async () => {
    const ns = await freshNamespace(world, 'image');
    const catalog = writeCatalog(world, worldCatalog(world, ns), `image-${ns}`);
    emu = await startSlackEmulator({
      botToken: 'xoxb-image',
      signingSecret: 'image-secret',
      users: [{ id: ALICE, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [ALICE] }],
    });
    const port = await freePort();
    env = {
      // Only what a container would have: the image's ENV and the Deployment's env, no test runner's.
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: join(final.root, 'home/node'),
      HOSTNAME: 'rollback-bot-image',
      ...final.env,
      PORT: String(port),
      // The image reads /etc/rollback-bot/catalog.yaml, a ConfigMap mount; here the file is elsewhere.
      CATALOG_PATH: catalog,
      REDIS_URL: world.redisUrl,
      KUBECONFIG: world.kubeconfig,
      PROMETHEUS_URL: world.prometheusUrl,
      SLACK_BOT_TOKEN: 'xoxb-image',
      SLACK_SIGNING_SECRET: 'image-secret',
      SLACK_API_URL: `${emu.url}/api/`,
    };
    expect(final.env.NODE_ENV).toBe('production');
    const [command, ...args] = final.cmd ?? [];
    if (!command) throw new Error('the final stage has no CMD');
    const out = openSync(logFile, 'a');
    bot = spawn(command, args, { cwd: app, env, stdio: ['ignore', out, out] });
    closeSync(out); // the child holds its own copy
    const proc = bot;
    const url = `http://127.0.0.1:${port}`;
    const ready = await eventually(
      `image bot /ready (log: ${logFile})`,
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return 'exited';
        const r = await fetch(`${url}/ready`);
        return r.ok ? r : undefined;
      },
      60_000,
    );
    if (ready === 'exited') {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new Error(
        `bot exited (${proc.signalCode ?? proc.exitCode}) before /ready; ${logFile} ends:\n${tail}`,
      );
    }
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, checks: { redis: 'ok', kubernetes: 'ok' } });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1];
    console.log(
      `[image] bot ready on Node ${process.version} (the image has Node 24); RSS ${mb(Number(rss) * 1024)} MB`,
    );
  });

  it('passes its own HEALTHCHECK', async () => {
    expect(await healthcheck()).toBe(0);
  });

  it('stops cleanly on SIGTERM, after which the HEALTHCHECK fails', async () => {
    const proc = bot;
    if (!proc) throw new Error('the bot did not start');
    proc.kill('SIGTERM');
    const exit = await Promise.race([
      exitOf(proc),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no exit 10 s after SIGTERM')), 10_000),
      ),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await healthcheck()).not.toBe(0);
  });

  /** Runs the HEALTHCHECK command as Docker would: exec form, in the container's env; its exit code. */
  async function healthcheck(): Promise<number | null> {
    const [command, ...args] = final.healthcheck ?? [];
    if (!command) throw new Error('the final stage has no HEALTHCHECK');
    const proc = spawn(command, args, { cwd: app, env, stdio: 'ignore', timeout: 10_000 });
    return (await exitOf(proc)).code;
  }
});
