// The bench's anchor for the Slack ack and idle memory figures: the smallest Bolt app that serves the
// same requests the bot does, the same way. Same receiver (Bolt's HTTPReceiver: signed requests on
// /slack/events, no processBeforeResponse), same /health and /ready custom routes on the same port,
// the same Web API base (the emulator) and log level, and @kubernetes/client-node loaded as the bot
// loads it (a static import, its KubeConfig read from KUBECONFIG), so the baseline holds what any
// Bolt + client-node bot must hold. Its /rollback handler only acks.
//
// Plain JS run by node with npm start's flags (no build): see scripts/bench/ack.ts.
//   PORT SLACK_BOT_TOKEN SLACK_SIGNING_SECRET SLACK_API_URL KUBECONFIG
import { KubeConfig } from '@kubernetes/client-node';
import bolt from '@slack/bolt';

const { App, LogLevel } = bolt;
const env = process.env;

const kc = new KubeConfig();
if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);

const ok = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
const app = new App({
  token: env.SLACK_BOT_TOKEN,
  signingSecret: env.SLACK_SIGNING_SECRET,
  port: Number(env.PORT),
  customRoutes: [
    { path: '/health', method: 'GET', handler: ok },
    { path: '/ready', method: 'GET', handler: ok },
  ],
  clientOptions: { slackApiUrl: env.SLACK_API_URL },
  logLevel: LogLevel.WARN,
});

app.command('/rollback', async ({ ack }) => {
  await ack();
});

await app.start();
console.log(`minimal bolt app on ${env.PORT} (cluster ${kc.getCurrentCluster()?.server ?? 'none'})`);
process.once('SIGTERM', () => {
  app.stop().finally(() => process.exit(0));
});
