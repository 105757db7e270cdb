// A crash-looping StatefulSet release rolled back from Slack, as `npm start` runs the bot: /rollback →
// assessment (pods by controller-revision-hash) → Approve → kubectl's StatefulSet undo and status →
// verified on the target revision → report; and `/rollback history` numbered by ControllerRevisions.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import {
  applyOwner,
  fluxKustomization,
  type GitOpsStandIn,
  type OwnerRef,
  ownerMarks,
  startGitOpsStandIn,
  templateOf,
} from '../support/gitops-standin.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES } from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { hasButton, textOf } from '../support/slack-text.js';
import {
  imageOfStatefulSet,
  LEDGER,
  ledgerCatalog,
  ledgerYaml,
  shipStatefulSet,
} from '../support/workloads.js';

const world = inject('world');
const C = 'C0INCIDENTS';
const ALICE = 'U0SRE00001';
const SECRET = 'sts-signing-secret';

describe('Slack: a StatefulSet rollback', () => {
  let emu: SlackEmulator;
  let bot: BotProcess;
  let ns: string;
  let owner: OwnerRef;
  let gitops: GitOpsStandIn | undefined;

  beforeAll(async () => {
    ns = await freshNamespace(world, 'sts');
    // Flux applies it: the bot must suspend the Kustomization before the undo, or the undo is reverted.
    owner = { kind: 'Kustomization', namespace: ns, name: 'apps' };
    const workload = { kind: 'StatefulSet' as const, namespace: ns, name: LEDGER };
    const marks = ownerMarks(owner, workload);
    await applyOwner(world, fluxKustomization({ name: 'apps', namespace: ns }));
    await shipStatefulSet(world, ns, [
      { image: IMAGES.good, ...marks },
      { image: IMAGES.bad, ...marks },
    ]);
    gitops = startGitOpsStandIn(world, { periodMs: 300 });
    gitops.track({
      owner,
      workload,
      gitTemplate: templateOf(ledgerYaml(ns, { image: IMAGES.bad, ...marks })),
    });
    await eventually('the bad release crash-loops', async () =>
      (await kubectlOk(world, ['get', 'pods', '-n', ns])).includes('CrashLoopBackOff'),
    );
    emu = await startSlackEmulator({
      botToken: 'xoxb-sts',
      signingSecret: SECRET,
      users: [{ id: ALICE, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [ALICE] }],
    });
    bot = await startSlackBot(world, {
      slack: emu,
      botToken: 'xoxb-sts',
      signingSecret: SECRET,
      catalog: ledgerCatalog(world, ns, (svc) => {
        svc.channel = C;
        svc.approvers = { users: [ALICE], groups: [], requireSecondPerson: false, expireMinutes: 60 };
        svc.notify = {};
      }),
      name: ns,
      env: { WATCH_TRIGGERS: 'false' },
    });
  });
  afterAll(async () => {
    await gitops?.stop();
    await bot?.stop();
    await emu?.close();
    await deleteNamespaces(world);
  });

  it('rolls the crash-looping release back on approval and verifies it on the target revision', async () => {
    const slash = await emu.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text: `${LEDGER} the new release crash-loops`,
      userId: ALICE,
      channelId: C,
    });
    expect(slash.status).toBe(200);
    const root = await eventually('root message', async () => emu.messages(C).find((m) => !m.thread_ts));
    expect(textOf(root)).toContain(`StatefulSet \`${ns}/${LEDGER}\``);
    const assessment = await eventually(
      'assessment with Approve',
      async () => emu.thread(C, root.ts).find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    ).catch((err: Error) => bot.explain(err));
    const text = textOf(assessment);
    // The bad revision's pods are found by controller-revision-hash, and history is by ControllerRevision.
    expect(text).toContain('CrashLoopBackOff');
    expect(text).toMatch(/from revision 2 \(\S+-bad\) to revision 1 \(/);
    expect(text).toContain('Flux Kustomization');
    const click = await emu.clickButton({
      botUrl: `${bot.url}/slack/events`,
      channelId: C,
      messageTs: assessment.ts,
      actionId: 'rollback_approve',
      userId: ALICE,
    });
    expect(click.status).toBe(200);
    await eventually(
      'complete and verified',
      async () => emu.thread(C, root.ts).some((m) => textOf(m).includes('complete and verified')),
      150_000,
    ).catch((err: Error) => {
      const said = emu.thread(C, root.ts).map(textOf).join('\n');
      return bot.explain(new Error(`${err.message}\nthread:\n${said}`));
    });
    expect(await imageOfStatefulSet(world, ns)).toBe(IMAGES.good);
    const thread = emu.thread(C, root.ts).map(textOf).join('\n');
    // kubectl's StatefulSet status viewer said done (the API defaults a partition of 0).
    expect(thread).toContain('partitioned roll out complete: 2 new pods have been updated');
    expect(thread).toContain('still on the target revision');
    // Every pod runs the good image, on the revision the controller renumbered to 3 (as kubectl's undo).
    const pods = JSON.parse(
      await kubectlOk(world, ['get', 'pods', '-n', ns, '-l', `app=${LEDGER}`, '-o', 'json']),
    );
    expect(
      pods.items.map((p: { spec: { containers: { image: string }[] } }) => p.spec.containers[0]!.image),
    ).toEqual([IMAGES.good, IMAGES.good]);
    const history = await kubectlOk(world, ['rollout', 'history', `statefulset/${LEDGER}`, '-n', ns]);
    expect(history).toMatch(/^2\s/m);
    expect(history).toMatch(/^3\s/m);
    expect(history).not.toMatch(/^1\s/m);
    expect(thread).toContain('Git still holds the bad release');
  });

  it('offers Resume sync on the report, and a click by an approver restores the Kustomization', async () => {
    const kustomization = async () =>
      JSON.parse(
        await kubectlOk(world, [
          'get',
          'kustomizations.kustomize.toolkit.fluxcd.io',
          'apps',
          '-n',
          ns,
          '-o',
          'json',
        ]),
      );
    expect((await kustomization()).spec.suspend).toBe(true);
    const root = emu.messages(C).find((m) => !m.thread_ts)!;
    const summary = emu.thread(C, root.ts).find((m) => hasButton(m, 'rollback_resume_sync'));
    expect(summary, 'a message with Resume sync').toBeDefined();
    const click = await emu.clickButton({
      botUrl: `${bot.url}/slack/events`,
      channelId: C,
      messageTs: summary!.ts,
      actionId: 'rollback_resume_sync',
      userId: ALICE,
    });
    expect(click.status).toBe(200);
    await eventually('Kustomization resumed', async () =>
      (await kustomization()).spec.suspend === undefined ? true : undefined,
    ).catch((err: Error) => bot.explain(err));
    await eventually('the button replaced by who resumed', async () => {
      const m = emu.thread(C, root.ts).find((x) => x.ts === summary!.ts);
      return m && !hasButton(m, 'rollback_resume_sync') && textOf(m).includes('resumed by')
        ? true
        : undefined;
    });
  });
});
