// The procedure's post-rollback "Data Integrity Checks" (verify-data-integrity, orphaned records,
// audit-log consistency), run at the end of verification, one after the other (they read the same
// database). Each is a verification check: it must exit 0, and a failed one fails verification, so the
// rollback ends `failed` (P1, re-paged when automatic). The procedure runs them "after a successful
// rollback"; a rollback whose data is not consistent is not one. They run whatever the earlier checks
// said: a person deciding what to do next needs to know about the data too. Each one's output goes
// into the audit trail (redacted, bounded); the record keeps a shorter excerpt.
import { commandText, excerptOutput, failureLine, lastLine } from './command-output.js';
import type { CheckResult, Rollback } from './model.js';
import { runTargetOf } from './read-migration-gate.js';
import { outcomeOf, runPodCommand } from './run-pod-command.js';
import type { StepContext } from './steps/context.js';

/** Integrity checks are named so in the verification table, the report and the thread. */
export const INTEGRITY_PREFIX = 'data integrity: ';

/** Characters of each check's output kept on the record (the audit trail keeps more). */
const RECORD_OUTPUT_CHARS = 600;

export async function integrityChecks(ctx: StepContext, r: Rollback): Promise<CheckResult[]> {
  const { deps } = ctx;
  const svc = ctx.serviceOf(r);
  const out: CheckResult[] = [];
  for (const [i, check] of svc.integrityChecks.entries()) {
    const run = await runPodCommand(deps, {
      svc,
      target: runTargetOf(r),
      spec: check,
      // Stable per rollback: a verification resumed after a crash awaits the Job it had started.
      purpose: `integrity-${i}`,
    });
    const passed = run.exitCode === 0;
    const command = commandText(run.argv);
    const printed = excerptOutput(run.stdout, run.stderr);
    const said = passed ? lastLine(printed, 120) : failureLine(printed, 120);
    out.push({
      name: `${INTEGRITY_PREFIX}${check.name}`,
      passed,
      // A command that could not run says nothing about the data: unknown, never a pass.
      status: passed ? 'passed' : run.exitCode === undefined ? 'unknown' : 'failed',
      evidence: {
        source: `${command} in ${run.where}`,
        value: `${outcomeOf(run)}${said ? `: ${said}` : ''}`,
        threshold: 'exit 0',
      },
      detail: excerptOutput(run.stdout, run.stderr, RECORD_OUTPUT_CHARS),
    });
    // The audit trail keeps what it printed; appending never moves the record, so it needs no commit.
    await deps.store.append({
      id: r.id,
      type: 'progress',
      from: r.state,
      to: r.state,
      actor: ctx.system,
      at: deps.clock.now().toISOString(),
      data: {
        kind: 'integrity_check',
        milestone: `data integrity check "${check.name}" (\`${command}\` in ${run.where}) ${passed ? 'passed' : 'FAILED'}: ${outcomeOf(run)} after ${(run.ms / 1000).toFixed(1)} s`,
        name: check.name,
        command,
        where: run.where,
        passed,
        ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
        output: excerptOutput(run.stdout, run.stderr),
      },
    });
  }
  return out;
}
