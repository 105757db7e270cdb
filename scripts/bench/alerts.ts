// Alert → first Slack post, against the webhook's own answer time.
import { alertmanagerNotification } from '../../test/support/alert-payloads.js';
import { startSlackBot } from '../../test/support/bot-process.js';
import { worldCatalog } from '../../test/support/engine.js';
import { eventually, kubectlOk } from '../../test/support/kubectl.js';
import { freshNamespace } from '../../test/support/namespaces.js';
import { setDatabaseHead, shipReleases } from '../../test/support/releases.js';
import { startSlackEmulator } from '../../test/support/slack-emulator/index.js';
import type { Section } from './context.js';

const C = 'C0INCIDENTS';
const U = 'U0SRE00001';
const TOKEN = 'bench-alert-token';

export const benchAlerts: Section = async ({ world }) => {
  await setDatabaseHead(world, 'a');
  const ns = await freshNamespace(world, 'bench-alert');
  await shipReleases(world, ns, [{ image: 'registry.test/release-manager:v1', cause: 'v1', head: 'a' }]);
  const slack = await startSlackEmulator({
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    users: [{ id: U, name: 'alice' }],
    channels: [{ id: C, name: 'incidents', members: [U] }],
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
    name: 'bench-alert',
    env: { ALERT_WEBHOOK_TOKEN: TOKEN, WATCH_TRIGGERS: 'false' },
    compiled: true,
  });
  try {
    await kubectlOk(world, [
      'set',
      'image',
      'deployment/release-manager-prod',
      '-n',
      ns,
      'app=registry.test/release-manager:v2-bad',
    ]);
    await eventually(
      'revision 2',
      async () => (await kubectlOk(world, ['get', 'rs', '-n', ns])).split('\n').length >= 3,
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
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
    const first = await eventually(
      'first post',
      async () => slack.messages(C).find((m) => !m.thread_ts && m.via === 'chat.postMessage'),
      30_000,
    ).then(() => performance.now() - t0);
    return [
      {
        section: 'alerts',
        figure: 'alert → first post',
        anchor: { what: 'webhook answered', value: answered },
        value: first,
        unit: 'ms',
        goal: '< 100 ms',
        met: first < 100,
        note: 'one run',
      },
    ];
  } finally {
    await bot.stop();
    await slack.close();
  }
};
