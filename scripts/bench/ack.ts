// Slack ack under 100 concurrent /rollback commands, and the bot's idle memory.
// (To be measured against a minimal Bolt app: issue "Performance side by side".)
import { readFileSync } from 'node:fs';
import { startSlackBot } from '../../test/support/bot-process.js';
import { worldCatalog } from '../../test/support/engine.js';
import { freshNamespace } from '../../test/support/namespaces.js';
import { setDatabaseHead, shipReleases } from '../../test/support/releases.js';
import { startSlackEmulator } from '../../test/support/slack-emulator/index.js';
import { percentile } from '../../test/support/stats.js';
import type { Section } from './context.js';

const C = 'C0INCIDENTS';
const U = 'U0SRE00001';

export const benchAck: Section = async ({ world }) => {
  await setDatabaseHead(world, 'a');
  const ns = await freshNamespace(world, 'bench-ack');
  await shipReleases(world, ns, [{ image: 'registry.test/release-manager:v1', cause: 'v1', head: 'a' }]);
  const slack = await startSlackEmulator({
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    users: [{ id: U, name: 'alice' }],
    channels: [{ id: C, name: 'incidents', members: [U] }],
    rateLimit: { perSecond: 1000, burst: 1000 },
  });
  const catalog = worldCatalog(world, ns, (svc) => {
    svc.channel = C;
    svc.notify = {};
  });
  const bot = await startSlackBot(world, {
    slack,
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    catalog,
    name: 'bench-ack',
    env: { WATCH_TRIGGERS: 'false' },
    compiled: true,
  });
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const rss =
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${bot.proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    let p99 = Number.NaN;
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
      p99 = percentile(
        results.map((r) => r.ms),
        99,
      );
    }
    return [
      { section: 'ack', figure: 'idle RSS', value: rss, unit: 'MB', goal: '< 150 MB', met: rss < 150 },
      {
        section: 'ack',
        figure: 'Slack ack p99, 100 concurrent',
        value: p99,
        unit: 'ms',
        goal: '< 50 ms',
        met: p99 < 50,
      },
    ];
  } finally {
    await bot.stop();
    await slack.close();
  }
};
