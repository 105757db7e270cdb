// `verifying`: the procedure's step 4, on the revision the workload runs now, ending with two checks
// that the rollback held: the workload still has the target's template (nothing, e.g. an undetected
// GitOps controller, re-applied the bad release meanwhile) and a suspended GitOps owner still is.
import {
  blockingChecks,
  checkResult,
  notConfigured,
  statusOf,
  verificationPassed,
} from '../check-results.js';
import { isSuspendedByUs, ownerText } from '../gitops.js';
import { integrityChecks } from '../integrity-checks.js';
import { type CheckResult, kindOf, type Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import {
  atRevision,
  findNewReplicaSet,
  imagesOf,
  ownedReplicaSets,
  podHashOf,
  templateAnnotations,
} from '../revisions.js';
import { verify } from '../verify.js';
import type { StepContext } from './context.js';

export async function verifying(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback> {
  const { deps } = ctx;
  const { kube, observe, clock } = deps;
  const svc = ctx.serviceOf(r);
  const d = await kube.readWorkload(kindOf(r), r.namespace, r.deployment);
  const sets = await kube.listRevisions(d);
  const rs = findNewReplicaSet(d, ownedReplicaSets(d, sets));
  const targetHead =
    svc.migrations && rs
      ? templateAnnotations(rs.template)[svc.migrations.expectedHeadAnnotation]
      : undefined;
  const verification = await verify(
    {
      kube,
      observe,
      ...(deps.alerts ? { alerts: deps.alerts } : {}),
      clock,
      pollMs: deps.verifyPollMs ?? 5000,
      execTimeoutMs: 60_000,
    },
    {
      svc,
      selector: svc.podSelector ?? d.selector,
      replicas: d.kind === 'DaemonSet' ? (d.status.desiredNumberScheduled ?? 0) : (d.replicas ?? 0),
      ...(d.kind === 'StatefulSet' && d.strategy.partition
        ? { onTarget: Math.max(0, (d.replicas ?? 0) - d.strategy.partition) }
        : {}),
      targetHash: podHashOf(rs),
      targetHead,
      assessment: r.assessment,
      undoneAt: r.undo?.at,
    },
  );
  verification.checks.push(
    ...(svc.integrityChecks.length
      ? await integrityChecks(ctx, r)
      : [notConfigured('data integrity checks', 'catalog integrityChecks', 'each exits 0')]),
  );
  verification.checks.push(...(await heldChecks(ctx, r)));
  verification.passed = verificationPassed(verification.checks);
  const failed = blockingChecks(verification.checks);
  const unconfigured = verification.checks.filter((c) => statusOf(c) === 'not_configured').map((c) => c.name);
  return ctx.move(
    r,
    'verified',
    lease,
    ctx.system,
    { verification },
    { passed: verification.passed, failed, ...(unconfigured.length ? { notConfigured: unconfigured } : {}) },
  );
}

/** Did the rollback hold until now? Read after every other check, so a late revert is caught. */
async function heldChecks(ctx: StepContext, r: Rollback): Promise<CheckResult[]> {
  const { kube } = ctx.deps;
  const target = r.assessment?.target;
  const now = await kube.readWorkload(kindOf(r), r.namespace, r.deployment);
  const rs = ownedReplicaSets(now, await kube.listRevisions(now)).find((x) => x.name === target?.replicaSet);
  const held = rs !== undefined && atRevision(now, rs);
  const checks: CheckResult[] = [
    checkResult('still on the target revision', held ? 'passed' : 'failed', {
      source: `${now.kind} ${r.namespace}/${r.deployment} spec.template`,
      value: held ? `revision ${target?.revision}'s template` : `images ${imagesOf(now.template).join(', ')}`,
      threshold: `revision ${target?.revision ?? '?'}'s template (nothing re-applied the old one)`,
    }),
  ];
  const g = r.gitops;
  if (g?.suspendedAt && !g.resumed) {
    const owner = await kube.readOwner(g.owner);
    const still = owner !== undefined && isSuspendedByUs(g.owner, owner);
    checks.push(
      checkResult('GitOps sync still suspended', still ? 'passed' : 'failed', {
        source: ownerText(g.owner),
        value: owner ? (still ? 'suspended' : 'syncing again') : 'gone',
        threshold: 'suspended until Resume sync',
      }),
    );
  }
  return checks;
}
