// The notifier against the Slack emulator's own limits (chat.postMessage ≈ 1/s per channel, burst 3)
// through the real @slack/web-api client, configured as production configures it. The client pauses
// its one queue for every channel on each 429, so the notifier must not cause them: a busy channel
// then delays only its own threads. And a notice that partly failed is retried without posting its
// delivered parts again.
import { readFileSync } from 'node:fs';
import { webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import type { Rollback } from '../../../src/rollback/model.js';
import { silentLogger } from '../../../src/rollback/ports.js';
import { createSlackNotifier } from '../../../src/slack/notifier.js';
import { type SlackEmulator, startSlackEmulator } from '../../support/slack-emulator/index.js';
import { silentWebLogger } from '../../support/web-client.js';

const TOKEN = 'xoxb-notifier-limits';
const BUSY = 'C0BUSY';
const QUIET = 'C0QUIET';
const U = 'U0SRE00001';
const catalog = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
);

let slack: SlackEmulator;
let client: webApi.WebClient;

beforeEach(async () => {
  // The engineering manager of the example catalog (U0ENGMGR01) is not in this workspace: a DM to
  // them fails, which is how one part of the starting notice fails below.
  slack = await startSlackEmulator({
    botToken: TOKEN,
    signingSecret: 'notifier-limits',
    users: [{ id: U, name: 'alice' }],
    channels: [
      { id: BUSY, name: 'incidents', members: [U] },
      { id: QUIET, name: 'team-1', members: [U] },
    ],
  });
  client = new webApi.WebClient(TOKEN, {
    slackApiUrl: `${slack.url}/api/`,
    logger: silentWebLogger,
    retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
  });
});
afterEach(async () => {
  await slack.close();
});

describe('the notifier under Slack rate limits', () => {
  it("posts within each channel's limit, so a busy channel delays only its own threads", async () => {
    const n = createSlackNotifier(client, catalog, silentLogger);
    // Like the outbox: each thread's notices in order, the threads at once.
    const thread = async (channel: string, name: string) => {
      const t = await n.openThread(channel, `root ${name}`);
      if (!t) throw new Error('no thread');
      for (const i of [1, 2]) await n.say(t, `${name} ${i}`);
      return t;
    };
    const [quiet, ...busy] = await Promise.all([
      thread(QUIET, 'q'),
      thread(BUSY, 'a'),
      thread(BUSY, 'b'),
      thread(BUSY, 'c'),
    ]);
    await n.flush();

    expect(slack.rateLimited()).toBe(0);
    for (const [t, name] of [
      [quiet, 'q'],
      [busy[0], 'a'],
      [busy[1], 'b'],
      [busy[2], 'c'],
    ] as const)
      expect(slack.thread(t!.channel, t!.ts).map((m) => m.text)).toEqual([`${name} 1`, `${name} 2`]);
    // The quiet channel's thread was done before the busy channel had taken half of its nine posts.
    const posts = slack.calls('chat.postMessage').filter((c) => c.ok);
    const quietDone = posts.findIndex((c) => c.args.text === 'q 2');
    const busyBefore = posts.slice(0, quietDone).filter((c) => c.args.channel === BUSY).length;
    expect(busyBefore).toBeLessThanOrEqual(4);
  }, 30_000);

  it('retries a partly delivered starting notice without posting its delivered parts again', async () => {
    const n = createSlackNotifier(client, catalog, silentLogger);
    const thread = await n.openThread(BUSY, 'root');
    if (!thread) throw new Error('no thread');
    const r = {
      id: 'r-partial',
      service: 'release-manager',
      reason: 'error rate 8%',
      state: 'notifying',
      thread,
    } as Rollback;
    // The outbox delivers a failed notice again: the DM to the engineering manager fails each time.
    await expect(n.starting(r)).rejects.toThrow(/user_not_found/);
    await expect(n.starting(r)).rejects.toThrow(/user_not_found/);
    await n.flush();
    const texts = slack.thread(BUSY, thread.ts).map((m) => m.text);
    expect(texts.filter((t) => t.startsWith('Initiating rollback of release-manager'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('heads-up'))).toHaveLength(1);
  });

  it("shows the rollout's last status at once, where a second's coalescing holds back the ones before", async () => {
    const n = createSlackNotifier(client, catalog, silentLogger);
    const thread = await n.openThread(QUIET, 'root');
    if (!thread) throw new Error('no thread');
    const r = { id: 'r-final', service: 'release-manager', state: 'undoing', thread } as Rollback;
    await n.progress(r, 'Waiting for 2 pods to be ready...');
    await n.flush();
    // Within the second: held back, then overtaken by the final status, which goes now.
    await n.progress(r, 'Waiting for 1 pods to be ready...');
    await n.progress(r, 'deployment "release-manager-prod" successfully rolled out', { final: true });
    await n.flush();
    const [progress] = slack.thread(QUIET, thread.ts);
    expect(progress?.text).toBe('deployment "release-manager-prod" successfully rolled out');
    expect(slack.calls('chat.update').filter((c) => c.ok)).toHaveLength(1);
  });
});
