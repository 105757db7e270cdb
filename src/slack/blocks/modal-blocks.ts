// The /rollback modal (typed with no service): which service, which revision, why, and whether to
// only assess. Pure builders; the listener opens it within the trigger's 3 s and validates the
// submission, answering field errors the Slack way (response_action: errors, by block_id).
//
// Only the services whose rollbacks run in this channel are offered: a rollback's thread belongs in
// its catalog channel, so offering others would only lead to a refusal. The revisions are the live
// history of the chosen service (the first when the modal opens; picking another replaces the view
// with its history); kubectl's default target (the previous revision) is the preselected first
// option, and the current revision is not offered. The revision select's action_id names whose
// history it lists: Slack then drops a revision picked for another service when the view is
// replaced, and the submission can tell a list that did not follow the service.
import type { types } from '@slack/bolt';
import type { RevisionEntry } from '../../rollback/revisions.js';
import { clip } from './text.js';

type View = types.ModalView;
type Option = types.PlainTextOption;

export const MODAL = {
  callback: 'rollback_modal',
  service: 'rollback_modal_service',
  revision: 'rollback_modal_revision',
  reason: 'rollback_modal_reason',
  dryRun: 'rollback_modal_dry_run',
} as const;

/** What the modal carries to its submission: where the command was typed (the thread goes there). */
export interface ModalMetadata {
  channel: string;
}

/** The revision select's action_id, which says whose history it lists. */
export const revisionActionOf = (service: string) => `${MODAL.revision}:${service}`;

/** The revision's value for kubectl's default target ("0": the previous revision, as the command). */
export const DEFAULT_REVISION = '0';

const plain = (text: string, max = 75) => ({ type: 'plain_text' as const, text: clip(text, max) });

function revisionOptions(history: RevisionEntry[]): { options: Option[]; initial: Option } {
  const older = history.filter((e) => !e.current).sort((a, b) => b.revision - a.revision);
  // kubectl's default: the highest revision that is not the current one.
  const target = older[0];
  const initial: Option = {
    text: plain(
      target
        ? `Default: revision ${target.revision} (previous) · ${target.images.join(', ')}`
        : 'Default: the previous revision',
    ),
    value: DEFAULT_REVISION,
  };
  // Slack allows 100 options; the default takes one.
  const rest = older.slice(0, 99).map((e) => ({
    text: plain(`Revision ${e.revision}${e === target ? ' (default target)' : ''} · ${e.images.join(', ')}`),
    value: String(e.revision),
  }));
  return { options: [initial, ...rest], initial };
}

export function buildRollbackModal(o: {
  services: string[];
  /** The service chosen (default: the first). */
  selected?: string;
  /** The live history of the chosen service; a string says why it could not be read. */
  history: RevisionEntry[] | string;
  metadata: ModalMetadata;
}): View {
  const first = o.selected ?? o.services[0];
  const serviceOptions = o.services.slice(0, 100).map((s) => ({ text: plain(s), value: s }));
  const revisions = typeof o.history === 'string' ? undefined : revisionOptions(o.history);
  const blocks: types.KnownBlock[] = [
    {
      type: 'input',
      block_id: MODAL.service,
      // Picking a service tells the bot at once, which replaces the revisions with its history.
      dispatch_action: true,
      label: plain('Service'),
      element: {
        type: 'static_select',
        action_id: MODAL.service,
        options: serviceOptions,
        ...(first ? { initial_option: { text: plain(first), value: first } } : {}),
      },
    },
    revisions
      ? {
          type: 'input',
          block_id: MODAL.revision,
          label: plain('Revision'),
          hint: plain(`From the live rollout history of ${first ?? 'the service'}.`, 150),
          element: {
            type: 'static_select',
            action_id: revisionActionOf(first ?? ''),
            options: revisions.options,
            initial_option: revisions.initial,
          },
        }
      : {
          type: 'section',
          block_id: MODAL.revision,
          text: {
            type: 'mrkdwn',
            text: clip(
              `*Revision:* the previous one (kubectl's default). The history could not be read: ${o.history as string}`,
              3000,
            ),
          },
        },
    {
      type: 'input',
      block_id: MODAL.reason,
      label: plain('Reason'),
      optional: true,
      hint: plain('Shown in the thread and the incident report.', 150),
      element: { type: 'plain_text_input', action_id: MODAL.reason, multiline: true, max_length: 500 },
    },
    {
      type: 'input',
      block_id: MODAL.dryRun,
      label: plain('Dry run'),
      optional: true,
      element: {
        type: 'checkboxes',
        action_id: MODAL.dryRun,
        options: [{ text: plain('Only assess: change nothing'), value: 'dry_run' }],
      },
    },
  ];
  return {
    type: 'modal',
    callback_id: MODAL.callback,
    title: plain('Roll back', 24),
    submit: plain('Assess', 24),
    close: plain('Cancel', 24),
    private_metadata: JSON.stringify(o.metadata),
    blocks,
  };
}

/** The modal when no service's rollbacks run in this channel: says where they do, submits nothing. */
export function buildNoServiceModal(channelsOfServices: string[]): View {
  const where = channelsOfServices.length
    ? ` They run in ${[...new Set(channelsOfServices)].join(', ')}.`
    : '';
  return {
    type: 'modal',
    callback_id: MODAL.callback,
    title: plain('Roll back', 24),
    close: plain('Close', 24),
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: clip(`No catalogued service's rollbacks run in this channel.${where}`, 3000),
        },
      },
    ],
  };
}

/** What a submission asks for, read from state.values (the listener validates it against the catalog). */
export interface ModalRequest {
  service: string | undefined;
  /** 0 = kubectl's default. */
  toRevision: number;
  /** Whose history the revision was picked from (undefined: no revision list; '': not said). */
  revisionsOf: string | undefined;
  reason: string;
  dryRun: boolean;
}

type StateValues = Record<
  string,
  Record<
    string,
    {
      selected_option?: { value?: string } | null;
      value?: string | null;
      selected_options?: { value?: string }[];
    }
  >
>;

export function readModal(values: StateValues): ModalRequest {
  // Each input's one element has its block's id as action_id (state.values: block, then action).
  const field = (block: string) => values[block]?.[block];
  // The revision's action_id names the service whose history it lists (revisionActionOf).
  const [revisionAction, picked] = Object.entries(values[MODAL.revision] ?? {})[0] ?? [];
  const revision = picked?.selected_option?.value ?? DEFAULT_REVISION;
  return {
    service: field(MODAL.service)?.selected_option?.value ?? undefined,
    toRevision: Number(revision),
    // '' for a revision select that names no service (a form from an older version of the bot).
    revisionsOf:
      revisionAction === undefined
        ? undefined
        : revisionAction.startsWith(`${MODAL.revision}:`)
          ? revisionAction.slice(`${MODAL.revision}:`.length)
          : '',
    reason: (field(MODAL.reason)?.value ?? '').trim(),
    dryRun: (field(MODAL.dryRun)?.selected_options ?? []).some((o) => o.value === 'dry_run'),
  };
}
