// Block Kit for a rollback's thread: pure functions of the rollback record.
// Every value that came from pods, alerts, Kubernetes or people goes through escapeMrkdwn (`e` here)
// or code(), which escapes its lines; catalog names, ids and the bot's own mentions are kept as they are.

import { defuseMrkdwn, escapeMrkdwn as e } from '../../escape-mrkdwn.js';
import { statusOf } from '../../rollback/check-results.js';
import type { Assessment, Rollback, SignOffRole } from '../../rollback/model.js';
import { ACTION, BLOCK } from '../ids.js';
import { clip, code, context, header, type KnownBlock, STATE_LABEL, section, utc } from './text.js';

const who = (r: Rollback) =>
  r.requestedBy.kind === 'user'
    ? `<@${r.requestedBy.id}>`
    : `${e(r.requestedBy.name ?? r.requestedBy.id)} (${r.requestedBy.kind})`;
const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${(v * 100).toFixed(1)}%`);
const sec = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(2)} s`);

export function rootText(r: Rollback): string {
  return `Rollback of ${r.service}: ${r.state.replaceAll('_', ' ')}`;
}

/** The channel-level message, updated in place as the rollback moves. */
export function buildRoot(r: Rollback): KnownBlock[] {
  const t = r.assessment?.target;
  const f = r.assessment?.from;
  const lines = [
    `*${r.dryRun ? 'Dry run: ' : ''}${r.mode === 'auto' ? 'Automatic rollback' : 'Rollback'} of \`${r.service}\`* (${r.kind && r.kind !== 'Deployment' ? `${r.kind} ` : ''}\`${r.namespace}/${r.deployment}\`)`,
    `*State:* ${STATE_LABEL[r.state] ?? r.state}`,
    `*Requested by* ${who(r)}${r.reason ? `: ${e(r.reason)}` : ''}`,
  ];
  // The why is composed by the incidents module, which escapes every alert value in it (describeSignal):
  // defusing is enough and keeps the bot's own code spans.
  if (r.why) lines.push(`*Why:* ${defuseMrkdwn(r.why)}`);
  if (t)
    lines.push(
      `*Plan:* revision ${f?.revision ?? '?'} \`${e(f?.images.join(', ') ?? '?')}\` → revision ${t.revision} \`${e(t.images.join(', '))}\``,
    );
  if (r.failure) lines.push(`*Failed in ${r.failure.step}:* ${e(r.failure.message)}`);
  if (r.verification) lines.push(`*Verification:* ${r.verification.passed ? 'passed' : 'FAILED'}`);
  return [section(lines.join('\n')), ...buildStop(r), context(`id \`${r.id}\` · details in the thread`)];
}

/** States in which a step works before the patch: a cancel there is honoured before the patch. */
const BEFORE_PATCH = new Set(['requested', 'assessing', 'notifying']);

/**
 * Cancel on an automatic rollback's root until the patch is sent (a person's rollback is cancelled
 * at its approval instead). The steps stop it before the patch; once the patch is sent it goes.
 */
function buildStop(r: Rollback): KnownBlock[] {
  if (r.mode !== 'auto' || r.dryRun || !BEFORE_PATCH.has(r.state)) return [];
  return [
    {
      type: 'actions',
      block_id: BLOCK.stop,
      elements: [
        confirmedButton({
          actionId: ACTION.cancel,
          style: 'danger',
          label: 'Cancel',
          value: r.id,
          title: 'Cancel this rollback?',
          question: `Stop the automatic rollback of \`${r.service}\` before its patch is sent. If the patch is already out, it goes on.`,
          yes: 'Cancel it',
        }),
      ],
    },
  ];
}

/** Why there is no "before" value: the baseline needs the current revision's creation time and data then. */
function noBaseline(m: { baselineAt: string | undefined }): string {
  return m.baselineAt
    ? `no data at ${utc(m.baselineAt)}, just before the current revision was created`
    : 'the current revision is unknown, so there is no time to take it at';
}

