// The procedure's steps. Each does its effects, then commits the next transition through the
// runner's `move`; each can run again after a crash and do the right thing.
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import { assess } from './assess.js';
import type { Actor, Rollback, RollbackEvent } from './model.js';
import type {
  Clock,
  KubePort,
  Lease,
  Logger,
  NotifierPort,
  ObservePort,
  PagerPort,
  StorePort,
} from './ports.js';
import { findNewReplicaSet, ownedReplicaSets, patchFor, templateAnnotations } from './revisions.js';
import type { EventType, State } from './states.js';
import { verify } from './verify.js';

export interface RunnerDeps {
  store: StorePort;
  kube: KubePort;
  observe: ObservePort;
  notifier: NotifierPort;
  pager?: PagerPort;
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
  /** This process, for leases and the audit trail. */
  owner: string;
  /** Work lease TTL; renewed at a third of it while working. */
  leaseMs: number;
  renderReport: (r: Rollback, events: RollbackEvent[]) => string;
  sourceTimeoutMs?: number;
  verifyPollMs?: number;
  newId?: () => string;
}

type Step = (r: Rollback, lease: Lease) => Promise<Rollback>;

export interface StepContext {
  deps: RunnerDeps;
  system: Actor;
  move: (
    r: Rollback,
    type: EventType,
    lease: Lease | undefined,
    actor: Actor,
    changes?: Partial<Rollback>,
    data?: Record<string, unknown>,
  ) => Promise<Rollback>;
  save: (
    r: Rollback,
    lease: Lease,
    changes: Partial<Rollback>,
    data: Record<string, unknown>,
  ) => Promise<Rollback>;
  safely: (what: string, fn: () => Promise<void>) => Promise<void>;
  serviceOf: (r: Rollback) => CatalogEntry;
}

