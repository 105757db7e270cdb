// `/rollback …` text → what the person asked for. Pure; errors say how to fix the command.
import { CodedError } from '../errors.js';
import { escapeMrkdwn } from '../escape-mrkdwn.js';

export type Command =
  | { kind: 'help' }
  | { kind: 'status'; service: string | undefined }
  | { kind: 'history'; service: string }
  | { kind: 'cancel'; service: string }
  | { kind: 'pause' | 'resume'; service: string }
  | { kind: 'rollback'; service: string; toRevision: number; dryRun: boolean; reason: string };

/** What `/rollback help` says; `lasts` is how long a pause holds ("4 h"). */
export const helpText = (lasts: string) =>
  [
    '`/rollback <service> [--to-revision=N] [--dry-run] [reason…]` — assess and propose a rollback (approvers approve it)',
    '`/rollback` — the same, as a form: service, revision, reason, dry run',
    '`/rollback status [service]` — rollbacks in progress and recent ones',
    '`/rollback history <service>` — rollout history, like `kubectl rollout history`',
    '`/rollback cancel <service>` — cancel the rollback waiting for a decision (its approvers and requester)',
    `\`/rollback pause <service>\` — no automatic rollbacks of it for ${lasts}: signals propose instead (approvers)`,
    '`/rollback resume <service>` — lift that pause early (approvers)',
    '`/rollback help` — this text',
  ].join('\n');

// Dashes phones and Mac keyboards substitute for `--`: em dash, en dash, minus sign, figure dash,
// hyphen, non-breaking hyphen, small and full-width hyphen-minus. Any run of them (mixed with `-`)
// before a flag name is read as `--`, so `—dry-run`, `–dry-run` and `−−to-revision=3` are flags.
const DASHES = '\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d';
const SUBSTITUTED_FLAG = new RegExp(`^[-${DASHES}]*[${DASHES}][-${DASHES}]*(?=\\p{L})`, 'u');
const DASH_IN_NAME = new RegExp(`[${DASHES}]`, 'gu');

/** `—to–revision=3` → `--to-revision=3`; words that are not flag-like are left as typed. */
export function normaliseFlag(word: string): string {
  const m = SUBSTITUTED_FLAG.exec(word);
  if (!m) return word;
  const rest = word.slice(m[0].length);
  const eq = rest.indexOf('=');
  const name = (eq < 0 ? rest : rest.slice(0, eq)).replace(DASH_IN_NAME, '-');
  return `--${name}${eq < 0 ? '' : rest.slice(eq)}`;
}

function bad(message: string, remedy: string): CodedError {
  return new CodedError('rollback_bad_revision', message, { remedy });
}

/** `/rollback help`: answered in the ack (cheaper than parsing the whole command). */
export function isHelp(text: string): boolean {
  const t = text.trim();
  return t === 'help' || /^help\s/.test(t);
}

export function parseCommand(text: string): Command {
  const words = text.trim().split(/\s+/).filter(Boolean).map(normaliseFlag);
  const [first, ...rest] = words;
  if (!first || first === 'help') return { kind: 'help' };
  if (first === 'status') return { kind: 'status', service: rest[0] };
  if (first === 'history') {
    if (!rest[0])
      throw new CodedError('rollback_unknown_service', 'history needs a service', {
        remedy: 'Try `/rollback history release-manager`.',
      });
    return { kind: 'history', service: rest[0] };
  }
  if (first === 'cancel' || first === 'pause' || first === 'resume') {
    if (!rest[0])
      throw new CodedError('rollback_unknown_service', `${first} needs a service`, {
        remedy: `Try \`/rollback ${first} release-manager\`.`,
      });
    return { kind: first, service: rest[0] };
  }
  if (first.startsWith('-'))
    throw new CodedError('rollback_unknown_service', 'the service comes first', {
      remedy: 'Try `/rollback release-manager --dry-run`.',
    });
  let toRevision = 0;
  let dryRun = false;
  const reason: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i] ?? '';
    if (w === '--dry-run') dryRun = true;
    else if (w.startsWith('--to-revision')) {
      const value = w.includes('=') ? w.slice(w.indexOf('=') + 1) : rest[++i];
      if (!value || !/^\d+$/.test(value)) {
        throw bad(
          `"${escapeMrkdwn(value ?? '')}" is not a revision number`,
          'Use a whole number from `/rollback history <service>`, e.g. `--to-revision=8`.',
        );
      }
      toRevision = Number(value);
    } else if (w.startsWith('--')) {
      throw new CodedError('rollback_bad_revision', `unknown flag \`${escapeMrkdwn(w)}\``, {
        remedy: 'Flags are `--to-revision=N` and `--dry-run`; see `/rollback help`.',
      });
    } else reason.push(w);
  }
  return { kind: 'rollback', service: first, toRevision, dryRun, reason: reason.join(' ') };
}
