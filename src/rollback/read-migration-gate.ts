// The database gate, read fresh right before the undo, with the current (newer) image. Fails closed:
// every way of not knowing (exec failed or timed out, no rights, no runnable pod and no Job, a missing
// or malformed expected-head annotation, an empty or symbolic head) becomes a reason in `unknown`, and
// so does a downgrade the checks before it (pre-downgrade-checks.ts) say cannot work.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError } from '../errors.js';
import type { DeploymentSnapshot, ReplicaSetSnapshot } from './kube-types.js';
import { headProblem, parseCurrentHead } from './migration-heads.js';
import { kindOf, type MigrationGate, type Rollback } from './model.js';
import { checkBeforeDowngrade } from './pre-downgrade-checks.js';
import { ownedReplicaSets, templateAnnotations } from './revisions.js';
import { type RunDeps, removeJob, runThere, whereToRun } from './run-in-current-revision.js';
import type { RunTarget } from './run-pod-command.js';

export const HEAD_READ_TIMEOUT_MS = 60_000;

/** Reads the database's head with the current revision's image: `{head}` or `{problem}`. */
export async function readDatabaseHead(
  deps: RunDeps,
  svc: CatalogEntry,
  d: DeploymentSnapshot,
  sets: ReplicaSetSnapshot[],
  r: Rollback,
): Promise<{ head: string } | { problem: string }> {
  const m = svc.migrations!;
  const cmd = m.currentCommand.join(' ');
  try {
    // A fresh Job name per read: a finished read must never be mistaken for this one.
    const purpose = `head-${deps.clock.now().getTime().toString(36)}`;
    const where = await whereToRun(deps.kube, svc, d, sets, r.id, purpose);
    const place = where.via === 'exec' ? `pod ${where.pod}` : `Job ${where.job}`;
    try {
      const res = await runThere(deps, {
        svc,
        d,
        sets,
        where,
        argv: m.currentCommand,
        timeoutMs: HEAD_READ_TIMEOUT_MS,
        rollbackId: r.id,
        purpose,
      });
      if (res.exitCode !== 0)
        return {
          problem: `\`${cmd}\` exited ${res.exitCode} in ${place}: ${(res.stderr || res.stdout).trim().slice(-300)}`,
        };
      const parsed = parseCurrentHead(res.stdout);
      return 'head' in parsed ? parsed : { problem: `\`${cmd}\` in ${place} ${parsed.problem}` };
    } finally {
      if (where.via === 'job') await removeJob(deps, d.namespace, where.job);
    }
  } catch (err) {
    return { problem: `could not run \`${cmd}\`: ${asCodedError(err).message}` };
  }
}

export async function readMigrationGate(
  deps: RunDeps,
  svc: CatalogEntry,
  r: Rollback,
): Promise<MigrationGate> {
  const m = svc.migrations!;
  const reasons: string[] = [];
  const d = await deps.kube.readWorkload(kindOf(r), r.namespace, r.deployment);
  const sets = await deps.kube.listRevisions(d);
  const target = r.assessment?.target;
  const targetRs = ownedReplicaSets(d, sets).find((rs) => rs.name === target?.replicaSet);
  let targetHead: string | undefined;
  if (!targetRs) reasons.push(`the target ReplicaSet ${target?.replicaSet ?? '?'} no longer exists`);
  else {
    const v = templateAnnotations(targetRs.template)[m.expectedHeadAnnotation];
    const problem = v === undefined ? 'missing' : headProblem(v);
    if (problem)
      reasons.push(
        `revision ${target?.revision}'s expected head (pod-template annotation ${m.expectedHeadAnnotation}) is ${problem}`,
      );
    else targetHead = v;
  }
  const read = await readDatabaseHead(deps, svc, d, sets, r);
  const current = 'head' in read ? read.head : undefined;
  if ('problem' in read) reasons.push(`the database head is unknown: ${read.problem}`);
  if (reasons.length || !current || !targetHead)
    return {
      kind: 'unknown',
      reasons,
      ...(current ? { current } : {}),
      ...(targetHead ? { target: targetHead } : {}),
    };
  if (current === targetHead) return { kind: 'none', current, target: targetHead };
  // A downgrade is due: before anyone is asked to approve it, confirm it can work (fail closed).
  const checks = await checkBeforeDowngrade(deps, svc, runTargetOf(r), { d, sets }, targetHead);
  const failed = checks.filter((c) => !c.passed);
  if (failed.length)
    return {
      kind: 'unknown',
      reasons: failed.map((c) => `before the downgrade ${current} → ${targetHead}: ${c.detail}`),
      current,
      target: targetHead,
      checks,
    };
  return { kind: 'downgrade', current, target: targetHead, checks };
}

/** The workload a rollback is about, as a place to run commands. */
export function runTargetOf(r: Rollback): RunTarget {
  return { id: r.id, namespace: r.namespace, kind: kindOf(r), deployment: r.deployment };
}