export function createSteps(ctx: StepContext): Partial<Record<State, Step>> {
  const { deps, system, move, save, safely, serviceOf } = ctx;
  const { store, kube, observe, clock } = deps;
  const sourceTimeoutMs = deps.sourceTimeoutMs ?? 10_000;

  async function stepAssess(r: Rollback, lease: Lease): Promise<Rollback> {
    const svc = serviceOf(r);
    const assessment = await assess(
      { kube, observe, now: () => clock.now(), sourceTimeoutMs },
      svc,
      r.toRevision,
    );
    const summary = assessment.findings.slice(0, 3).join('; ');
    if (!assessment.target) {
      const message = assessment.targetError?.message || 'no revision to roll back to';
      const failed = await move(
        r,
        'fail',
        lease,
        system,
        {
          assessment,
          failure: {
            step: 'assessing',
            code: assessment.targetError?.code ?? 'rollback_no_history',
            message,
            at: clock.now().toISOString(),
          },
        },
        { message },
      );
      return failed;
    }
    if (r.dryRun) return move(r, 'dry_run_done', lease, system, { assessment }, { summary });
    if (r.mode === 'auto') return move(r, 'auto_approved', lease, system, { assessment }, { summary });
    const next = await move(r, 'assessed', lease, system, { assessment }, { summary });
    await safely('assessed', () => deps.notifier.assessed(next));
    return next;
  }

  async function stepNotify(r: Rollback, lease: Lease): Promise<Rollback> {
    if (r.mode === 'auto') await safely('assessed', () => deps.notifier.assessed(r));
    await safely('starting', () => deps.notifier.starting(r));
    if (r.mode === 'auto' && deps.pager) await safely('page', () => deps.pager!.rollbackStarted(r));
    const m = r.assessment?.migration;
    if (m?.ok && m.value.ahead) {
      const next = await move(r, 'migration_needed', lease, system);
      await safely('migration approval', () => deps.notifier.migrationApprovalNeeded(next));
      return next;
    }
    return move(r, 'notified', lease, system);
  }

  async function stepMigrate(r: Rollback, lease: Lease): Promise<Rollback> {
    // Down-migrations exist only in the newer image: run them in a pod of the current revision,
    // before the undo replaces those pods (DESIGN.md, "Facts the procedure gets wrong").
    const svc = serviceOf(r);
    const m = svc.migrations;
    const state = r.assessment?.migration;
    if (!m || !state?.ok || !state.value.targetHead)
      throw new CodedError('internal', 'migration step without migration settings');
    const head = state.value.targetHead;
    const d = await kube.readDeployment(r.namespace, r.deployment);
    const pods = (await kube.listPods(r.namespace, svc.podSelector ?? d.selector)).filter(
      (p) => p.phase === 'Running' && !p.deleting,
    );
    const pod = pods.find((p) => p.ready) ?? pods[0];
    if (!pod) throw new CodedError('kube_exec_failed', 'no running pod to run the migration downgrade in');
    const container = m.container ?? svc.container;
    const current = await kube.exec(r.namespace, pod.name, container, m.currentCommand, 60_000);
    if (current.stdout.trim().split(/\s+/)[0] !== head) {
      const argv = m.downgradeCommand.map((a) => a.replaceAll('{{revision}}', head));
      const res = await kube.exec(r.namespace, pod.name, container, argv, 10 * 60_000);
      if (res.exitCode !== 0)
        throw new CodedError(
          'kube_exec_failed',
          `${argv.join(' ')} exited ${res.exitCode}: ${res.stderr.trim().slice(-300)}`,
        );
      const after = await kube.exec(r.namespace, pod.name, container, m.currentCommand, 60_000);
      const now = after.stdout.trim().split(/\s+/)[0];
      if (now !== head)
        throw new CodedError(
          'kube_exec_failed',
          `after the downgrade the database is at ${now ?? 'nothing'}, expected ${head}`,
        );
    }
    return move(r, 'migrated', lease, system, {}, { head, pod: pod.name });
  }

  async function stepUndo(r: Rollback, lease: Lease): Promise<Rollback> {
    const svc = serviceOf(r);
    const target = r.assessment?.target;
    const assessed = r.assessment?.deployment;
    if (!target || !assessed?.ok) throw new CodedError('internal', 'undo without an assessment');
    const d = await kube.readDeployment(r.namespace, r.deployment);
    const sets = await kube.listReplicaSets(d);
    const rs = ownedReplicaSets(d, sets).find((x) => x.name === target.replicaSet);
    if (!rs) {
      throw new CodedError(
        'rollback_revision_not_found',
        `the target ReplicaSet ${target.replicaSet} no longer exists`,
        {
          remedy: 'It may have been cleaned up (revisionHistoryLimit); request the rollback again.',
        },
      );
    }
    let current = r;
    const patch = patchFor(d, rs);
    if (patch) {
      // Not at the target yet. If the Deployment's spec moved since the assessment (or since our own
      // patch, on a resume), a person changed it: never overwrite what we did not see.
      const expectedGeneration = r.undo?.generation ?? assessed.value.generation;
      if (d.uid !== assessed.value.uid || d.generation !== expectedGeneration) {
        throw new CodedError(
          'rollback_concurrent_change',
          `${r.namespace}/${r.deployment} was changed by someone else since the assessment (generation ${expectedGeneration} → ${d.generation}); nothing was patched`,
          {
            remedy: 'Look at what changed, then request the rollback again.',
          },
        );
      }
      if (d.paused)
        throw new CodedError(
          'rollback_paused',
          "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again",
        );
      const patched = await kube.patchUndo(d, patch.template, patch.annotations);
      current = await save(
        r,
        lease,
        { undo: { outcome: 'patched', at: clock.now().toISOString(), generation: patched.generation } },
        {
          milestone: `Rolled back to revision ${target.revision} (${target.images.join(', ')}): Deployment patched, generation ${patched.generation}`,
        },
      );
    } else if (!r.undo) {
      // At the target with no patch on record: either it already was, or this process patched it and
      // died before saving; the generation tells which.
      const ours = d.generation === assessed.value.generation + 1;
      current = await save(
        r,
        lease,
        {
          undo: {
            outcome: ours ? 'patched' : 'already_at_target',
            at: clock.now().toISOString(),
            generation: d.generation,
          },
        },
        {
          milestone: ours
            ? `Deployment patched to revision ${target.revision} before a restart; resumed`
            : `Deployment already runs revision ${target.revision}'s template; nothing to patch`,
        },
      );
    }
    const undoAt = new Date(current.undo?.at ?? clock.now().toISOString());
    const started = clock.now().getTime();
    const { status } = await kube.waitForRollout(r.namespace, r.deployment, {
      timeoutMs: svc.rollout.timeoutSeconds * 1000,
      staleDeadlineBefore: undoAt,
      onProgress: (s) => void safely('progress', () => deps.notifier.progress(current, s.message)),
    });
    if (status.state === 'failed') {
      throw new CodedError('rollback_progress_deadline', status.message, {
        remedy: 'The target revision does not come up either; look at its pods.',
      });
    }
    const rollout = {
      state: status.state,
      message: status.message,
      at: clock.now().toISOString(),
      durationMs: clock.now().getTime() - started,
    };
    return move(
      current,
      'undone',
      lease,
      system,
      { undo: { ...current.undo!, rollout } },
      { message: status.message },
    );
  }

  async function stepVerify(r: Rollback, lease: Lease): Promise<Rollback> {
    const svc = serviceOf(r);
    const d = await kube.readDeployment(r.namespace, r.deployment);
    const sets = await kube.listReplicaSets(d);
    const rs = findNewReplicaSet(d, ownedReplicaSets(d, sets));
    const labels = (rs?.template.metadata as { labels?: Record<string, string> } | undefined)?.labels;
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
        targetHash: labels?.['pod-template-hash'],
        targetHead,
        assessment: r.assessment,
      },
    );
    const failed = verification.checks.filter((c) => !c.passed).map((c) => c.name);
    return move(r, 'verified', lease, system, { verification }, { passed: verification.passed, failed });
  }

  async function stepReport(r: Rollback, lease: Lease): Promise<Rollback> {
    const ok = !r.failure && r.verification?.passed === true;
    const events = await store.events(r.id);
    const report = deps.renderReport(r, events);
    const next = await move(r, ok ? 'reported' : 'reported_failure', lease, system, { report });
    await safely('finished', () => deps.notifier.finished(next, report));
    if (deps.pager) await safely('page', () => deps.pager!.rollbackFinished(next));
    return next;
  }

  const steps: Partial<Record<State, Step>> = {
    requested: (r, lease) => move(r, 'start', lease, system),
    assessing: stepAssess,
    notifying: stepNotify,
    migrating: stepMigrate,
    undoing: stepUndo,
    verifying: stepVerify,
    reporting: stepReport,
  };

  return steps;
}
