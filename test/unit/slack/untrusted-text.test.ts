// Untrusted text never speaks in Slack: every builder that renders text from pods, alerts, Kubernetes
// or people is fed hostile payloads in every such field, and what it renders must hold no live ping,
// link or mention (beyond the bot's own) and no backtick the payload brought (which could end a code span).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { CodedError, isCodedError } from '../../../src/errors.js';
import { escapeMrkdwn } from '../../../src/escape-mrkdwn.js';
import { buildReport } from '../../../src/report/build-report.js';
import { describeSignal } from '../../../src/rollback/incidents.js';
import type { Assessment, Rollback, RollbackEvent } from '../../../src/rollback/model.js';
import { silentLogger } from '../../../src/rollback/ports.js';
import type { Signal } from '../../../src/rollback/signal.js';
import { buildError, buildHistory, buildStatus, errorText } from '../../../src/slack/blocks/reply-blocks.js';
import {
  buildAssessment,
  buildMigrationApproval,
  buildRoot,
  buildSummary,
  startingText,
} from '../../../src/slack/blocks/rollback-blocks.js';
import { createSlackNotifier } from '../../../src/slack/notifier.js';
import { ownMentions } from '../../../src/slack/own-mentions.js';
import { parseCommand } from '../../../src/slack/parse-command.js';
import { findLiveMarkup } from '../../support/slack-emulator/live-markup.js';

const PAYLOADS = [
  '``` <!channel> <https://evil.example/approve|Approve rollback> <@U123>',
  '` @here @channel @everyone `',
  '<!here|here> <#C0SECRET> <!subteam^S0EVIL> https://evil.example/x <mailto:a@b.example>',
  'ok`\n```\n*Approved by <@U999>* <!everyone>',
  '&lt;!channel&gt; &amp; ```js',
];
const BENIGN = 'benign';
const CODE_UNCHECKED = ' (mixed text: live markup only)';
/** Mentions the bot writes itself (requester, approvers, monitoring group, channel link). */
const catalog = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
);
const KEEP = ownMentions(catalog, 'U0REQ');
const OWN = [...KEEP, '<@U0APPROVER>', '<#C0INC>'];

function rollback(x: string): Rollback {
  const at = '2026-12-01T10:00:00.000Z';
  const ref = { revision: 3, replicaSet: `rs-${x}`, images: [`img:${x}`], changeCause: x, createdAt: at };
  const assessment: Assessment = {
    at,
    deployment: { ok: false, unavailable: x, ms: 1 },
    history: {
      ok: true,
      ms: 1,
      value: [
        { ...ref, current: false, replicas: 0, readyReplicas: 0 },
        { ...ref, revision: 4, current: true, replicas: 1, readyReplicas: 0 },
      ],
    },
    pods: {
      ok: true,
      ms: 1,
      value: [
        {
          name: `pod-${x}`,
          phase: x,
          ready: false,
          nodeName: x,
          images: [x],
          podTemplateHash: x,
          deleting: false,
          containers: [
            {
              name: x,
              ready: false,
              running: false,
              restartCount: 2,
              waitingReason: x,
              exitCode: undefined,
              terminatedReason: x,
              lastTerminatedReason: x,
            },
          ],
        },
      ],
    },
    events: {
      ok: true,
      ms: 1,
      value: [{ type: 'Warning', reason: x, message: x, object: `Pod/${x}`, count: 3, lastSeen: at }],
    },
    errorLogs: { ok: true, ms: 1, value: [{ pod: `pod-${x}`, lines: [`ERROR ${x}`] }] },
    health: { ok: true, ms: 1, value: { status: 0, ms: 1, error: x } },
    ready: { ok: false, unavailable: x, ms: 1 },
    metrics: { ok: false, unavailable: x, ms: 1 },
    migration: {
      ok: true,
      ms: 1,
      value: { current: x, targetHead: x, currentHead: x, ahead: true, command: [x] },
    },
    from: { ...ref, revision: 4 },
    target: { ...ref, reason: x },
    targetError: undefined,
    findings: [x, `rollout stuck: ProgressDeadlineExceeded (${x})`],
  };
  return {
    id: 'r-1',
    service: 'release-manager',
    namespace: 'production',
    deployment: 'release-manager-prod',
    state: 'awaiting_approval',
    version: 3,
    mode: 'manual',
    dryRun: false,
    toRevision: 0,
    reason: x,
    why: describeSignal(signal(x)),
    requestedBy: { kind: 'user', id: 'U0REQ', name: x },
    requestedAt: at,
    updatedAt: at,
    assessment,
    approvals: [{ by: { kind: 'user', id: 'U0APPROVER', name: x }, at }],
    decision: { event: 'approve', by: { kind: 'user', id: 'U0APPROVER' }, at },
    verification: {
      at,
      passed: false,
      checks: [{ name: x, passed: false, evidence: { source: x, value: x, threshold: x }, detail: x }],
    },
    failure: { step: 'verifying', code: 'x', message: x, at },
    thread: { channel: 'C0INC', ts: '1.1' },
  };
}