function assessmentLines(a: Assessment): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  if (a.findings.length) blocks.push(section(`*Findings*\n${a.findings.map((x) => `• ${e(x)}`).join('\n')}`));
  if (a.history.ok && a.history.value.length) {
    const rows = a.history.value.map((h) => {
      const mark = h.current ? '← current' : h.revision === a.target?.revision ? '← target' : '';
      return `${String(h.revision).padEnd(4)} ${clip(h.changeCause ?? '<none>', 30).padEnd(30)} ${clip(h.images.join(','), 60)} ${mark}`;
    });
    blocks.push(section(`*Rollout history*\n${code(rows.slice(-10))}`));
  }
  if (a.pods.ok && a.pods.value.length) {
    const rows = a.pods.value.slice(0, 12).map((p) => {
      const restarts = p.containers.reduce((n, c) => n + c.restartCount, 0);
      const reason = p.containers
        .map((c) => c.waitingReason)
        .filter(Boolean)
        .join(',');
      return `${clip(p.name, 45).padEnd(45)} ${p.phase.padEnd(8)} ${p.ready ? 'ready' : 'NOT READY'} restarts=${restarts}${reason ? ` ${reason}` : ''}`;
    });
    blocks.push(section(`*Pods*\n${code(rows)}`));
  }
  if (a.events.ok && a.events.value.length) {
    const rows = a.events.value
      .slice(0, 8)
      .map((ev) =>
        clip(
          `${utc(ev.lastSeen)} ${ev.reason} ${ev.object}${ev.count > 1 ? ` ×${ev.count}` : ''}: ${ev.message}`,
          200,
        ),
      );
    blocks.push(section(`*Recent warning events*\n${code(rows)}`));
  }
  if (a.errorLogs.ok) {
    const lines = a.errorLogs.value.flatMap((l) => l.lines.slice(-4).map((x) => `${l.pod.slice(-5)}: ${x}`));
    if (lines.length)
      blocks.push(section(`*Recent error lines*\n${code(lines.slice(0, 12).map((x) => clip(x, 200)))}`));
  }
  const m = a.metrics.ok ? a.metrics.value : undefined;
  const facts = [
    `*Error rate:* ${m ? `${pct(m.errorRatio)} (before: ${pct(m.baselineErrorRatio)}${m.baselineErrorRatio === undefined ? `, ${noBaseline(m)}` : ''})` : `unavailable: ${a.metrics.ok ? '' : e(a.metrics.unavailable)}`}`,
    `*p99:* ${m ? `${sec(m.p99Seconds)} (before: ${sec(m.baselineP99Seconds)}${m.baselineP99Seconds === undefined ? `, ${noBaseline(m)}` : ''})` : 'unavailable'}`,
    `*/health:* ${a.health.ok ? a.health.value.status || e(a.health.value.error ?? '') : `unavailable: ${e(a.health.unavailable)}`}`,
    `*/ready:* ${a.ready.ok ? a.ready.value.status || e(a.ready.value.error ?? '') : `unavailable: ${e(a.ready.unavailable)}`}`,
    `*Migrations:* ${a.migration.ok ? `${e(a.migration.value.current ?? 'none')}${a.migration.value.ahead ? ` → downgrade to ${e(a.migration.value.targetHead ?? '?')} first` : ''}` : e(a.migration.unavailable)}`,
  ];
  // The GitOps line says which owner applies the workload and what the bot will do about its sync.
  if (a.gitops)
    facts.push(
      `*GitOps:* ${a.gitops.plan === 'refuse' ? ':no_entry: ' : a.gitops.plan === 'suspend' ? ':double_vertical_bar: ' : ''}${e(a.gitops.reason)}`,
    );
  blocks.push(section(facts.join('\n')));
  return blocks;
}

/** The assessment in the thread; with Approve/Cancel while it awaits approval. */
export function buildAssessment(r: Rollback): KnownBlock[] {
  const a = r.assessment;
  if (!a) return [section('No assessment.')];
  const blocks: KnownBlock[] = [header(`Assessment: ${r.service}`), ...assessmentLines(a)];
  const t = a.target;
  if (t)
    blocks.push(section(`*Target:* revision ${t.revision} \`${e(t.images.join(', '))}\` — ${e(t.reason)}`));
  if (r.state === 'awaiting_approval' && t) blocks.push(...buildDecisionButtons(r));
  if (r.dryRun)
    blocks.push(context('Dry run: nothing will be changed. Run without `--dry-run` to roll back.'));
  return blocks.slice(0, 50);
}

