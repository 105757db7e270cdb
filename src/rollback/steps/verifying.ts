// `verifying`: the procedure's step 4, on the revision the Deployment runs now.
import { kindOf, type Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import { findNewReplicaSet, ownedReplicaSets, podHashOf, templateAnnotations } from '../revisions.js';
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
    { kube, observe, clock, pollMs: deps.verifyPollMs ?? 5000, execTimeoutMs: 60_000 },
    {
      svc,
      selector: svc.podSelector ?? d.selector,
      replicas: d.replicas ?? 0,
      targetHash: podHashOf(rs),
      targetHead,
      assessment: r.assessment,
    },
  );
  const failed = verification.checks.filter((c) => !c.passed).map((c) => c.name);
  return ctx.move(
    r,
    'verified',
    lease,
    ctx.system,
    { verification },
    { passed: verification.passed, failed },
  );
}
