// `migrating`: the approved database downgrade, with the current (newer) image, before the undo.
// Started at most once per rollback: where it was started is saved before it runs, and a resumed
// rollback awaits that Job, or, for an exec whose process died with us, re-reads the head and asks a
// person unless the database is already at the target. Every outcome other than "the database is at
// the target head now" goes back to a person with what is known (fail closed).
import { asCodedError, CodedError } from '../../errors.js';
import { kindOf, type MigrationGate, type Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import { readDatabaseHead } from '../read-migration-gate.js';
import { runThere, type Where, whereToRun } from '../run-in-current-revision.js';
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
  const runDeps = { kube, clock };
  const ask = (reasons: string[], current?: string): Promise<Rollback> => {
    const unknown: MigrationGate = {
      kind: 'unknown',
      reasons,
      target: gate.target,
      ...(current ? { current } : {}),
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
      const now = await readDatabaseHead(runDeps, svc, d, sets, r);
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
      { migration: { started } },
      {
        milestone: `database downgrade ${gate.current} → ${gate.target} started in ${where.via === 'exec' ? `pod ${where.pod}` : `Job ${where.job}`} (current revision's image)`,
      },
    );
  }

  const argv = m.downgradeCommand.map((a) => a.replaceAll('{{revision}}', gate.target));
  let outcome: string;
  let exitCode = -1;
  try {
    const res = await runThere(runDeps, {
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
    r = await ctx.save(
      r,
      lease,
      {},
      { milestone: outcome, output: `${res.stdout}\n${res.stderr}`.trim().slice(-4000) },
    );
  } catch (err) {
    outcome = `\`${argv.join(' ')}\` failed: ${asCodedError(err).message}`;
  } finally {
    // A Job left behind is removed by its ttlSecondsAfterFinished; its outcome is read below.
    if (where.via === 'job') await kube.deleteJob(d.namespace, where.job).catch(() => undefined);
  }
  // Whatever the command said (a timeout included), the database decides what happens next.
  const after = await readDatabaseHead(runDeps, svc, d, sets, r);
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
