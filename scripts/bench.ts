// npm run bench: the budgets of DESIGN.md, measured on this machine against the test world.
// Prints figures (and whether each meets its budget); it never fails a build.
import { readFileSync } from 'node:fs';
import { alertmanagerNotification } from '../test/support/alert-payloads.js';
import { startSlackBot } from '../test/support/bot-process.js';
import { worldCatalog } from '../test/support/engine.js';
import { eventually, kubectlOk } from '../test/support/kubectl.js';
import { freshNamespace } from '../test/support/namespaces.js';
import { setDatabaseHead, shipReleases } from '../test/support/releases.js';
import { startSlackEmulator } from '../test/support/slack-emulator/index.js';
import { percentile } from '../test/support/stats.js';
import { startWorld } from '../test/support/world/world.js';

const C = 'C0INCIDENTS';
const U = 'U0SRE00001';
const TOKEN = 'bench-alert-token';
const rows: [string, string, string][] = [];
const report = (what: string, value: string, budget: string) => {
  rows.push([what, value, budget]);
  console.log(`${what}: ${value} (budget ${budget})`);
};

const world = await startWorld();
try {
  await setDatabaseHead(world.info, 'a');
  const ns = await freshNamespace(world.info, 'bench');
  await shipReleases(world.info, ns, [{ image: 'registry.test/release-manager:v1', cause: 'v1', head: 'a' }]);
  const slack = await startSlackEmulator({
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    users: [{ id: U, name: 'alice' }],
    channels: [{ id: C, name: 'incidents', members: [U] }],
    rateLimit: { perSecond: 1000, burst: 1000 },
  });
  const catalog = worldCatalog(world.info, ns, (svc) => {
    svc.channel = C;
    svc.notify = {};
  });
  const bot = await startSlackBot(world.info, {
    slack,
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    catalog,
    name: 'bench',
    env: {
      ALERT_WEBHOOK_TOKEN: TOKEN,
      WATCH_TRIGGERS: 'false',
    },
    compiled: true,
  });

  await new Promise((r) => setTimeout(r, 3000));
  const rss =
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${bot.proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  report('bot idle RSS', `${rss.toFixed(0)} MB (compiled, node dist/main.js)`, '< 150 MB');

  for (let round = 0; round < 2; round++) {
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        slack.sendSlashCommand({
          botUrl: `${bot.url}/slack/events`,
          command: '/rollback',
          text: 'status',
          userId: U,
          channelId: C,
        }),
      ),
    );
    const ms = results.map((r) => r.ms);
    if (round === 1)
      report(
        'Slack ack, 100 concurrent commands',
        `p50 ${percentile(ms, 50).toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`,
        'p99 < 50 ms',
      );
  }

  await kubectlOk(world.info, [
    'set',
    'image',
    'deployment/release-manager-prod',
    '-n',
    ns,
    'app=registry.test/release-manager:v2-bad',
  ]);
  await eventually(
    'revision 2',
    async () => (await kubectlOk(world.info, ['get', 'rs', '-n', ns])).split('\n').length >= 3,
  );
  const alert = alertmanagerNotification([
    {
      status: 'firing',
      labels: { alertname: 'HighErrorRate', namespace: ns, deployment: 'release-manager-prod' },
      annotations: { summary: 'Error ratio 8.3%' },
      startsAt: new Date().toISOString(),
      fingerprint: 'bench00000000001',
    },
  ]);
  const t0 = performance.now();
  const res = await fetch(`${bot.url}/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(alert),
  });
  const answered = performance.now() - t0;
  const first = await eventually(
    'first post',
    async () => slack.messages(C).find((m) => !m.thread_ts && m.via === 'chat.postMessage'),
    30_000,
  ).then(() => performance.now() - t0);
  const root = slack.messages(C).find((m) => !m.thread_ts && m.via === 'chat.postMessage')!;
  const assessed = await eventually(
    'assessment',
    async () => slack.thread(C, root.ts).find((m) => JSON.stringify(m.blocks).includes('rollback_approve')),
    30_000,
  ).then(() => performance.now() - t0);
  report('alert webhook answered', `${answered.toFixed(1)} ms (HTTP ${res.status})`, '—');
  report('alert → first Slack post', `${first.toFixed(0)} ms`, 'p95 < 300 ms');
  report('alert → full assessment in the thread', `${assessed.toFixed(0)} ms`, 'p95 < 2 s');

  await bot.stop();
  await slack.close();
  console.log('\n| measure | value | budget |\n|---|---|---|');
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
} finally {
  await world.stop();
}
process.exit(0);