function signal(x: string): Signal {
  return {
    service: 'release-manager',
    source: 'alert',
    name: `Alert${x}`,
    status: 'firing',
    key: x,
    summary: x,
    why: { query: x, value: x, threshold: x, since: '2026-12-01T10:00:00.000Z', link: x },
  };
}

const events = (x: string): RollbackEvent[] => {
  const e = (type: RollbackEvent['type'], data: Record<string, unknown>, name = x): RollbackEvent => ({
    id: 'r-1',
    type,
    from: 'verifying',
    to: 'failed',
    actor: { kind: 'alert', id: x, name },
    at: '2026-12-01T10:01:00.000Z',
    data,
  });
  return [
    e('created', {}),
    e('assessed', { summary: x }),
    e('progress', { milestone: x }),
    e('migrated', { head: x, pod: x }),
    e('undone', { message: x }),
    e('fail', { message: x }),
    e('note', { kind: 'checklist', item: 'Test login functionality', done: true }),
  ];
};

/** Every string under a `text` key (mrkdwn and plain_text alike), or the string itself. */
function texts(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(texts).join('\n');
  if (v && typeof v === 'object')
    return Object.entries(v)
      .map(([k, x]) => (k === 'text' && typeof x === 'string' ? x : typeof x === 'object' ? texts(x) : ''))
      .join('\n');
  return '';
}

/** What the notifier posts through a fake Web API, as one string per call. */
async function posted(run: (n: ReturnType<typeof createSlackNotifier>) => Promise<unknown>): Promise<string> {
  const calls: unknown[] = [];
  const record = async (a: unknown) => {
    calls.push(a);
    return { ok: true, ts: '2.2', channel: 'C0INC' };
  };
  const client = {
    chat: { postMessage: record, update: record },
    conversations: { open: async () => ({ ok: true, channel: { id: 'D0EM' } }) },
    filesUploadV2: record,
    on: () => {},
  };
  // A fake Web API has no rate limits: no pacing, so the test is about the text alone.
  const n = createSlackNotifier(client as never, catalog, silentLogger, {
    run: (_lane, call) => call(),
    hold: () => {},
  });
  await run(n);
  await n.flush();
  return calls.map((c) => texts(c)).join('\n');
}

/** The lines incidents.ts hands the notifier: a headline with the signal, then an "Also firing" line. */
const incidentLines = (x: string) =>
  posted(async (n) => {
    const thread = await n.openThread(
      'C0INC',
      `:rotating_light: *release-manager* is unhealthy on revision 4 (\`img:${x}\`). Policy \`propose\`.\n${describeSignal(signal(x))}`,
    );
    await n.say(
      thread ?? { channel: 'C0INC', ts: '1.1' },
      `:heavy_plus_sign: Also firing: ${describeSignal(signal(x))}`,
    );
  });

function parseError(text: string): CodedError {
  try {
    parseCommand(text);
  } catch (err) {
    if (isCodedError(err)) return err;
  }
  throw new Error(`"${text}" parsed`);
}

