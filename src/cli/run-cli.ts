// The operator CLI over the same engine parts the bot uses.
import type { Catalog } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import { assess } from '../rollback/assess.js';
import { lookupService } from '../rollback/lookup-service.js';
import type { KubePort, ObservePort, StorePort } from '../rollback/ports.js';
import { buildHistory, imagesOf, planUndo } from '../rollback/revisions.js';
import { TERMINAL } from '../rollback/states.js';
import { formatAssessment, formatHistory, formatStatus } from './format.js';
import { type CliArgs, USAGE } from './parse-args.js';

export interface CliDeps {
  catalog: Catalog;
  kube: KubePort;
  observe: ObservePort;
  /** Only `status` and `unlock` need the store; built lazily so the other commands work without Redis. */
  store: () => StorePort;
  now: () => Date;
  /** The person at the terminal, for the audit trail of `unlock`. */
  user: string;
  print: (text: string) => void;
}

export async function runCli(args: CliArgs, deps: CliDeps): Promise<void> {
  const { kube, print } = deps;
  if (args.command === 'help') {
    print(USAGE);
    return;
  }
  if (args.command === 'status') {
    if (args.service) lookupService(deps.catalog, args.service);
    print(formatStatus(await deps.store().listRecent(20, args.service), deps.now()));
    return;
  }
  const svc = lookupService(deps.catalog, args.service ?? '');
  if (args.command === 'unlock') {
    print(await unlock(deps, svc.namespace, svc.deployment, args.by ?? deps.user));
    return;
  }
  if (args.command === 'assess') {
    const a = await assess(
      { kube, observe: deps.observe, now: deps.now, sourceTimeoutMs: 10_000 },
      svc,
      args.toRevision,
    );
    print(formatAssessment(svc.name, a, deps.now()));
    return;
  }
  const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
  const sets = await kube.listRevisions(d);
  // kubectl's resource name: deployment.apps/x, statefulset.apps/x, daemonset.apps/x.
  const resource = `${d.kind.toLowerCase()}.apps/${d.name}`;
  if (args.command === 'history') {
    print(`${resource} (${d.namespace})\n${formatHistory(buildHistory(d, sets), deps.now())}`);
    return;
  }
  const plan = planUndo(d, sets, args.toRevision);
  if (plan.kind === 'skip') {
    print(`${resource} ${plan.message} (dry run)`);
    return;
  }
  // The apiserver validates the exact patch without persisting it (kubectl --dry-run=server).
  const after = await kube.patchUndo(d, plan.patch, { dryRun: true });
  const changed = Object.keys({ ...d.annotations, ...after.annotations }).filter(
    (k) => d.annotations[k] !== after.annotations[k],
  );
  print(
    [
      `${resource} would be rolled back to revision ${plan.target.revision} (server dry run)`,
      `  reason:      ${plan.target.reason}`,
      `  images:      ${imagesOf(d.template).join(', ')} → ${imagesOf(after.template).join(', ')}`,
      `  annotations: ${changed.length ? changed.map((k) => `${k}: ${d.annotations[k] ?? '(none)'} → ${after.annotations[k] ?? '(removed)'}`).join('\n               ') : 'unchanged'}`,
    ].join('\n'),
  );
}

/**
 * Frees a workload lock that nothing will ever free: its rollback record is gone (retention, a
 * flushed Redis) or already ended. A live rollback is never unlocked here: cancel it in Slack.
 */
async function unlock(deps: CliDeps, namespace: string, deployment: string, by: string): Promise<string> {
  const store = deps.store();
  const holder = await store.holderOf(namespace, deployment);
  if (!holder) return `${namespace}/${deployment} is not locked; nothing to do`;
  const r = await store.get(holder);
  if (r && !TERMINAL.has(r.state)) {
    throw new CodedError(
      'rollback_in_progress',
      `${namespace}/${deployment} is held by rollback ${holder}, which is ${r.state.replaceAll('_', ' ')}`,
      {
        remedy: `Cancel it with \`/rollback cancel ${r.service}\` in Slack, or let it finish; unlock is only for locks whose rollback is gone.`,
      },
    );
  }
  const why = r
    ? `its rollback ${holder} already ended (${r.state})`
    : `its rollback record ${holder} is gone`;
  const freed = await store.unlock(namespace, deployment, holder, {
    by,
    at: deps.now().toISOString(),
    reason: why,
  });
  return freed
    ? `unlocked ${namespace}/${deployment}: ${why}; recorded in the audit trail as done by ${by}`
    : `${namespace}/${deployment} changed hands meanwhile; nothing was unlocked`;
}
