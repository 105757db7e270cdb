// Ephemeral and channel replies to commands: help, errors, status, history.

import type { CodedError } from '../../errors.js';
import { defuseMrkdwn, escapeMrkdwn } from '../../escape-mrkdwn.js';
import type { Rollback } from '../../rollback/model.js';
import type { RevisionEntry } from '../../rollback/revisions.js';
import { helpText } from '../parse-command.js';
import { code, context, type KnownBlock, STATE_LABEL, section } from './text.js';

export const buildHelp = (pauseLasts: string): KnownBlock[] => [section(helpText(pauseLasts))];

/**
 * An error's words for the message's `text` (notifications). Error messages are the bot's own
 * sentences, some naming approvers, but some carry text from Kubernetes or a person: everything live
 * is defused except the exact mentions in `keep` (see ownMentions).
 */
export const errorText = (err: CodedError, keep?: ReadonlySet<string>): string =>
  defuseMrkdwn(err.message, keep);

export function buildError(err: CodedError, keep?: ReadonlySet<string>): KnownBlock[] {
  return [section(defuseMrkdwn(`:warning: ${err.message}${err.remedy ? `\n${err.remedy}` : ''}`, keep))];
}

/**
 * A rollback already holds the workload: the refusal, with a link to that rollback's thread when
 * Slack gave one (an https permalink; anything else is left out rather than made a link).
 */
export function buildInProgress(
  err: CodedError,
  permalink: string | undefined,
  keep?: ReadonlySet<string>,
): KnownBlock[] {
  const link = permalink && /^https:\/\/[^\s|<>]+$/.test(permalink) ? permalink : undefined;
  return [...buildError(err, keep), ...(link ? [section(`:thread: <${link}|Open its thread>`)] : [])];
}

export function buildHistory(service: string, h: RevisionEntry[]): KnownBlock[] {
  if (!h.length) return [section(`No rollout history found for \`${escapeMrkdwn(service)}\`.`)];
  const rows = h.map(
    (e) =>
      `${String(e.revision).padEnd(4)} ${(e.changeCause ?? '<none>').slice(0, 30).padEnd(30)} ${e.images.join(',')}${e.current ? '  ← current' : ''}`,
  );
  return [
    section(
      `*Rollout history of \`${escapeMrkdwn(service)}\`*\n${code(['REV  CHANGE-CAUSE                   IMAGE', ...rows])}`,
    ),
  ];
}

export function buildStatus(rows: Rollback[]): KnownBlock[] {
  if (!rows.length) return [section('No rollbacks recorded.')];
  return [
    section(
      rows
        .slice(0, 15)
        .map(
          (r) =>
            `${STATE_LABEL[r.state] ?? r.state} · \`${r.service}\` · requested by ${r.requestedBy.kind === 'user' ? `<@${r.requestedBy.id}>` : escapeMrkdwn(r.requestedBy.id)} · ${r.requestedAt.slice(0, 16).replace('T', ' ')} UTC`,
        )
        .join('\n'),
    ),
    context('Most recent first.'),
  ];
}
