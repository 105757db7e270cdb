// Runs rollbacks through the procedure. Every transition is committed (compare-and-set, fenced by
// the work lease, with its event) BEFORE the next step's effects run; every step can be re-run after a
// crash and does the right thing (the undo re-reads the live template before patching). A process
// that dies leaves its lease to expire; resume() lets any process pick the rollback up.
import { randomUUID } from 'node:crypto';
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError, CodedError, type ErrorCode, isCodedError } from '../errors.js';
import { assess } from './assess.js';
import { assertMayDecide } from './authorize.js';
import { checklistState, POST_ROLLBACK_CHECKLIST } from './checklist.js';
import { lookupService } from './lookup-service.js';
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
import {
  buildHistory,
  chooseTarget,
  findNewReplicaSet,
  ownedReplicaSets,
  patchFor,
  type RevisionEntry,
  templateAnnotations,
} from './revisions.js';
import { type EventType, type State, TERMINAL, transition, WORKING } from './states.js';
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

export interface RequestInput {
  service: string;
  toRevision?: number;
  dryRun?: boolean;
  reason: string;
  actor: Actor;
  mode?: 'manual' | 'auto';
  /** Where the conversation lives (the Slack root message), when the request came from Slack. */
  thread?: { channel: string; ts: string };
  /** Why an alert or watch condition asked for it (kept on the root message). */
  why?: string;
}

/** Errors that mean "someone else owns this now": stop quietly, do not mark the rollback failed. */
const HANDED_OVER: ErrorCode[] = ['store_lease_lost', 'store_conflict'];

