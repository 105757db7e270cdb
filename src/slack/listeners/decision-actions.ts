// Approve / Cancel clicks and checklist ticks. Authorization happens in the domain (approver rules);
// the listener resolves the clicker's user groups, makes one domain call and re-renders.
import type { BlockAction, ButtonAction, CheckboxesAction } from '@slack/bolt';
import type { Catalog } from '../../config/catalog-schema.js';
import { asCodedError, CodedError } from '../../errors.js';
import { POST_ROLLBACK_CHECKLIST } from '../../rollback/checklist.js';
import type { Logger } from '../../rollback/ports.js';
import type { Runner } from '../../rollback/runner.js';
import { signers } from '../../rollback/sign-off.js';
import { buildError, errorText } from '../blocks/reply-blocks.js';
import { buildDecided, buildGitOps, buildSignOff } from '../blocks/rollback-blocks.js';
import type { Directory } from '../directory.js';
import { ACTION, BLOCK } from '../ids.js';
import { ownMentions } from '../own-mentions.js';
import type { ActionRouter } from './action-router.js';
import { createActorOf, refuse, refuseClick, replaceBlock, updateClicked } from './clicks.js';

export interface ActionDeps {
  runner: Runner;
  catalog: Catalog;
  directory: Directory;
  logger: Logger;
}

export function registerDecisionActions(actions: ActionRouter, deps: ActionDeps): void {
  const actorOf = createActorOf(deps.catalog, deps.directory);

  const decide = {
    approve: deps.runner.approve,
    cancel: deps.runner.cancel,
    approveMigration: deps.runner.approveMigration,
    skipMigration: deps.runner.skipMigration,
  };
  const said = {
    approve: 'Approved',
    cancel: 'Cancelled',
    approveMigration: 'Database downgrade approved',
    skipMigration: 'Rolling back without the database downgrade',
  };
  for (const decision of ['approve', 'cancel', 'approveMigration', 'skipMigration'] as const) {
    actions.action<BlockAction<ButtonAction>>(
      ACTION[decision],
      async ({ ack, body, action, client, respond }) => {
        await ack();
        try {
          const r = await decide[decision](action.value ?? '', await actorOf(body));
          if (decision === 'cancel' && r.state !== 'cancelled') {
            // A step is working on it: the cancel is honoured before the patch, and the root shows it.
            await respond({
              response_type: 'ephemeral',
              replace_original: false,
              text: `Cancel requested: the rollback of ${r.service} stops before its patch is sent.`,
            });
            return;
          }
          await updateClicked(
            client,
            body,
            `${said[decision]} by <@${body.user.id}>`,
            replaceBlock(BLOCK.decision, buildDecided(r, decision)),
          );
        } catch (err) {
          await refuseClick(deps, respond, body, err, 'decision');
        }
      },
    );
  }

  // Resume sync on the report: approvers only (the domain checks and audits); the button's section is
  // replaced by who resumed it.
  actions.action<BlockAction<ButtonAction>>(
    ACTION.resumeSync,
    async ({ ack, body, action, client, respond }) => {
      await ack();
      try {
        const r = await deps.runner.resumeSync(action.value ?? '', await actorOf(body));
        await updateClicked(
          client,
          body,
          `Sync resumed by <@${body.user.id}>`,
          replaceBlock(BLOCK.gitops, buildGitOps(r)),
        );
      } catch (err) {
        await refuseClick(deps, respond, body, err, 'resume sync');
      }
    },
  );

  // Sign off on the report: the configured people for each role (the domain checks and audits); the
  // buttons are replaced by who signed.
  for (const [actionId, role] of [
    [ACTION.signOffReleaseManager, 'release_manager'],
    [ACTION.signOffEngineeringManager, 'engineering_manager'],
  ] as const) {
    actions.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action, client, respond }) => {
      await ack();
      try {
        const r = await deps.runner.signOff(action.value ?? '', role, await actorOf(body));
        const svc = deps.catalog.services.get(r.service);
        const roles = svc
          ? (['release_manager', 'engineering_manager'] as const).filter((x) => signers(svc, x).length > 0)
          : [];
        // The sign-off line and buttons are rebuilt where they were; everything else stays.
        const ours = new Set<string>([BLOCK.signOff, BLOCK.signOffDone]);
        await updateClicked(client, body, `Signed off by <@${body.user.id}>`, (blocks) => {
          const first = blocks.findIndex((b) => ours.has(b.block_id ?? ''));
          return blocks.flatMap((b, i) =>
            i === first ? buildSignOff(r, [...roles]) : ours.has(b.block_id ?? '') ? [] : [b],
          );
        });
      } catch (err) {
        await refuseClick(deps, respond, body, err, 'sign-off');
      }
    });
  }

  // Any other action id (an old message, a forged payload): acknowledged, refused, nothing done.
  actions.otherwise(async ({ ack, respond, body }) => {
    await ack();
    deps.logger.warn('unknown action refused', { user: body.user.id });
    await refuse(
      respond,
      'unknown action',
      [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: ':warning: This button is not one rollback-bot knows; nothing was done.',
          },
        },
      ],
      deps.logger,
    );
  });

  // Ticks: only the service's approvers and the requester (see rollback/checklist-access.ts); each
  // recorded tick carries its actor, a refused one is audited in the rollback's trail and told to the person.
  actions.action<BlockAction<CheckboxesAction>>(ACTION.checklist, async ({ ack, body, action, respond }) => {
    await ack();
    const id = action.block_id.slice(BLOCK.checklist.length + 1);
    // Option values are `item-<index>` into the procedure's checklist.
    const selected = action.selected_options
      .map((o) => POST_ROLLBACK_CHECKLIST[Number((o.value ?? '').slice(5))] ?? '')
      .filter(Boolean);
    let keep = ownMentions(deps.catalog, body.user.id);
    try {
      const r = await deps.runner.get(id);
      if (!r)
        throw new CodedError('rollback_not_found', 'this checklist belongs to no rollback the bot knows');
      if (r.requestedBy.kind === 'user') keep = ownMentions(deps.catalog, body.user.id, r.requestedBy.id);
      // The domain checks who may tick and audits a refused tick in the rollback's trail.
      await deps.runner.recordChecklist(id, await actorOf(body), selected);
    } catch (err) {
      const e = asCodedError(err);
      if (e.code === 'internal')
        deps.logger.error('checklist tick failed', { rollback: id, error: e.message });
      await refuse(respond, errorText(e, keep), buildError(e, keep), deps.logger);
    }
  });
}