export function buildDecisionButtons(r: Rollback): KnownBlock[] {
  const a = r.assessment;
  const from = a?.from
    ? `revision ${a.from.revision} (${e(a.from.images.join(', '))})`
    : 'the current revision';
  const to = a?.target ? `revision ${a.target.revision} (${e(a.target.images.join(', '))})` : '?';
  const migration =
    a?.migration.ok && a.migration.value.ahead
      ? ` The database is ahead of the target: its downgrade to ${e(a.migration.value.targetHead ?? '?')} will ask for a separate approval.`
      : a && !a.migration.ok && a.migration.unavailable !== 'no migrations configured'
        ? ' The database head is read again with the current image before anything changes: a downgrade, or an unknown state, will ask for a separate decision.'
        : '';
  return [
    {
      type: 'actions',
      block_id: BLOCK.decision,
      elements: [
        confirmedButton({
          actionId: ACTION.approve,
          style: 'primary',
          label: r.requestedBy.kind === 'user' ? 'Approve rollback' : 'Roll back',
          value: r.id,
          title: 'Roll back now?',
          question: `Roll back \`${r.service}\` from ${from} to ${to}.${migration}`,
          yes: 'Roll back',
        }),
        {
          type: 'button',
          action_id: ACTION.cancel,
          text: { type: 'plain_text', text: r.requestedBy.kind === 'user' ? 'Cancel' : 'Dismiss' },
          value: r.id,
        },
      ],
    },
  ];
}

/** A button that asks "are you sure?" first: every decision that changes something has one. */
function confirmedButton(o: {
  actionId: string;
  style: 'primary' | 'danger';
  label: string;
  value: string;
  title: string;
  question: string;
  yes: string;
}) {
  return {
    type: 'button' as const,
    action_id: o.actionId,
    style: o.style,
    text: { type: 'plain_text' as const, text: o.label },
    value: o.value,
    confirm: {
      title: { type: 'plain_text' as const, text: o.title },
      text: { type: 'mrkdwn' as const, text: clip(o.question, 300) },
      confirm: { type: 'plain_text' as const, text: o.yes },
      deny: { type: 'plain_text' as const, text: 'Not yet' },
      style: 'danger' as const,
    },
  };
}

/** Replaces the buttons once someone decided (the rollback, or its migration downgrade). */
export function buildDecided(
  r: Rollback,
  decision: 'approve' | 'cancel' | 'approveMigration' | 'skipMigration',
): KnownBlock[] {
  const m = r.migrationApproval;
  if (decision === 'approveMigration' && m)
    return [context(`:white_check_mark: Migration downgrade approved by <@${m.by.id}> at ${utc(m.at)}`)];
  const skip = r.migrationSkipped;
  if (decision === 'skipMigration' && skip)
    return [
      context(
        `:fast_forward: Rolling back without the database downgrade: <@${skip.by.id}> checked the database (${utc(skip.at)})`,
      ),
    ];
  const d = r.decision;
  if (!d) return [];
  const verb = d.event === 'approve' ? ':white_check_mark: Approved' : ':no_entry_sign: Cancelled';
  return [context(`${verb} by <@${d.by.id}> at ${utc(d.at)}`)];
}

/**
 * The database gate, posted once the rollback is under way and nothing has changed yet: either the
 * downgrade's own approval, or, when the database state is unknown, what is unknown and why, with
 * the only two ways on a person may take.
 */
