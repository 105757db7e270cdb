// Untrusted text never speaks: a hostile payload in an alert (summary, labels), a pod's log line, a
// Kubernetes change-cause and a person's reason reaches the thread inert (no ping, no link, no
// closing of the bot's code spans) and a credential in it is redacted, on the real world.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alertmanagerNotification } from '../support/alert-payloads.js';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { worldCatalog } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { NAME, setDatabaseHead, shipReleases } from '../support/releases.js';
import {
  type SlackEmulator,
  type StoredMessage,
  startSlackEmulator,
} from '../support/slack-emulator/index.js';
import { findLiveMarkup } from '../support/slack-emulator/live-markup.js';
import { hasButton, textOf } from '../support/slack-text.js';

const world = inject('world');
const C = 'C0INCIDENTS';
const APPROVER = 'U0SRE00001';
const TOKEN = 'alertmanager-bearer-token-inject';
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const PAYLOAD = '``` <!channel> <https://evil.example/approve|Approve rollback> <@U0MALLORY9> <#C0OTHER00>';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLXN0b2xlbg';

describe('untrusted text in the thread', () => {
  let slack: SlackEmulator;
  let bot: BotProcess;
  const ns: Record<'reason' | 'alert', string> = { reason: '', alert: '' };

  beforeAll(async () => {
    await setDatabaseHead(world, 'aaa111');
    ns.reason = await freshNamespace(world, 'inject-reason');
    ns.alert = await freshNamespace(world, 'inject-alert');
    for (const n of [ns.reason, ns.alert])
      await shipReleases(world, n, [
        { image: GOOD, cause: `Release v2024.01.14 ${PAYLOAD}`, head: 'aaa111' },
        { image: BAD, cause: 'Release v2024.01.15', head: 'aaa111' },
      ]);
    slack = await startSlackEmulator({
      botToken: 'xoxb-inject',
      signingSecret: 'inject-secret',
      users: [{ id: APPROVER, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [APPROVER] }],
    });
    const entry = (namespace: string, name: string) => {
      const svc = worldCatalog(world, namespace, (s) => {
        s.channel = C;
        s.notify = {};
        s.approvers = { users: [APPROVER], groups: [], requireSecondPerson: false, expireMinutes: 60 };
        s.policy.mode = 'propose';
      }).services.get('release-manager')!;
      return [name, { ...svc, name }] as const;
    };
    bot = await startSlackBot(world, {
      slack,
      botToken: 'xoxb-inject',
      signingSecret: 'inject-secret',
      catalog: { services: new Map([entry(ns.reason, 'rm-reason'), entry(ns.alert, 'rm-alert')]) },
      name: `inject-${ns.reason}`,
      env: { ALERT_WEBHOOK_TOKEN: TOKEN, WATCH_TRIGGERS: 'false' },
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await slack?.close();
    await deleteNamespaces(world);
  });

  const everything = (root: StoredMessage) => [root, ...slack.thread(C, root.ts)];
  const assertInert = (messages: StoredMessage[]) => {
    for (const m of messages) {
      const text = textOf(m);
      expect(findLiveMarkup(text, { allow: [`<@${APPROVER}>`] }), text.slice(0, 300)).toEqual([]);
      // The payload's backticks cannot close the bot's code spans (they are replaced by a look-alike).
      expect(text).not.toMatch(/`{3} (<|&lt;)!channel/);
      expect(text).not.toContain(JWT);
    }
  };

  it('renders a reason, a change-cause and pod log lines as inert text, credentials redacted', async () => {
    await slack.sendSlashCommand({
      botUrl: `${bot.url}/slack/events`,
      command: '/rollback',
      text: `rm-reason ${PAYLOAD}`,
      userId: APPROVER,
      channelId: C,
    });
    const root = await eventually('root', async () =>
      slack.messages(C).find((m) => m.text.includes('rm-reason')),
    );
    const assessment = await eventually(
      'assessment',
      async () => slack.thread(C, root.ts).find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    ).catch(bot.explain);
    // The hostile parts are there to read, as text.
    expect(textOf(assessment)).toContain('rejected request');
    expect(textOf(assessment)).toContain('evil.example');
    expect(textOf(assessment)).toContain('[redacted]');
    assertInert(everything(root));
  });

  it('renders an alert whose summary and labels carry the payload as inert text', async () => {
    const res = await fetch(`${bot.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        alertmanagerNotification([
          {
            status: 'firing',
            labels: {
              alertname: 'HighErrorRate',
              namespace: ns.alert,
              deployment: NAME,
              instance: PAYLOAD,
            },
            annotations: { summary: `Error ratio 9% ${PAYLOAD}`, description: PAYLOAD },
            startsAt: new Date().toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            fingerprint: 'inject0000000001',
          },
        ]),
      ),
    });
    expect(res.status).toBe(202);
    const root = await eventually(
      'incident thread',
      async () => slack.messages(C).find((m) => m.text.includes('*rm-alert* is unhealthy')),
      60_000,
    ).catch(bot.explain);
    await eventually(
      'assessment',
      async () => slack.thread(C, root.ts).find((m) => hasButton(m, 'rollback_approve')),
      60_000,
    ).catch(bot.explain);
    expect(textOf(root)).toContain('evil.example');
    assertInert(everything(root));
  });
});
