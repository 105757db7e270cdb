// Block Kit for the data cleanup: the offer (the commands listed first, then Run cleanup behind a
// confirm dialog), posted after a verified rollback of a service with cleanup commands, and what
// replaces it once an approver clicked. Pure functions of the record and its catalog entry. Catalog
// argv is shown escaped (a backtick in an SQL string must not end the code span); the button's value
// carries the commands' fingerprint, so a click runs what the person saw or nothing.
import type { CatalogEntry } from '../../config/catalog-schema.js';
import { escapeMrkdwn as e } from '../../escape-mrkdwn.js';
import { commandText } from '../../rollback/command-output.js';
import { cleanupFingerprint, cleanupRefusal } from '../../rollback/data-cleanup.js';
import type { Rollback } from '../../rollback/model.js';
import { describePlace } from '../../rollback/run-pod-command.js';
import { ACTION, BLOCK } from '../ids.js';
import { clip, context, type KnownBlock, section, utc } from './text.js';

/** The button's value: the rollback and the fingerprint of the commands listed above it. */
export function cleanupButtonValue(r: Rollback, svc: CatalogEntry): string {
  return `${r.id}|${cleanupFingerprint(svc.cleanup?.commands ?? [])}`;
}

/** Splits a button value back into the rollback id and the fingerprint (absent in a bare id). */
export function parseCleanupButtonValue(value: string): { id: string; shown?: string } {
  const i = value.lastIndexOf('|');
  return i < 0 ? { id: value } : { id: value.slice(0, i), shown: value.slice(i + 1) };
}

/**
 * The offer, for the thread once the rollback has ended: nothing unless it completed verified, the
 * service has cleanup commands and nobody ran them yet (then {@link buildCleanupStatus}).
 */
export function buildCleanupOffer(r: Rollback, svc: CatalogEntry | undefined): KnownBlock[] {
  if (r.cleanup) return buildCleanupStatus(r);
  if (!svc || cleanupRefusal(r, svc)) return [];
  const commands = svc.cleanup?.commands ?? [];
  const downgraded = r.migration?.finished
    ? `The database was migrated down to \`${e(r.migration.finished.head ?? '?')}\`.`
    : 'No database downgrade ran in this rollback.';
  const rows = commands.map(
    (c, i) => `${i + 1}. *${e(c.name)}*: \`${e(commandText(c.command))}\` in ${e(describePlace(c))}`,
  );
  const names = commands.map((c) => c.name).join(', ');
  return [
    section(
      clip(
        `:broom: *Data cleanup* (the procedure's "Data Cleanup After Rollback"). ${downgraded} These commands run in order, stopping at the first failure, only when an approver clicks Run cleanup:\n${rows.join('\n')}`,
        2900,
      ),
    ),
    {
      type: 'actions',
      block_id: BLOCK.cleanup,
      elements: [
        {
          type: 'button',
          action_id: ACTION.runCleanup,
          style: 'danger',
          text: { type: 'plain_text', text: 'Run cleanup' },
          value: cleanupButtonValue(r, svc),
          confirm: {
            title: { type: 'plain_text', text: 'Run the data cleanup?' },
            text: {
              type: 'mrkdwn',
              text: clip(
                `Run ${commands.length} command(s) on \`${r.service}\`'s database: ${e(names)}. They change data and cannot be undone; they run once.`,
                300,
              ),
            },
            confirm: { type: 'plain_text', text: 'Run cleanup' },
            deny: { type: 'plain_text', text: 'Not yet' },
            style: 'danger',
          },
        },
      ],
    } as KnownBlock,
    context('Approvers only. The results are posted here and go into the audit trail and the report.'),
  ];
}

/** What replaces the offer once someone ran it: who, when, and how far it got. */
export function buildCleanupStatus(r: Rollback): KnownBlock[] {
  const c = r.cleanup;
  if (!c) return [];
  const ran = `${c.results.length} of ${c.commands.length}`;
  const state = c.finished
    ? c.finished.outcome === 'passed'
      ? `finished at ${utc(c.finished.at)}: all ${c.commands.length} passed`
      : `stopped at its first failure at ${utc(c.finished.at)} (${ran} ran)`
    : `running (${ran} done)`;
  return [
    context(
      `:broom: Data cleanup started by <@${c.by.id}> at ${utc(c.at)}, ${state}. Results in the thread.`,
    ),
  ];
}
