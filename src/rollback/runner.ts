// Runs rollbacks through the procedure. Every transition is committed (compare-and-set, fenced by
// the work lease, with its event) BEFORE the next step's effects run; every step can be re-run after a
// crash and does the right thing (the undo re-reads the live template before patching). A process
// that dies leaves its lease to expire; resume() lets any process pick the rollback up.
import { randomUUID } from 'node:crypto';
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError, CodedError, type ErrorCode, isCodedError } from '../errors.js';
import { assertMayDecide } from './authorize.js';
import { checklistState, POST_ROLLBACK_CHECKLIST } from './checklist.js';
import { lookupService } from './lookup-service.js';
import type { Actor, Rollback, RollbackEvent } from './model.js';
import type { Lease } from './ports.js';
import { buildHistory, chooseTarget, type RevisionEntry } from './revisions.js';
import { type EventType, type State, TERMINAL, transition, WORKING } from './states.js';
import { createSteps, type RunnerDeps } from './steps.js';

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

type Decision = 'approve' | 'approve_migration' | 'cancel';

export type { RunnerDeps } from './steps.js';

export function createRunner(deps: RunnerDeps) {
  const { store, kube, clock, logger } = deps;
  const system: Actor = { kind: 'system', id: deps.owner, name: 'rollback-bot' };
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

  const steps = createSteps({ deps, system, move, save, safely, serviceOf });

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

  /** Where each decision may be taken: a cancel at either approval, each approval at its own. */
  const DECIDABLE: Record<Decision, State[]> = {
    approve: ['awaiting_approval'],
    approve_migration: ['awaiting_migration_approval'],
    cancel: ['awaiting_approval', 'awaiting_migration_approval'],
  };

  async function decide(id: string, actor: Actor, decision: Decision): Promise<Rollback> {
    const r = await store.get(id);
    if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
    const svc = serviceOf(r);
    try {
      assertMayDecide(svc, r, actor, decision === 'cancel' ? 'cancel' : 'approve');
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
    if (!DECIDABLE[decision].includes(r.state)) {
      const by = r.decision ? ` by <@${r.decision.by.id}>` : '';
      throw new CodedError(
        'rollback_wrong_state',
        `this rollback is already ${r.state.replaceAll('_', ' ')}${by}`,
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
          : decision === 'approve_migration'
            ? { migrationApproval: { by: actor, at } }
            : { decision: { event: 'cancel', by: actor, at } };
      const next = await move(r, decision, lease, actor, changes);
      if (decision !== 'cancel') background(drive(id, lease));
      else await store.releaseLease(lease);
      return next;
    } catch (err) {
      await store.releaseLease(lease);
      if (isCodedError(err, 'store_conflict')) {
        const now = await store.get(id);
        throw new CodedError(
          'rollback_wrong_state',
          `this rollback is already ${now?.state.replaceAll('_', ' ') ?? 'gone'}`,
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
    /** The separate approval of a migration downgrade (same approver rules as the rollback). */
    approveMigration: (id: string, actor: Actor) => decide(id, actor, 'approve_migration'),

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
