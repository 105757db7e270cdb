// `/rollback` with no service, through the emulator and the bot as `npm start` runs it: the form
// offers this channel's services and the first one's live history (kubectl's default target first),
// picking another service replaces the list with its history, field errors come back on their field
// the Slack way and start nothing, a submission runs the same
// flow as the command, and a trigger that expired is told to the person with the way around it.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { setDatabaseHead, shipReleases } from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { textOf } from '../support/slack-text.js';

const world = inject('world');
const C = 'C0INCIDENTS';
const ALICE = 'U0SRE00001';
const release = (n: number) => ({
  image: `registry.test/release-manager:v${n}`,
  cause: `v${n}`,
  head: 'aaa111',
});

describe('the rollback form', () => {
  const emus: SlackEmulator[] = [];
  const bots: BotProcess[] = [];
  let slack: SlackEmulator;
  let bot: BotProcess;
  let catalog: ReturnType<typeof worldCatalog>;

  const start = async (name: string, triggerTtlMs?: number) => {
    const emu = await startSlackEmulator({
      botToken: `xoxb-${name}`,
      signingSecret: `${name}-secret`,
      users: [{ id: ALICE, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [ALICE] }],
      usergroups: { S0SREONCALL: [] },
      ...(triggerTtlMs ? { triggerTtlMs } : {}),
    });
    emus.push(emu);
    const b = await startSlackBot(world, {
      slack: emu,
      botToken: `xoxb-${name}`,
      signingSecret: `${name}-secret`,
      catalog,
      name: `${name}-${Date.now()}`,
      env: { WATCH_TRIGGERS: 'false' },
    });
    bots.push(b);
    return { emu, b };
  };
  const open = (emu: SlackEmulator, b: BotProcess) =>
    emu.sendSlashCommand({
      botUrl: `${b.url}/slack/events`,
      command: '/rollback',
      text: '',
      userId: ALICE,
      channelId: C,
    });

  beforeAll(async () => {
    await setDatabaseHead(world, 'aaa111');
    // Two services in #incidents: rm-a with four revisions, rm-b with two.
    const a = await freshNamespace(world, 'form-a');
    const b = await freshNamespace(world, 'form-b');
    await shipReleases(world, a, [release(1), release(2), release(3), release(4)]);
    await shipReleases(world, b, [release(1), release(2)]);
    const svc = (ns: string, name: string) => ({
      ...worldCatalog(world, ns, (s) => {
        s.channel = C;
        s.notify = {};
      }).services.get('release-manager')!,
      name,
    });
    catalog = {
      services: new Map([
        ['rm-a', svc(a, 'rm-a')],
        ['rm-b', svc(b, 'rm-b')],
      ]),
    };
    ({ emu: slack, b: bot } = await start('form'));
  });
  afterAll(async () => {
    for (const b of bots) await b.stop();
    for (const e of emus) await e.close();
    await deleteNamespaces(world);
  });

  it("opens with this channel's services and the first one's live history, the default target first", async () => {
    expect((await open(slack, bot)).status).toBe(200);
    const modal = await eventually('the form', async () => slack.views(ALICE).modals[0]);
    const text = JSON.stringify(modal.blocks);
    expect(text).toContain('"value":"rm-a"');
    expect(text).toContain('"value":"rm-b"');
    expect(text).toContain('Default: revision 3 (previous)');
    expect(text).toContain('Revision 1');
    // The current revision is not offered.
    expect(text).not.toContain('Revision 4');
    // No public post for opening a form.
    expect(slack.messages(C)).toEqual([]);
  });

  it('refuses a revision picked from another service’s list on its field, starting nothing', async () => {
    // rm-a's revision 3 is offered, then rm-b chosen without the list following (a view the bot could
    // not replace in time): 3 would be read as rm-b's revision 3, which is another release.
    const r = await slack.submitView({
      botUrl: `${bot.url}/slack/events`,
      userId: ALICE,
      values: { rollback_modal_service: 'rm-b', rollback_modal_revision: '3' },
    });
    expect(r.outcome).toBe('errors');
    expect(Object.keys(r.errors)).toEqual(['rollback_modal_revision']);
    expect(r.errors.rollback_modal_revision).toMatch(/These revisions are rm-a's, not rm-b's/);
    expect(slack.views(ALICE).modals).toHaveLength(1);
    expect(slack.messages(C)).toEqual([]);
  });

  it('replaces the revisions with the live history of the service picked, dropping a revision picked before', async () => {
    const events = `${bot.url}/slack/events`;
    const shown = () => JSON.stringify(slack.views(ALICE).modals[0]?.blocks ?? []);
    const choose = (blockId: string, value: string) =>
      slack.chooseInView({ botUrl: events, userId: ALICE, blockId, value });
    expect((await choose('rollback_modal_service', 'rm-b')).status).toBe(200);
    await eventually('rm-b’s revisions', async () => shown().includes('live rollout history of rm-b'));
    expect(shown()).toContain('Default: revision 1 (previous)');
    expect(shown()).not.toContain('Revision 3');
    // Picking a revision sends nothing (no dispatch_action); picking rm-a again brings its list back,
    // and the revision picked from rm-b's list is not kept for rm-a.
    expect((await choose('rollback_modal_revision', '1')).status).toBe(0);
    await choose('rollback_modal_service', 'rm-a');
    await eventually('rm-a’s revisions', async () => shown().includes('live rollout history of rm-a'));
    const modal = slack.views(ALICE).modals[0]!;
    expect(modal.updates).toBe(2);
    expect(Object.keys(modal.input)).toEqual(['rollback_modal_service']);
    expect(slack.views(ALICE).modals).toHaveLength(1);
    expect(slack.messages(C)).toEqual([]);
    expect(slack.rejected()).toEqual([]);
  });

  it('runs the same flow as the command on submit: the root in the channel, then the plan', async () => {
    const r = await slack.submitView({
      botUrl: `${bot.url}/slack/events`,
      userId: ALICE,
      values: {
        rollback_modal_service: 'rm-b',
        rollback_modal_revision: '0',
        rollback_modal_reason: 'errors after v2',
        rollback_modal_dry_run: ['dry_run'],
      },
    });
    expect(r.outcome).toBe('closed');
    expect(slack.views(ALICE).modals).toEqual([]);
    const root = await eventually('the root message', async () =>
      slack.messages(C).find((m) => m.text.includes('Rollback of rm-b')),
    );
    const first = JSON.stringify(root.history[0] ?? root);
    expect(first).toContain('Dry run: Rollback of `rm-b`');
    expect(first).toContain('errors after v2');
    // A dry run, as `/rollback rm-b --dry-run` runs it: assessed, the plan on the root, nothing changed.
    const done = await eventually(
      'the dry run assessed',
      async () => slack.messages(C).find((m) => m.ts === root.ts && m.text.includes('completed')),
      60_000,
    );
    expect(textOf(done)).toMatch(/\*Plan:\* revision 2 `registry.test\/release-manager:v2` → revision 1/);
  });

  it('shows a rollback already in progress on the service field', async () => {
    await slack.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text: 'rm-a',
      userId: ALICE,
      channelId: C,
    });
    await eventually('rm-a in progress', async () =>
      slack.messages(C).some((m) => m.text.includes('Rollback of rm-a')),
    );
    await open(slack, bot);
    await eventually('the form', async () => slack.views(ALICE).modals[0]);
    const r = await eventually('refused while rm-a runs', async () => {
      const x = await slack.submitView({
        botUrl: `${bot.url}/slack/events`,
        userId: ALICE,
        values: { rollback_modal_service: 'rm-a' },
      });
      return x.outcome === 'errors' ? x : undefined;
    });
    expect(Object.keys(r.errors)).toEqual(['rollback_modal_service']);
    expect(r.errors.rollback_modal_service).toMatch(/in progress/);
    expect(slack.messages(C).filter((m) => m.text.includes('Rollback of rm-a'))).toHaveLength(1);
    expect(slack.rejected()).toEqual([]);
  });

  it('tells the person when the trigger expired before the form could open, and how to go on', async () => {
    // A 1 s trigger, and an apiserver that does not answer: the history waits 1.5 s, then too late.
    const { emu, b } = await start('form-late', 1000);
    const apiserver = world.pids.find((p) => p.name === 'kube-apiserver')!.pid;
    process.kill(apiserver, 'SIGSTOP');
    try {
      expect((await open(emu, b)).status).toBe(200);
      const told = await eventually('told why', async () =>
        emu.ephemerals({ userId: ALICE }).find((e) => e.text.includes('could not open')),
      );
      expect(textOf(told as never)).toContain('expired_trigger_id');
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    expect(emu.views(ALICE).modals).toEqual([]);
  });
});
