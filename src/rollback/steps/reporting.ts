// `reporting`: the incident report from the audit trail, then the page is resolved or re-triggered.
import type { Rollback } from '../model.js';
import type { Lease } from '../ports.js';
import type { StepContext } from './context.js';

export async function reporting(ctx: StepContext, r: Rollback, lease: Lease): Promise<Rollback> {
  const { deps } = ctx;
  const ok = !r.failure && r.verification?.passed === true;
  const report = deps.renderReport(r, await deps.store.events(r.id));
  return ctx.move(r, ok ? 'reported' : 'reported_failure', lease, ctx.system, { report }, undefined, [
    { kind: 'finished' },
    ...(deps.pager ? [{ kind: 'pageFinished' } as const] : []),
  ]);
}
