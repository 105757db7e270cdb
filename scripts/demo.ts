// `npm run demo`: the whole story on this machine, no Slack workspace needed. It starts the test world
// (Kubernetes, Redis, Prometheus, Alertmanager, PostgreSQL), the Slack emulator with the #incidents
// channel as a web page, and the bot in HTTP mode; ships release-manager good, then bad; and lets
// you watch the alert fire, the bot post, and approve the rollback in the browser.
//
//   npm run demo            wait for someone to click "Roll back" on the page; Ctrl-C stops everything
//   npm run demo -- --yes   approve on its own, print the thread, exit 0 once verified (1 otherwise)
//
// `npm run demo --yes` (without `--`) works too: npm turns it into npm_config_yes=true.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setAlertWebhook } from '../test/support/alertmanager.js';
import { type BotProcess, startSlackBot } from '../test/support/bot-process.js';
import { worldCatalog } from '../test/support/engine.js';
import { eventually, kubectlOk } from '../test/support/kubectl.js';
import { NAME, setDatabaseHead, shipReleases } from '../test/support/releases.js';
import {
  type SlackEmulator,
  type StoredMessage,
  startSlackEmulator,
} from '../test/support/slack-emulator/index.js';
import { hasButton, textOf } from '../test/support/slack-text.js';
import { startWorld, type World } from '../test/support/world/world.js';

const autoApprove = process.argv.includes('--yes') || process.env.npm_config_yes === 'true';
const NS = 'production';
const C = 'C0INCIDENTS';
const USERS = [
  { id: 'U0SRE00001', name: 'alice', realName: 'Alice (SRE on call)' },
  { id: 'U0SRE00002', name: 'bob', realName: 'Bob (SRE)' },
  { id: 'U0ENGMGR01', name: 'erin', realName: 'Erin (engineering manager)' },
  { id: 'U0MONITOR1', name: 'mo', realName: 'Mo (monitoring)' },
];
const APPROVER = USERS[0]!.id;
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const DEADLINE_MS = 10 * 60_000;

const say = (line: string) => process.stdout.write(`${line}\n`);
const step = (line: string) => say(`\n==> ${line}`);

let world: World | undefined;
let slack: SlackEmulator | undefined;
let bot: BotProcess | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('\n==> stopping the bot, the emulator and the world ...');
    await bot?.stop().catch(() => {});
    await slack?.close().catch(() => {});
    await world?.stop().catch(() => {});
  }
  process.exit(code);
}

