// What the procedure says to confirm before a migration rollback ("Critical: confirm the previous
// schema is still present and valid"), checked before the downgrade is offered and again right before
// it runs: the current (newer) image's migration history names the target's head as a revision (an
// image whose history was squashed past it cannot migrate down to it), and the schema check passes
// (exit 0, and its expectOutput if given). Both fail closed: a command that cannot run, times out or
// prints something else is a failed check, and the gate becomes unknown.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { commandText, excerptOutput, failureLine } from './command-output.js';
import type { DeploymentSnapshot, ReplicaSetSnapshot } from './kube-types.js';
import { historyRevisions } from './migration-heads.js';
import type { PreDowngradeCheck } from './model.js';
import type { RunDeps } from './run-in-current-revision.js';
import { outcomeOf, type PodCommandRun, type RunTarget, runPodCommand } from './run-pod-command.js';

/** A history read is a read like the head's: the same bound. */
const HISTORY_TIMEOUT_SECONDS = 60;

function said(run: PodCommandRun): string {
  const tail = failureLine(excerptOutput(run.stdout, run.stderr), 300);
  return `${outcomeOf(run)} in ${run.where}${tail && run.exitCode !== 0 ? `: ${tail}` : ''}`;
}

export async function checkBeforeDowngrade(
  deps: RunDeps,
  svc: CatalogEntry,
  target: RunTarget,
  workload: { d: DeploymentSnapshot; sets: ReplicaSetSnapshot[] },
  targetHead: string,
): Promise<PreDowngradeCheck[]> {
  const m = svc.migrations;
  if (!m) return [];
  // One name per read: a finished Job of an earlier read must never be taken for this one.
  const stamp = deps.clock.now().getTime().toString(36);
  const checks: PreDowngradeCheck[] = [];

  const history = await runPodCommand(deps, {
    svc,
    target,
    workload,
    purpose: `history-${stamp}`,
    spec: { command: m.historyCommand, container: m.container, timeoutSeconds: HISTORY_TIMEOUT_SECONDS },
  });
  const cmd = commandText(m.historyCommand);
  const revs = history.exitCode === 0 ? historyRevisions(history.stdout) : [];
  const listed = revs.includes(targetHead);
  checks.push({
    name: 'migration history',
    passed: listed,
    command: cmd,
    where: history.where,
    detail:
      history.exitCode !== 0
        ? `\`${cmd}\` ${said(history)}`
        : listed
          ? `\`${cmd}\` in ${history.where} lists ${targetHead} among ${revs.length} revision(s)`
          : `\`${cmd}\` in ${history.where} does not list the target's head ${targetHead} as a revision (it lists ${revs.slice(0, 8).join(', ') || 'none'}${revs.length > 8 ? ', …' : ''}): the current image cannot migrate down to it`,
    output: excerptOutput(history.stdout, history.stderr),
    at: deps.clock.now().toISOString(),
  });

  const sc = m.schemaCheck;
  if (sc) {
    const run = await runPodCommand(deps, {
      svc,
      target,
      workload,
      purpose: `schema-${stamp}`,
      spec: { ...sc, ...(sc.podSelector ? {} : { container: sc.container ?? m.container }) },
    });
    const c = commandText(sc.command);
    const matches = sc.expectOutput === undefined || new RegExp(sc.expectOutput).test(run.stdout);
    const passed = run.exitCode === 0 && matches;
    checks.push({
      name: 'schema check',
      passed,
      command: c,
      where: run.where,
      detail:
        run.exitCode !== 0
          ? `the schema check \`${c}\` ${said(run)}`
          : matches
            ? `the schema check \`${c}\` exited 0 in ${run.where}${sc.expectOutput ? ` and its output matches /${sc.expectOutput}/` : ''}`
            : `the schema check \`${c}\` exited 0 in ${run.where} but its output does not match /${sc.expectOutput}/`,
      output: excerptOutput(run.stdout, run.stderr),
      at: deps.clock.now().toISOString(),
    });
  }
  return checks;
}
