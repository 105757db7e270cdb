// `/rollback …` text → what the person asked for. Pure; errors say how to fix the command.
import { CodedError } from '../errors.js';
import { escapeMrkdwn } from '../escape-mrkdwn.js';

export type Command =
  | { kind: 'help' }
  | { kind: 'status'; service: string | undefined }
  | { kind: 'history'; service: string }
  | { kind: 'rollback'; service: string; toRevision: number; dryRun: boolean; reason: string };

export const HELP = [
  '`/rollback <service> [--to-revision=N] [--dry-run] [reason…]` — assess and propose a rollback (approvers approve it)',
  '`/rollback status [service]` — rollbacks in progress and recent ones',
  '`/rollback history <service>` — rollout history, like `kubectl rollout history`',
  '`/rollback help` — this text',
].join('\n');

function bad(message: string, remedy: string): CodedError {
  return new CodedError('rollback_bad_revision', message, { remedy });
}

export function parseCommand(text: string): Command {
  const words = text.trim().split(/\s+/).filter(Boolean);
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
