// `migrating`: the approved database downgrade, with the current (newer) image, before the undo.
// Started at most once per rollback: where it was started is saved before it runs, and a resumed
// rollback awaits that Job, or, for an exec whose process died with us, re-reads the head and asks a
// person unless the database is already at the target. Every outcome other than "the database is at
// the target head now" goes back to a person with what is known (fail closed). Right before it starts,
// the checks before a downgrade (history, schema) run again; a failed one goes back to a person too.
import { asCodedError, CodedError } from '../../errors.js';
import { excerptOutput } from '../command-output.js';
import { kindOf, type MigrationGate, type PreDowngradeCheck, type Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import { checkBeforeDowngrade } from '../pre-downgrade-checks.js';
import { readDatabaseHead, runTargetOf } from '../read-migration-gate.js';
import { removeJob, runThere, type Where, whereToRun } from '../run-in-current-revision.js';
import { assertWorkloadUnchanged } from '../workload-change.js';
import type { StepContext } from './context.js';

const PURPOSE = 'downgrade';

export async function migrating(ctx: StepContext, given: Rollback, lease: Lease): Promise<Rollback> {
  let r = given;
  const { deps } = ctx;
  const { kube, clock } = deps;
  const svc = ctx.serviceOf(r);
  const m = svc.migrations;
  const gate = r.migrationGate;
  const assessed = r.assessment?.deployment;
  if (!m || gate?.kind !== 'downgrade' || !assessed?.ok)
    throw new CodedError('internal', 'migration step without an approved downgrade');
  const d = await kube.readWorkload(kindOf(r), r.namespace, r.deployment);
  const sets = await kube.listRevisions(d);
  assertWorkloadUnchanged(assessed.value, d, `${r.namespace}/${r.deployment}`, 'database downgrade');
  const ask = (reasons: string[], current?: string, checks?: PreDowngradeCheck[]): Promise<Rollback> => {
    const unknown: MigrationGate = {
      kind: 'unknown',
      reasons,
      target: gate.target,
      ...(current ? { current } : {}),
      ...(checks ? { checks } : {}),
    };
    return ctx.move(
      r,
      'migration_unknown',
      lease,
      ctx.system,
      { migrationGate: unknown },
      { gate: unknown },
      [{ kind: 'migrationApprovalNeeded' }],
    );
  };

  let where: Where;
  const resuming = r.migration?.started !== undefined;
  if (r.migration?.started) {
    const s = r.migration.started;
    // A Job still there is awaited, never re-created; an exec, or a Job that is gone, cannot be
    // awaited: the database says whether it happened.
    const job = s.via === 'job' && s.job ? await kube.readJob(r.namespace, s.job) : undefined;
    if (!job) {
      const now = await readDatabaseHead(deps, svc, d, sets, r);
      if ('head' in now && now.head === gate.target) return finish(now.head, 0);
      const place = s.via === 'exec' ? `in pod ${s.pod}` : `as Job ${s.job} (now gone)`;
      return ask(
        [
          `a downgrade started at ${s.at} ${place} by ${s.by} did not report back (that process stopped); it may still be running`,
          'head' in now ? `the database is at ${now.head}` : `the database head is unknown: ${now.problem}`,
        ],
        'head' in now ? now.head : undefined,
      );
    }
    where = { via: 'job', job: job.name, container: m.container ?? svc.container, revisionHash: '' };
  } else {
    // The gate's checks may be an hour old (the approval waited): confirmed again right before.
    const checks = await checkBeforeDowngrade(deps, svc, runTargetOf(r), { d, sets }, gate.target);
    const failed = checks.filter((c) => !c.passed);
    if (failed.length)
      return ask(
        failed.map((c) => `right before the downgrade ${gate.current} → ${gate.target}: ${c.detail}`),
        gate.current,
        checks,
      );
    where = await whereToRun(kube, svc, d, sets, r.id, PURPOSE);
    const started = {
      at: clock.now().toISOString(),
      by: deps.owner,
      via: where.via,
      ...(where.via === 'exec' ? { pod: where.pod } : { job: where.job }),
    };
    r = await ctx.save(
      r,
      lease,
      { migration: { started }, migrationGate: { ...gate, checks } },
      {
        milestone: `database downgrade ${gate.current} → ${gate.target} started in ${where.via === 'exec' ? `pod ${where.pod}` : `Job ${where.job}`} (current revision's image)`,
      },
    );
  }

  const argv = m.downgradeCommand.map((a) => a.replaceAll('{{revision}}', gate.target));
  let outcome: string;
  let exitCode = -1;
  try {
    const res = await runThere(deps, {
      svc,
      d,
      sets,
      where,
      argv,
      timeoutMs: deps.migrationTimeoutMs ?? 10 * 60_000,
      rollbackId: r.id,
      purpose: PURPOSE,
      create: !resuming,
    });
    exitCode = res.exitCode;
    outcome = `\`${argv.join(' ')}\` exited ${res.exitCode}`;
    r = await ctx.save(r, lease, {}, { milestone: outcome, output: excerptOutput(res.stdout, res.stderr) });
  } catch (err) {
    outcome = `\`${argv.join(' ')}\` failed: ${asCodedError(err).message}`;
  } finally {
    if (where.via === 'job') await removeJob(deps, d.namespace, where.job);
  }
  // Whatever the command said (a timeout included), the database decides what happens next.
  const after = await readDatabaseHead(deps, svc, d, sets, r);
  if ('head' in after && after.head === gate.target) return finish(after.head, exitCode);
  return ask(
    [
      outcome,
      'head' in after
        ? `the database is now at ${after.head}`
        : `the database head is unknown: ${after.problem}`,
    ],
    'head' in after ? after.head : undefined,
  );

  async function finish(head: string, code: number): Promise<Rollback> {
    const started = r.migration?.started ?? {
      at: clock.now().toISOString(),
      by: deps.owner,
      via: 'exec' as const,
    };
    return ctx.move(
      r,
      'migrated',
      lease,
      ctx.system,
      { migration: { started, finished: { at: clock.now().toISOString(), exitCode: code, head } } },
      { head },
    );
  }
}
