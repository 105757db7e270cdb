import { CodedError } from '../errors.js';

export interface CliArgs {
  command: 'assess' | 'history' | 'undo' | 'status' | 'unlock' | 'help';
  service: string | undefined;
  toRevision: number;
  dryRun: boolean;
  /** Who unlocks (for the audit trail); the OS user when not given. */
  by?: string;
}

export const USAGE = `usage: rollback-bot <command> [options]
  assess  <service> [--to-revision=N]   what is wrong, and which revision an undo would restore
  history <service>                     rollout history, like kubectl rollout history
  undo    <service> --dry-run [--to-revision=N]
                                        the exact change an undo would make, checked by the apiserver
                                        (server-side dry run); real rollbacks go through Slack
  status  [service]                     recent rollbacks and where each one is (needs REDIS_URL)
  unlock  <service> [--by=NAME]         free a workload lock whose rollback record is gone or ended
                                        (audited in rb:audit; needs REDIS_URL)`;

/** Parses a revision the way a person types it; anything but a whole number ≥ 0 is refused. */
export function parseRevision(text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new CodedError('rollback_bad_revision', `"${text}" is not a revision number`, {
      remedy: 'Use a whole number from the rollout history, e.g. --to-revision=8.',
    });
  }
  return Number(text.trim());
}

export function parseArgs(argv: string[]): CliArgs {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    return { command: 'help', service: undefined, toRevision: 0, dryRun: false };
  }
  if (!['assess', 'history', 'undo', 'status', 'unlock'].includes(command)) {
    throw new CodedError('config_invalid', `unknown command "${command}"`, { remedy: `\n${USAGE}` });
  }
  let service: string | undefined;
  let toRevision = 0;
  let dryRun = false;
  let by: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] ?? '';
    if (a === '--dry-run') dryRun = true;
    else if (a.startsWith('--by=') && a.length > 5) by = a.slice(5);
    else if (a.startsWith('--to-revision=')) toRevision = parseRevision(a.slice('--to-revision='.length));
    else if (a === '--to-revision') toRevision = parseRevision(rest[++i] ?? '');
    else if (a.startsWith('-'))
      throw new CodedError('config_invalid', `unknown option "${a}"`, { remedy: `\n${USAGE}` });
    else if (!service) service = a;
    else throw new CodedError('config_invalid', `unexpected argument "${a}"`, { remedy: `\n${USAGE}` });
  }
  if (!service && command !== 'status') {
    throw new CodedError('config_invalid', `${command} needs a service name`, {
      remedy: `e.g. rollback-bot ${command} release-manager`,
    });
  }
  if (command === 'undo' && !dryRun) {
    throw new CodedError('config_invalid', 'the CLI only previews an undo (--dry-run)', {
      remedy: 'Run the rollback with /rollback in Slack, where it is approved, announced and recorded.',
    });
  }
  return { command: command as CliArgs['command'], service, toRevision, dryRun, ...(by ? { by } : {}) };
}
