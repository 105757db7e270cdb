// The bot's other faces: Socket Mode, acknowledgement while Kubernetes is slow, and a clear refusal to
// start without its settings.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BotProcess, startBot, writeCatalog } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { shipReleases } from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { percentile } from '../support/stats.js';

const world = inject('world');
const C = 'C0INCIDENTS';
const ALICE = 'U0SRE00001';

describe('bot modes', () => {
  let ns: string;
  let catalogFile: string;
  const bots: BotProcess[] = [];
  const emus: SlackEmulator[] = [];

  beforeAll(async () => {
    ns = await freshNamespace(world, 'modes');
    await shipReleases(world, ns, [
      { image: 'registry.test/release-manager:v1', cause: 'Release v1', head: 'aaa111' },
      { image: 'registry.test/release-manager:v2', cause: 'Release v2', head: 'aaa111' },
    ]);
    catalogFile = writeCatalog(
      world,
      worldCatalog(world, ns, (svc) => (svc.channel = '#incidents')),
      `modes-${ns}`,
    );
  });
  afterAll(async () => {
    for (const b of bots) await b.stop();
    for (const e of emus) await e.close();
    await deleteNamespaces(world);
  });

  it('acknowledges commands in milliseconds while the Kubernetes API does not answer at all', async () => {
    const emu = await startSlackEmulator({
      botToken: 'xoxb-slow',
      signingSecret: 'slow-secret',
      users: [{ id: ALICE, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [ALICE] }],
    });
    emus.push(emu);
    const bot = await startBot(
      world,
      {
        CATALOG_PATH: catalogFile,
        SLACK_BOT_TOKEN: 'xoxb-slow',
        SLACK_SIGNING_SECRET: 'slow-secret',
        SLACK_API_URL: `${emu.url}/api/`,
      },
      `slow-${ns}`,
    );
    bots.push(bot);
    // Freeze the apiserver: every Kubernetes call the commands need now hangs until it is thawed.
    const apiserver = world.pids.find((p) => p.name === 'kube-apiserver')!.pid;
    const frozenMs = 3000;
    process.kill(apiserver, 'SIGSTOP');
    const started = Date.now();
    let results: Awaited<ReturnType<typeof emu.sendSlashCommand>>[];
    try {
      const thaw = new Promise((r) => setTimeout(r, frozenMs));
      results = await Promise.all(
        Array.from({ length: 20 }, () =>
          emu.sendSlashCommand({
            botUrl: `${bot.url}/slack/events`,
            command: '/rollback',
            text: 'history release-manager',
            userId: ALICE,
            channelId: C,
          }),
        ),
      );
      await thaw;
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    for (const r of results) expect(r.status).toBe(200);
    const ms = results.map((r) => r.ms);
    const answers = await eventually(
      '20 history answers',
      async () => {
        const e = emu
          .ephemerals({ userId: ALICE })
          .filter((x) => JSON.stringify(x.blocks).includes('Rollout history'));
        return e.length >= 20 ? e : undefined;
      },
      60_000,
    );
    const answeredAfter = Date.now() - started;
    console.log(
      `[frozen kubernetes] 20 concurrent acks: p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms; answers after ${answeredAfter} ms`,
    );
    expect(answers).toHaveLength(20);
    expect(Math.max(...ms)).toBeLessThan(1000);
    expect(answeredAfter).toBeGreaterThanOrEqual(frozenMs);
  });

  it('works in Socket Mode, with /health and /ready on the same port', async () => {
    const emu = await startSlackEmulator({
      botToken: 'xoxb-socket',
      signingSecret: 'unused',
      appToken: 'xapp-socket-token',
      users: [{ id: ALICE, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [ALICE] }],
    });
    emus.push(emu);
    const bot = await startBot(
      world,
      {
        CATALOG_PATH: catalogFile,
        SLACK_BOT_TOKEN: 'xoxb-socket',
        SLACK_APP_TOKEN: 'xapp-socket-token',
        SLACK_API_URL: `${emu.url}/api/`,
      },
      `socket-${ns}`,
    );
    bots.push(bot);
    await eventually('socket connected', async () => emu.socketConnected());
    expect((await fetch(`${bot.url}/health`)).status).toBe(200);
    const ready = await fetch(`${bot.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, checks: { redis: 'ok', kubernetes: 'ok' } });
    const r = await emu.sendSlashCommand({ command: '/rollback', text: 'help', userId: ALICE, channelId: C });
    expect(r.timedOut).toBe(false);
    await eventually('help over the socket', async () =>
      emu.ephemerals({ userId: ALICE }).some((e) => JSON.stringify(e.blocks).includes('/rollback status')),
    );
    await bot.stop();
  });

  it('refuses to start without its settings, naming each one', async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/main.ts', 'serve'],
          { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
          (err, _out, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr }),
        );
      });
    const missing = await run({});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('env.REDIS_URL: required');
    expect(missing.stderr).toContain('env.SLACK_BOT_TOKEN: required');
    expect(missing.stderr).toContain('env.SLACK_APP_TOKEN or env.SLACK_SIGNING_SECRET: one is required');
    const invalid = await run({
      REDIS_URL: 'http://x',
      SLACK_BOT_TOKEN: 'xoxp-user-token',
      SLACK_APP_TOKEN: 'nope',
      PORT: 'eighty',
    });
    expect(invalid.code).toBe(1);
    for (const v of ['REDIS_URL', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'PORT'])
      expect(invalid.stderr).toContain(`env.${v}`);
    expect(invalid.stderr).not.toContain('xoxp-user-token');
    expect(invalid.stderr.trim().split('\n')[0]).toMatch(/^error: configuration has \d+ problem\(s\):$/);
  });
});