export function createRunner(deps: RunnerDeps) {
  const { store, kube, observe, clock, logger } = deps;
  const system: Actor = { kind: 'system', id: deps.owner, name: 'rollback-bot' };
  const sourceTimeoutMs = deps.sourceTimeoutMs ?? 10_000;
  const running = new Set<Promise<void>>();

  const event = (
    r: Rollback,
    type: RollbackEvent['type'],
    actor: Actor,
    from: State | undefined,
    to: State | undefined,
    data?: Record<string, unknown>,
  ): RollbackEvent => ({
    id: r.id,
    type,
    from,
    to,
    actor,
    at: clock.now().toISOString(),
    ...(data ? { data } : {}),
  });

  /** Commits r → transition(r.state, type) with `changes`, fenced by the lease. */
  async function move(
    r: Rollback,
    type: EventType,
    lease: Lease | undefined,
    actor: Actor,
    changes: Partial<Rollback> = {},
    data?: Record<string, unknown>,
  ): Promise<Rollback> {
    const to = transition(r.state, type);
    const next: Rollback = { ...r, ...changes, state: to, updatedAt: clock.now().toISOString() };
    const saved = await store.commit(
      { state: r.state, version: r.version },
      next,
      event(r, type, actor, r.state, to, data),
      lease,
    );
    await safely('stateChanged', () => deps.notifier.stateChanged(saved));
    return saved;
  }

  /** Saves data without a state change (same compare-and-set). */
  async function save(
    r: Rollback,
    lease: Lease,
    changes: Partial<Rollback>,
    data: Record<string, unknown>,
  ): Promise<Rollback> {
    const next: Rollback = { ...r, ...changes, updatedAt: clock.now().toISOString() };
    return store.commit(
      { state: r.state, version: r.version },
      next,
      event(r, 'progress', system, r.state, r.state, data),
      lease,
    );
  }

  async function safely(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      logger.warn(`notification ${what} failed`, { error: (err as Error).message });
    }
  }

  function serviceOf(r: Rollback): CatalogEntry {
    return lookupService(deps.catalog, r.service);
  }

  // ---- steps: each does its effects, then commits the next transition ----

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
    if (m?.ok && m.value.ahead) return move(r, 'migration_needed', lease, system);
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

  const steps: Partial<Record<State, (r: Rollback, lease: Lease) => Promise<Rollback>>> = {
    requested: (r, lease) => move(r, 'start', lease, system),
    assessing: stepAssess,
    notifying: stepNotify,
    migrating: stepMigrate,
    undoing: stepUndo,
    verifying: stepVerify,
    reporting: stepReport,
  };

  /** Works on one rollback while this process holds its lease, until it waits for a person or ends. */
  async function drive(id: string, held?: Lease): Promise<void> {
    const lease = held ?? (await store.acquireLease(id, deps.owner, deps.leaseMs));
    if (!lease) return; // another process is on it
    let lost = false;
    const renew = setInterval(
      () => {
        store.renewLease(lease, deps.leaseMs).then(
          (ok) => {
            if (!ok) lost = true;
          },
          () => {},
        );
      },
      Math.max(200, Math.floor(deps.leaseMs / 3)),
    );
    try {
      let r = await store.get(id);
      while (r && WORKING.has(r.state) && !lost) {
        const step = steps[r.state];
        if (!step) break;
        try {
          r = await step(r, lease);
        } catch (err) {
          const e = asCodedError(err);
          if (HANDED_OVER.includes(e.code)) {
            logger.warn(`rollback ${id}: ${e.message}`);
            return;
          }
          logger.error(`rollback ${id} failed in ${r.state}`, { code: e.code, message: e.message });
          const failure = { step: r.state, code: e.code, message: e.message, at: clock.now().toISOString() };
          const latest = await store.get(id);
          if (!latest) return;
          r = await move(
            latest,
            latest.state === 'reporting' ? 'reported_failure' : 'fail',
            lease,
            system,
            { failure },
            { message: e.message, code: e.code },
          );
        }
      }
    } finally {
      clearInterval(renew);
      await store.releaseLease(lease).catch(() => {});
    }
  }

  function background(p: Promise<void>): void {
    const tracked = p
      .catch((err) => logger.error('rollback worker crashed', { error: (err as Error).message }))
      .finally(() => running.delete(tracked));
    running.add(tracked);
  }

  /** Everything about a request that can be refused before anything is written. */
  async function check(input: Pick<RequestInput, 'service' | 'toRevision'>): Promise<CatalogEntry> {
    const svc = lookupService(deps.catalog, input.service);
    const toRevision = input.toRevision ?? 0;
    if (!Number.isSafeInteger(toRevision) || toRevision < 0) {
      throw new CodedError('rollback_bad_revision', `"${input.toRevision}" is not a revision number`, {
        remedy: 'Use a whole number from `/rollback history`.',
      });
    }
    const d = await kube.readDeployment(svc.namespace, svc.deployment);
    chooseTarget(d, await kube.listReplicaSets(d), toRevision);
    return svc;
  }

  async function decide(id: string, actor: Actor, decision: 'approve' | 'cancel'): Promise<Rollback> {
    const r = await store.get(id);
    if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
    const svc = serviceOf(r);
    try {
      assertMayDecide(svc, r, actor, decision);
    } catch (err) {
      await store.append(
        event(r, 'note', actor, r.state, r.state, {
          kind: 'unauthorized',
          decision,
          message: (err as Error).message,
        }),
      );
      throw err;
    }
    if (r.state !== 'awaiting_approval') {
      const by = r.decision ? ` by <@${r.decision.by.id}>` : '';
      throw new CodedError(
        'rollback_wrong_state',
        `this rollback is already ${r.state.replace('_', ' ')}${by}`,
        { details: { state: r.state } },
      );
    }
    // Two replicas or a double click: only the one that gets the lease and wins the compare-and-set acts.
    const lease = await store.acquireLease(id, deps.owner, deps.leaseMs);
    if (!lease)
      throw new CodedError('rollback_wrong_state', 'this rollback is being handled right now', {
        details: { state: r.state },
      });
    try {
      const at = clock.now().toISOString();
      const changes: Partial<Rollback> =
        decision === 'approve'
          ? { approvals: [...r.approvals, { by: actor, at }], decision: { event: 'approve', by: actor, at } }
          : { decision: { event: 'cancel', by: actor, at } };
      const next = await move(r, decision, lease, actor, changes);
      if (decision === 'approve') background(drive(id, lease));
      else await store.releaseLease(lease);
      return next;
    } catch (err) {
      await store.releaseLease(lease);
      if (isCodedError(err, 'store_conflict')) {
        const now = await store.get(id);
        throw new CodedError(
          'rollback_wrong_state',
          `this rollback is already ${now?.state.replace('_', ' ') ?? 'gone'}`,
          { details: { state: now?.state } },
        );
      }
      throw err;
    }
  }

  return {
    /**
     * Validates and records a rollback request, then assesses it in the background. Bad input (unknown
     * service, revision not in history, no history, missing Deployment) throws before anything is written.
     */
    check,

    async request(input: RequestInput): Promise<Rollback> {
      const svc = await check(input);
      const toRevision = input.toRevision ?? 0;
      const now = clock.now().toISOString();
      const r: Rollback = {
        id: deps.newId?.() ?? randomUUID(),
        service: svc.name,
        namespace: svc.namespace,
        deployment: svc.deployment,
        state: 'requested',
        version: 1,
        mode: input.mode ?? 'manual',
        dryRun: input.dryRun ?? false,
        toRevision,
        reason: input.reason,
        requestedBy: input.actor,
        requestedAt: now,
        updatedAt: now,
        approvals: [],
        ...(input.thread ? { thread: input.thread } : {}),
        ...(input.why ? { why: input.why } : {}),
      };
      await store.create(
        r,
        event(r, 'created', input.actor, undefined, 'requested', { toRevision, dryRun: r.dryRun }),
        { lockDeployment: !r.dryRun },
      );
      background(drive(r.id));
      return r;
    },

    approve: (id: string, actor: Actor) => decide(id, actor, 'approve'),
    cancel: (id: string, actor: Actor) => decide(id, actor, 'cancel'),

    /** Picks up rollbacks whose owner died (their lease expired) and continues them. */
    async resume(): Promise<number> {
      let n = 0;
      for (const id of await store.listActive()) {
        const r = await store.get(id);
        if (!r || !WORKING.has(r.state)) continue;
        const lease = await store.acquireLease(id, deps.owner, deps.leaseMs);
        if (!lease) continue;
        n += 1;
        logger.info(`resuming rollback ${id} in ${r.state}`);
        background(drive(id, lease));
      }
      return n;
    },

    get: (id: string) => store.get(id),

    recent: (limit: number, service?: string) =>
      store.listRecent(limit, service ? lookupService(deps.catalog, service).name : undefined),

    async history(service: string): Promise<RevisionEntry[]> {
      const svc = lookupService(deps.catalog, service);
      const d = await kube.readDeployment(svc.namespace, svc.deployment);
      return buildHistory(d, await kube.listReplicaSets(d));
    },

    /**
     * Records what a checklist click changed (Slack sends the whole selection) in the audit trail,
     * and re-renders the stored report of a finished rollback.
     */
    async recordChecklist(id: string, actor: Actor, selected: string[]): Promise<Rollback> {
      const r = await store.get(id);
      if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
      const before = checklistState(await store.events(id));
      for (const item of POST_ROLLBACK_CHECKLIST) {
        const done = selected.includes(item);
        if ((before.get(item)?.done ?? false) !== done) {
          await store.append(event(r, 'note', actor, r.state, r.state, { kind: 'checklist', item, done }));
        }
      }
      if (!TERMINAL.has(r.state)) return r;
      const report = deps.renderReport(r, await store.events(id));
      return store.commit(
        { state: r.state, version: r.version },
        { ...r, report },
        event(r, 'progress', system, r.state, r.state, {
          milestone: 'report re-rendered with the checklist',
        }),
        undefined,
      );
    },

    /** Whether the person may approve (for showing refusals early; approve() checks again). */
    mayApprove(r: Rollback, actor: Actor): boolean {
      try {
        assertMayDecide(serviceOf(r), r, actor, 'approve');
        return true;
      } catch {
        return false;
      }
    },

    /** Resolves when every rollback this process is working on has stopped (waits for people or ended). */
    async idle(): Promise<void> {
      while (running.size) await Promise.all([...running]);
    },

    /** Waits until the rollback reaches one of `states` (or ends). */
    async waitFor(id: string, states: State[], timeoutMs: number): Promise<Rollback> {
      const deadline = clock.now().getTime() + timeoutMs;
      for (;;) {
        const r = await store.get(id);
        if (r && (states.includes(r.state) || TERMINAL.has(r.state))) return r;
        if (clock.now().getTime() > deadline)
          throw new CodedError(
            'rollback_timeout',
            `rollback ${id} did not reach ${states.join('/')} (is ${r?.state})`,
          );
        await clock.sleep(100);
      }
    },
  };
}

export type Runner = ReturnType<typeof createRunner>;
