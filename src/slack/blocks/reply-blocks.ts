// Ephemeral and channel replies to commands: help, errors, status, history.

import type { CodedError } from '../../errors.js';
import type { Rollback } from '../../rollback/model.js';
import type { RevisionEntry } from '../../rollback/revisions.js';
import { HELP } from '../parse-command.js';
import { code, context, type KnownBlock, STATE_LABEL, section } from './text.js';

export const buildHelp = (): KnownBlock[] => [section(HELP)];

export function buildError(err: CodedError): KnownBlock[] {
  return [section(`:warning: ${err.message}${err.remedy ? `\n${err.remedy}` : ''}`)];
}

export function buildHistory(service: string, h: RevisionEntry[]): KnownBlock[] {
  if (!h.length) return [section(`No rollout history found for \`${service}\`.`)];
  const rows = h.map(
    (e) =>
      `${String(e.revision).padEnd(4)} ${(e.changeCause ?? '<none>').slice(0, 30).padEnd(30)} ${e.images.join(',')}${e.current ? '  ← current' : ''}`,
  );
  return [
    section(
      `*Rollout history of \`${service}\`*\n${code(['REV  CHANGE-CAUSE                   IMAGE', ...rows])}`,
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
            `${STATE_LABEL[r.state] ?? r.state} · \`${r.service}\` · requested by ${r.requestedBy.kind === 'user' ? `<@${r.requestedBy.id}>` : r.requestedBy.id} · ${r.requestedAt.slice(0, 16).replace('T', ' ')} UTC`,
        )
        .join('\n'),
    ),
    context('Most recent first.'),
  ];
}
