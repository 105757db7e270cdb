// `assessing`: the procedure's step 1. Gathers the assessment, then waits for a person, ends a dry
// run, goes straight on (policy auto), or fails when there is no revision to go to or a GitOps owner
// would revert the rollback and may not be suspended.
import { assess } from '../assess.js';
import type { Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import type { StepContext } from './context.js';
import { stopRequested } from './stop-requested.js';

export async function assessing(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback> {
  const { deps, move, system } = ctx;
  const svc = ctx.serviceOf(r);
  const assessment = await assess(
    {
      kube: deps.kube,
      observe: deps.observe,
      now: () => deps.clock.now(),
      sourceTimeoutMs: deps.sourceTimeoutMs ?? 10_000,
    },
    svc,
    r.toRevision,
  );
  const summary = assessment.findings.slice(0, 3).join('; ');
  const fail = (code: string, message: string) =>
    move(
      r,
      'fail',
      lease,
      system,
      { assessment, failure: { step: 'assessing', code, message, at: deps.clock.now().toISOString() } },
      { message },
    );
  if (!assessment.target)
    return fail(
      assessment.targetError?.code ?? 'rollback_no_history',
      assessment.targetError?.message || 'no revision to roll back to',
    );
  // Cancelled (or, automatic, paused) while it was assessed: it ends here, with what it found.
  const stopped = await stopRequested(ctx, { ...r, assessment }, lease);
  if (stopped) return stopped;
  if (r.dryRun) return move(r, 'dry_run_done', lease, system, { assessment }, { summary });
  // A GitOps owner that would undo the rollback, and that the bot may not (or must not) suspend:
  // nothing is changed, and the thread says what to do instead.
  if (assessment.gitops?.plan === 'refuse')
    return fail('rollback_gitops_refused', `not rolled back: ${assessment.gitops.reason}`);
  if (r.mode === 'auto') return move(r, 'auto_approved', lease, system, { assessment }, { summary });
  return move(r, 'assessed', lease, system, { assessment }, { summary }, [{ kind: 'assessed' }]);
}