const BUILDERS: [string, (x: string) => string | Promise<string>][] = [
  ['root message (reason, why, plan, failure)', (x) => texts(buildRoot(rollback(x)))],
  [
    'assessment (findings, history, pods, events, logs, health, migration, target, buttons)',
    (x) => texts(buildAssessment(rollback(x))),
  ],
  ['migration approval', (x) => texts(buildMigrationApproval(rollback(x)))],
  ['starting announcement', (x) => startingText(rollback(x))],
  ['summary (failure, verification evidence)', (x) => texts(buildSummary(rollback(x)))],
  [
    'status (alert requester)',
    (x) => texts(buildStatus([{ ...rollback(x), requestedBy: { kind: 'alert', id: x, name: x } }])),
  ],
  [
    'history (change-cause, images, typed service)',
    (x) =>
      texts(
        buildHistory(x, [
          {
            revision: 1,
            replicaSet: x,
            images: [x],
            changeCause: x,
            createdAt: '',
            current: true,
            replicas: 1,
            readyReplicas: 1,
            annotations: {},
            templateAnnotations: {},
          },
        ]),
      ) + texts(buildHistory(x, [])),
  ],
  [
    'error reply to a bad flag and a bad revision',
    (x) => {
      const a = parseError(`release-manager --${x.replace(/\s/g, '')}`);
      const b = parseError(`release-manager --to-revision=${x.replace(/\s/g, '')}`);
      return [
        texts(buildError(a, KEEP)),
        errorText(a, KEEP),
        texts(buildError(b, KEEP)),
        errorText(b, KEEP),
      ].join('\n');
    },
  ],
  [
    // An error is a sentence the domain composed, with its own `code` and approver mentions: the Slack
    // edge can only defuse it (no ping, no link). Keeping foreign text out of its code spans is for the
    // module that embeds it (escapeMrkdwn there), so the backtick count is not checked here.
    `error reply carrying Kubernetes text${CODE_UNCHECKED}`,
    (x) => {
      const err = new CodedError('kube_forbidden', `admission webhook denied: ${x}`, {
        remedy: `ask <@U0SRE00002>: ${x}`,
      });
      const out = `${texts(buildError(err, KEEP))}\n${errorText(err, KEEP)}`;
      expect(out).toContain('<@U0SRE00002>');
      return out;
    },
  ],
  // As the domain composes them today (values not escaped where embedded): nothing live comes out.
  [`incident thread: alert headline and signal lines${CODE_UNCHECKED}`, (x) => incidentLines(x)],
  // With the values escaped where the domain embeds them (the change asked of incidents.ts), the
  // notifier keeps the bot's code spans and no payload can end one.
  ['incident thread: alert lines whose values the composer escaped', (x) => incidentLines(escapeMrkdwn(x))],
  [
    'notifier: assessment, starting, progress, finish',
    (x) =>
      posted(async (n) => {
        const r = rollback(x);
        await n.assessed(r);
        await n.starting(r);
        await n.progress(r, `Waiting for deployment "${x}" rollout to finish`);
        await n.migrationApprovalNeeded(r);
        await n.stateChanged(r);
        await n.finished({ ...r, state: 'failed' }, 'report');
      }),
  ],
  ['incident report', (x) => buildReport(rollback(x), events(x))],
];

const ticks = (s: string) => (s.match(/`/g) ?? []).length;

describe('untrusted text in Slack', () => {
  describe.each(BUILDERS)('%s', (name, render) => {
    it.each(PAYLOADS)('stays inert with %j', async (payload) => {
      const hostile = await render(payload);
      const benign = await render(BENIGN);
      expect(findLiveMarkup(hostile, { allow: OWN })).toEqual([]);
      // The payload brought no backtick: the bot's own code spans are exactly as many as with benign text.
      if (!name.endsWith(CODE_UNCHECKED)) expect(ticks(hostile)).toBe(ticks(benign));
    });
  });
});