/** Slack mrkdwn as a terminal line: names for mentions, labels for links, no markup. */
function plain(text: string): string {
  const name = (id: string) => USERS.find((u) => u.id === id)?.name ?? id;
  return text
    .replace(/<@(\w+)>/g, (_, id: string) => `@${name(id)}`)
    .replace(/<!subteam\^(\w+)(\|[^>]*)?>/g, (_, id: string) => `@${id === 'S0MONITOR1' ? 'monitoring' : id}`)
    .replace(/<([^|>]+)\|([^>]+)>/g, '$2')
    .replace(/<(https?:[^>]+)>/g, '$1')
    .replace(/(^|\s)\*([^*\n]+)\*/g, '$1$2')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

// biome-ignore lint/suspicious/noExplicitAny: Block Kit JSON as the emulator stored it
type Block = any;

/** A message as terminal lines: its blocks (what a person sees in Slack), else its text. */
function linesOf(m: StoredMessage): string[] {
  const out: string[] = [];
  for (const b of (m.blocks ?? []) as Block[]) {
    if (b.type === 'header' || b.type === 'section') {
      if (b.text?.text) out.push(b.text.text);
      for (const f of b.fields ?? []) out.push(f.text);
    } else if (b.type === 'context') {
      out.push(b.elements.map((e: Block) => e.text ?? e.alt_text ?? '').join(' '));
    } else if (b.type === 'actions') {
      const labels = b.elements.map((e: Block) => e.text?.text ?? e.type);
      out.push(`[ ${labels.join(' ] [ ')} ]`);
    }
  }
  if (out.length === 0 && m.text) out.push(m.text);
  return plain(out.join('\n')).split('\n');
}

/** Prints each message of the channel and its threads once, and again whenever the bot edits it. */
function createTranscript(emu: SlackEmulator) {
  const seen = new Map<string, string>();
  const show = (m: StoredMessage, indent: string) => {
    const key = `${m.channel}:${m.ts}`;
    const lines = linesOf(m);
    const text = lines.join('\n');
    if (!text.trim() || seen.get(key) === text) return;
    const before = seen.get(key);
    seen.set(key, text);
    // An edit prints only its new lines: the root message is re-rendered on every state change.
    const shown = before === undefined ? lines : lines.filter((l) => !before.split('\n').includes(l));
    if (shown.length === 0) return;
    say(`${indent}rollback-bot${before === undefined ? '' : ' (edited)'}: ${shown[0]}`);
    for (const l of shown.slice(1)) say(`${indent.replace(/\S/g, ' ')}  ${l}`);
  };
  return () => {
    for (const root of emu.messages(C)) {
      show(root, '#incidents ');
      for (const reply of emu.thread(C, root.ts)) show(reply, '  ↳ thread ');
    }
    for (const u of USERS) for (const dm of emu.dms(u.id)) show(dm, `DM @${u.name} `);
  };
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(stopping ? 130 : 0));
  process.on('SIGTERM', () => void shutdown(143));

  step('starting the test world (first run builds Kubernetes from source: ~7 minutes, with progress)');
  world = await startWorld({ log: (l) => say(l) });
  const w = world.info;

  step('starting the Slack emulator and the bot (HTTP mode, real Redis)');
  const signingSecret = randomBytes(16).toString('hex');
  const botToken = `xoxb-demo-${randomBytes(6).toString('hex')}`;
  const alertToken = randomBytes(16).toString('hex');
  slack = await startSlackEmulator({
    botToken,
    signingSecret,
    users: USERS,
    usergroups: { S0SREONCALL: [USERS[1]!.id], S0MONITOR1: [USERS[3]!.id] },
    channels: [{ id: C, name: 'incidents', members: USERS.map((u) => u.id) }],
    ui: {
      title: 'rollback-bot demo',
      botName: 'rollback-bot',
      defaultUserId: APPROVER,
      groupHandles: { S0SREONCALL: 'sre-oncall', S0MONITOR1: 'monitoring' },
    },
  });
  const catalog = worldCatalog(w, NS, (svc) => {
    svc.channel = C;
    svc.policy.mode = 'propose';
    svc.notify = { engineeringManager: USERS[2]!.id, monitoringGroup: 'S0MONITOR1' };
  });
  await kubectlOk(w, ['create', 'namespace', NS]);
  bot = await startSlackBot(w, {
    slack,
    botToken: botToken,
    signingSecret: signingSecret,
    catalog,
    name: 'demo',
    env: {
      ALERT_WEBHOOK_TOKEN: alertToken,
      WATCH_TRIGGERS: 'true',
    },
  });
  slack.setBotUrl(`${bot.url}/slack/events`);
  await setAlertWebhook(w, `${bot.url}/alerts`, alertToken);
  say(`bot ready at ${bot.url} (log: ${bot.logFile})`);
  say(`\n    Open the #incidents channel:  ${slack.pageUrl(C)}\n`);

  step(`shipping release-manager ${GOOD} (healthy)`);
  await setDatabaseHead(w, 'aaa111');
  const good = { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' };
  await shipReleases(w, NS, [good]);
  await eventually('3 ready pods', async () => {
    const d = JSON.parse(await kubectlOk(w, ['get', 'deployment', NAME, '-n', NS, '-o', 'json']));
    return d.status?.readyReplicas === 3;
  });
  say('3/3 pods ready');

  step(`shipping release-manager ${BAD} (it crash-loops and fails requests)`);
  // The same apply as the first release (a no-op), then the bad one: revision 2, as CD would ship it.
  await shipReleases(w, NS, [good, { image: BAD, cause: 'Release v2024.01.15', head: 'aaa111' }]);
  say('waiting for the watch triggers and Prometheus → Alertmanager → the bot ...');

  const emu = slack;
  const transcript = createTranscript(emu);
  const deadline = Date.now() + DEADLINE_MS;
  let approved = false;
  let announced = false;
  for (;;) {
    transcript();
    const root = emu.messages(C)[0];
    const thread = root ? emu.thread(C, root.ts) : [];
    const proposal = thread.find((m) => hasButton(m, 'rollback_approve'));
    if (proposal && !announced) {
      announced = true;
      say(
        autoApprove
          ? '\n==> --yes: approving as @alice'
          : `\n==> Click "Roll back" on ${slack.pageUrl(C)} (you act as @alice, an approver)\n`,
      );
    }
    if (proposal && autoApprove && !approved) {
      approved = true;
      const r = await emu.clickButton({
        botUrl: `${bot.url}/slack/events`,
        channelId: C,
        messageTs: proposal.ts,
        actionId: 'rollback_approve',
        userId: APPROVER,
      });
      if (r.status !== 200) throw new Error(`the bot refused the approval: HTTP ${r.status}`);
    }
    const report = root ? emu.files().find((f) => f.thread_ts === root.ts) : undefined;
    if (thread.some((m) => textOf(m).includes('complete and verified')) && report) {
      transcript();
      step(`rollback verified; the incident report (${report.title}) is in the thread:`);
      say(report.text.split('\n').slice(0, 25).join('\n'));
      say('...');
      break;
    }
    if (root && /: failed\b/.test(root.text)) {
      transcript();
      throw new Error(`the rollback failed: ${plain(root.text)} (bot log: ${bot.logFile})`);
    }
    if (Date.now() > deadline) {
      throw new Error(`no verified rollback after ${DEADLINE_MS / 60_000} minutes (bot log: ${bot.logFile})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }

  say(
    `\nimage now: ${await kubectlOk(w, ['get', 'deployment', NAME, '-n', NS, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])}`,
  );
  await showHomeAndForm(emu, bot);
  if (autoApprove) {
    step('demo complete');
    await shutdown(0);
  }
  say(`\n==> demo complete. The page stays up: ${slack.pageUrl(C)}  (Ctrl-C stops everything)`);
  // Keep printing late messages (checklist ticks, report edits) until Ctrl-C.
  setInterval(transcript, 1000);
}

/** The texts of a view's blocks, one line each (what a person reads on it). */
function viewLines(blocks: unknown[]): string[] {
  const texts: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.text === 'string') texts.push(o.text);
      for (const [k, x] of Object.entries(o)) if (k !== 'text' || typeof x !== 'string') walk(x);
    }
  };
  walk(blocks);
  return texts.flatMap((t) => plain(t).split('\n'));
}

/** App Home after the rollback, and the form `/rollback` opens: shown in the terminal and on the page. */
async function showHomeAndForm(emu: SlackEmulator, bot: BotProcess): Promise<void> {
  step('App Home for @alice (the page: "Home")');
  await emu.openAppHome({ botUrl: `${bot.url}/slack/events`, userId: APPROVER });
  const home = await eventually('App Home published', async () => emu.views(APPROVER).home, 30_000);
  for (const line of viewLines(home.blocks)) say(`    ${line}`);
  step('`/rollback` with no service opens the rollback form (on the page, as @alice)');
  await emu.sendSlashCommand({
    botUrl: `${bot.url}/slack/events`,
    command: '/rollback',
    text: '',
    userId: APPROVER,
    channelId: C,
  });
  const form = await eventually('the rollback form', async () => emu.views(APPROVER).modals[0], 30_000);
  for (const line of viewLines(form.blocks)) say(`    ${line}`);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  if (bot)
    process.stderr.write(`last lines of the bot log:\n${readFileSync(bot.logFile, 'utf8').slice(-2000)}\n`);
  await shutdown(1);
});