export function buildMigrationApproval(r: Rollback): KnownBlock[] {
  const gate = r.migrationGate;
  const revision = r.assessment?.target?.revision ?? '?';
  const cancel = {
    type: 'button' as const,
    action_id: ACTION.cancel,
    text: { type: 'plain_text' as const, text: 'Cancel rollback' },
    value: r.id,
  };
  if (gate?.kind === 'unknown') {
    const reasons = gate.reasons.map((x) => `• ${e(x)}`).join('\n');
    const text = `:warning: *The database state is unknown, so nothing was changed.* Revision ${revision} expects \`${e(gate.target ?? '?')}\`; the database is at \`${e(gate.current ?? 'unknown')}\`.\n${reasons}\nCheck the database yourself. Rolling back without the downgrade starts the old image against whatever schema the database has.`;
    return [
      section(clip(text, 2900)),
      {
        type: 'actions',
        block_id: BLOCK.decision,
        elements: [
          confirmedButton({
            actionId: ACTION.skipMigration,
            style: 'danger',
            label: 'Roll back without downgrade (I checked the database)',
            value: r.id,
            title: 'Skip the downgrade?',
            question: `Roll \`${r.service}\` back to revision ${revision} without migrating its database.`,
            yes: 'Roll back',
          }),
          cancel,
        ],
      },
    ];
  }
  const at = e(gate?.current ?? '?');
  const to = e(gate?.target ?? '?');
  const text = `:card_file_box: *The database must be migrated down first.* It is at \`${at}\`; revision ${revision} expects \`${to}\`. The downgrade runs with the current revision's image (only the newer image has the down-migration), then the Deployment is rolled back. Nothing has been changed yet.`;
  return [
    section(clip(text, 2900)),
    {
      type: 'actions',
      block_id: BLOCK.decision,
      elements: [
        confirmedButton({
          actionId: ACTION.approveMigration,
          style: 'primary',
          label: 'Approve database downgrade',
          value: r.id,
          title: 'Downgrade the database?',
          question: `Migrate \`${r.service}\`'s database from \`${at}\` down to \`${to}\`, then roll back.`,
          yes: 'Downgrade',
        }),
        cancel,
      ],
    },
  ];
}

/** The procedure's step 2 announcement (mrkdwn-safe: used as message text and in a section). */
export function startingText(r: Rollback): string {
  const reason = e(r.reason || r.assessment?.findings[0] || 'a failed release');
  const to = r.assessment?.target
    ? ` (revision ${r.assessment.target.revision}, ${e(r.assessment.target.images.join(', '))})`
    : '';
  return `Initiating rollback of ${r.service} to previous version${to} due to ${reason}. ETA: 5 minutes`;
}

/** The report's Approval lines as buttons, for the roles someone is configured to sign. */
export function buildSignOff(r: Rollback, roles: SignOffRole[]): KnownBlock[] {
  if (roles.length === 0) return [];
  const label = { release_manager: 'Release Manager', engineering_manager: 'Engineering Manager' } as const;
  const done = roles.flatMap((role) => {
    const so = r.signOffs?.find((x) => x.role === role);
    return so ? [`${label[role]}: signed off by <@${so.by.id}> at ${utc(so.at)}`] : [];
  });
  const open = roles.filter((role) => !r.signOffs?.some((x) => x.role === role));
  return [
    ...(done.length ? [{ ...context(done.join(' · ')), block_id: BLOCK.signOffDone } as KnownBlock] : []),
    ...(open.length
      ? [
          {
            type: 'actions',
            block_id: BLOCK.signOff,
            elements: open.map((role) => ({
              type: 'button',
              action_id:
                role === 'release_manager' ? ACTION.signOffReleaseManager : ACTION.signOffEngineeringManager,
              text: { type: 'plain_text', text: `Sign off as ${label[role]}` },
              value: r.id,
            })),
          } as KnownBlock,
        ]
      : []),
  ];
}

/** ✓ passed, ✗ failed, ? unknown (never a pass), – nothing configured to check. */
const MARK = { passed: '✓', failed: '✗', unknown: '?', not_configured: '–' } as const;

export function buildSummary(r: Rollback, signOffRoles: SignOffRole[] = []): KnownBlock[] {
  const v = r.verification;
  const lines = [
    r.state === 'completed'
      ? `:white_check_mark: *Rollback of \`${r.service}\` complete and verified.*`
      : `:x: *Rollback of \`${r.service}\` ${r.failure ? `failed in ${r.failure.step}` : 'did not pass verification'}.*`,
  ];
  if (r.failure) lines.push(e(r.failure.message));
  const blocks: KnownBlock[] = [section(lines.join('\n'))];
  if (v) {
    const rows = v.checks.map(
      (c) =>
        `${MARK[statusOf(c)]} ${clip(c.name, 34).padEnd(34)} ${clip(c.evidence.value, 40).padEnd(40)} (${clip(c.evidence.threshold, 40)})`,
    );
    blocks.push(section(`*Verification*\n${code(rows)}`));
    const followUps = v.followUps ?? [];
    if (followUps.length)
      blocks.push(
        section(
          `*Follow-up (dashboard review, not part of the verdict)*\n${followUps
            .map(
              (f) =>
                `${f.met ? '✓' : ':warning:'} ${e(f.name)}: ${e(f.evidence.value)} (bar ${e(f.evidence.threshold)})`,
            )
            .join('\n')}`,
        ),
      );
  }
  blocks.push(...buildGitOps(r));
  blocks.push(...buildSignOff(r, signOffRoles));
  blocks.push(...buildUndoOffer(r));
  blocks.push(
    context('The incident report is attached. Tick the post-rollback checks below as you do them.'),
  );
  return blocks;
}

/**
 * "Undo this rollback" on a completed one that changed the workload: a new rollback to the revision
 * it left, assessed and approved like any other (the button only asks for it).
 */
export function buildUndoOffer(r: Rollback): KnownBlock[] {
  const from = r.assessment?.from;
  if (r.state !== 'completed' || r.dryRun || r.undo?.outcome !== 'patched' || !from) return [];
  return [
    {
      type: 'actions',
      block_id: BLOCK.undo,
      elements: [
        confirmedButton({
          actionId: ACTION.undoRollback,
          style: 'danger',
          label: 'Undo this rollback',
          value: r.id,
          title: 'Undo this rollback?',
          question: `Ask to roll \`${r.service}\` forward again to revision ${from.revision} (${e(from.images.join(', '))}), the revision this rollback left. It is assessed and approved like any rollback; the request says what still fires.`,
          yes: 'Ask for it',
        }),
      ],
    },
  ];
}

/** A suspended GitOps owner: what to do in Git, and Resume sync for the approvers. */
export function buildGitOps(r: Rollback): KnownBlock[] {
  const g = r.gitops;
  if (!g?.suspendedAt) return [];
  const who = `${g.owner.tool} ${g.owner.kind} \`${e(g.owner.namespace)}/${e(g.owner.name)}\``;
  if (g.resumed)
    return [
      section(
        g.resumed.outcome === 'restored'
          ? `:arrow_forward: Sync of ${who} resumed by <@${g.resumed.by.id}>.`
          : `:warning: ${who} had been changed by someone else; Resume sync left it as it was.`,
      ),
    ];
  return [
    {
      type: 'section',
      block_id: BLOCK.gitops,
      text: {
        type: 'mrkdwn',
        text: `:double_vertical_bar: *${who} is suspended.* Git still holds the bad release: revert it in Git, then resume the sync.`,
      },
      accessory: confirmedButton({
        actionId: ACTION.resumeSync,
        style: 'primary',
        label: 'Resume sync',
        value: r.id,
        title: 'Resume sync?',
        question: `${who} will apply what Git holds now. If Git still has the bad release, it comes back.`,
        yes: 'Resume sync',
      }),
    } as KnownBlock,
  ];
}

/** Checkboxes whose block_id carries the rollback id, so a tick needs no lookup to find its rollback. */
export function buildChecklist(rollbackId: string, items: string[], ticked: Set<string>): KnownBlock[] {
  const options = items
    .slice(0, 10)
    .map((item, i) => ({ text: { type: 'mrkdwn' as const, text: clip(item, 75) }, value: `item-${i}` }));
  const initial = options.filter((o, i) => ticked.has(items[i] ?? '') && o);
  return [
    section('*Post-rollback checklist* (from the procedure)'),
    {
      type: 'actions',
      block_id: `${BLOCK.checklist}:${rollbackId}`,
      elements: [
        {
          type: 'checkboxes',
          action_id: ACTION.checklist,
          options,
          ...(initial.length ? { initial_options: initial } : {}),
        },
      ],
    },
  ];
}
