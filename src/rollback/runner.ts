// Runs rollbacks through the procedure: leases, sequences and commits; what each state does is in
// steps/<state>.ts. Every transition is committed (compare-and-set, fenced by the work lease, with its
// event) BEFORE the next step's effects run; every step can be re-run after a crash and does the right
// thing. Nothing is left behind: a lease is renewed from the moment it is taken, a reaper on every
// replica resumes rollbacks whose lease lapsed and expires waits nobody answered, and close() (SIGTERM)
// hands this process's leases over at once.
import { randomUUID } from 'node:crypto';
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError, CodedError, type ErrorCode } from '../errors.js';
import { assertMayDecide } from './authorize.js';
import { checklistState, POST_ROLLBACK_CHECKLIST } from './checklist.js';
import { assertMayTickChecklist } from './checklist-access.js';
import { createDataCleanup } from './data-cleanup.js';
import { createDecide } from './decide.js';
import { createLeases, type HeldLease } from './leases.js';
import { lookupService } from './lookup-service.js';
import type { Actor, Notice, Rollback, RollbackEvent } from './model.js';
import { createOutbox } from './outbox.js';
import type { Lease } from './ports.js';
import { createReaper } from './reaper.js';
import { createResumeSync } from './resume-sync.js';
import { buildHistory, chooseTarget, type RevisionEntry } from './revisions.js';
import { createSignOff } from './sign-off.js';
import { type EventType, type State, TERMINAL, transition, WORKING } from './states.js';
import type { RunnerDeps, StepContext } from './steps/context.js';
import { STEPS } from './steps/index.js';
import { planUndo, type UndoPlan, undoReason } from './undo-rollback.js';

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
  /** The signal that asked for it, for the report's timeline. */
  signal?: { name: string; since: string; summary: string };
}

/** Errors that mean "someone else owns this now": stop quietly, do not mark the rollback failed. */
const HANDED_OVER: ErrorCode[] = ['store_lease_lost', 'store_conflict'];

export type { RunnerDeps } from './steps/context.js';

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

  /**
   * Commits r → transition(r.state, type) with `changes`, fenced by the lease, and, in the same atomic
   * step, what people must be told about it (the root message always; `notices` besides).
   */
  async function move(
    r: Rollback,
    type: EventType,
    lease: Lease | undefined,
    actor: Actor,
    changes: Partial<Rollback> = {},
    data?: Record<string, unknown>,
    notices: Notice[] = [],
  ): Promise<Rollback> {
    const to = transition(r.state, type);
    const next: Rollback = { ...r, ...changes, state: to, updatedAt: clock.now().toISOString() };
    const saved = await store.commit(
      { state: r.state, version: r.version },
      next,
      event(r, type, actor, r.state, to, data),
      lease,
      [{ kind: 'stateChanged' }, ...notices],
    );
    outbox.kick(saved.id);
    return saved;
  }

  /** Saves data without a state change (same compare-and-set), with notices if any. */
  async function save(
    r: Rollback,
    lease: Lease,
    changes: Partial<Rollback>,
    data: Record<string, unknown>,
    notices: Notice[] = [],
  ): Promise<Rollback> {
    const next: Rollback = { ...r, ...changes, updatedAt: clock.now().toISOString() };
    const saved = await store.commit(
      { state: r.state, version: r.version },
      next,
      event(r, 'progress', system, r.state, r.state, data),
      lease,
      notices,
    );
    if (notices.length) outbox.kick(saved.id);
    return saved;
  }

  async function safely(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      logger.warn(`notification ${what} failed`, { error: (err as Error).message });
    }
  }

  const outbox = createOutbox({
    store,
    notifier: deps.notifier,
    ...(deps.pager ? { pager: deps.pager } : {}),
    clock,
    logger,
    owner: deps.owner,
    leaseMs: deps.leaseMs,
    background,
  });

  /**
   * Ephemeral updates (rollout progress, a failure the store could not record) need no outbox: they
   * are queued per rollback in this process, in order, and never awaited by a step.
   */
  const chains = new Map<string, Promise<void>>();
  function notify(id: string, what: string, fn: () => Promise<void>): void {
    const next = (chains.get(id) ?? Promise.resolve()).then(() => safely(what, fn));
    chains.set(id, next);
    background(
      next.finally(() => {
        if (chains.get(id) === next) chains.delete(id);
      }),
    );
  }

  function serviceOf(r: Rollback): CatalogEntry {
    return lookupService(deps.catalog, r.service);
  }

  const ctx: StepContext = { deps, system, move, save, notify, serviceOf };
  const leases = createLeases({ store, logger, leaseMs: deps.leaseMs });
  /** Records a step's failure; if even that fails, says so where people look and leaves it to the reaper. */
  async function recordFailure(
    id: string,
    state: State,
    err: unknown,
    lease: Lease,
  ): Promise<Rollback | undefined> {
    const e = asCodedError(err);
    logger.error(`rollback ${id} failed in ${state}`, { code: e.code, message: e.message });
    const failure = { step: state, code: e.code, message: e.message, at: clock.now().toISOString() };
    let latest: Rollback | undefined;
    try {
      latest = await store.get(id);
      if (!latest) return undefined;
      return await move(
        latest,
        latest.state === 'reporting' ? 'reported_failure' : 'fail',
        lease,
        system,
        { failure },
        { message: e.message, code: e.code },
      );
    } catch (storeErr) {
      const se = asCodedError(storeErr);
      if (HANDED_OVER.includes(se.code)) return undefined;
      logger.error(`rollback ${id}: the failure could not be recorded`, {
        code: se.code,
        message: se.message,
      });
      const thread = latest?.thread;
      if (thread)
        notify(id, 'say', () =>
          deps.notifier.say(
            thread,
            `:warning: The rollback failed in ${state.replaceAll('_', ' ')} (${e.message}), and recording that failed too (${se.message}). It is retried as soon as the store answers.`,
          ),
        );
      return undefined;
    }
  }

  /** Works on one rollback while this process holds its lease, until it waits for a person or ends. */
  async function drive(id: string, given?: HeldLease): Promise<void> {
    const lease = given?.lease ?? (await store.acquireLease(id, deps.owner, deps.leaseMs));
    if (!lease) return; // another process is on it
    const h = given ?? leases.hold(lease);
    try {
      let r = await store.get(id);
      while (r && WORKING.has(r.state) && !h.lost()) {
        const step = STEPS[r.state];
        if (!step) break;
        try {
          r = await step(ctx, r, lease);
        } catch (err) {
          const e = asCodedError(err);
          if (HANDED_OVER.includes(e.code)) {
            logger.warn(`rollback ${id}: ${e.message}`);
            return;
          }
          if (e.code === 'store_refused') {
            // Redis answers but takes no writes (full, read-only, credentials): a `fail` commit would be
            // refused too. Say so where people look; the reaper resumes from the stored state later.
            logger.error(`rollback ${id}: paused, Redis refuses writes`, { message: e.message });
            const thread = r.thread;
            if (thread)
              notify(id, 'say', () =>
                deps.notifier.say(
                  thread,
                  `:warning: The rollback is paused in ${r?.state.replaceAll('_', ' ')}: ${e.describe()}`,
                ),
              );
            return;
          }
          r = await recordFailure(id, r.state, err, lease);
        }
      }
    } finally {
      await h.stop();
    }
  }

  const reaper = createReaper({
    store,
    clock,
    logger,
    owner: deps.owner,
    leaseMs: deps.leaseMs,
    intervalMs: deps.reapIntervalMs ?? 1000,
    system,
    leases,
    outbox,
    serviceOf,
    move,
    resume: (id, held) => background(drive(id, held)),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });

  const decide = createDecide({
    store,
    clock,
    owner: deps.owner,
    leaseMs: deps.leaseMs,
    leases,
    serviceOf,
    event,
    move,
    continue: (id, held) => background(drive(id, held)),
  });

  function background(p: Promise<void>): void {
    const tracked = p
      .catch((err) => logger.error('rollback worker crashed', { error: (err as Error).message }))
      .finally(() => running.delete(tracked));
    running.add(tracked);
  }

  /**
   * Everything about a request that can be refused before anything is written, so a refused command
   * posts nothing in the channel. A rollback already holding the workload (not a dry run's concern:
   * dry runs take no lock) is refused with its record in `details.holder`, for a link to its thread.
   */
  async function check(
    input: Pick<RequestInput, 'service' | 'toRevision' | 'dryRun'>,
  ): Promise<CatalogEntry> {
    const svc = lookupService(deps.catalog, input.service);
    const holderId = input.dryRun ? undefined : await store.holderOf(svc.namespace, svc.deployment);
    if (holderId) {
      const holder = await store.get(holderId);
      const who = holder
        ? `${holder.requestedBy.name ?? holder.requestedBy.id} (${holder.state.replaceAll('_', ' ')}, ${holder.id})`
        : holderId;
      throw new CodedError(
        'rollback_in_progress',
        `a rollback of ${svc.name} is already in progress, requested by ${who}`,
        {
          remedy: 'Follow that rollback in its thread, or cancel it before starting another.',
          details: { holderId, ...(holder ? { holder } : {}) },
        },
      );
    }
    const toRevision = input.toRevision ?? 0;
    if (!Number.isSafeInteger(toRevision) || toRevision < 0) {
      throw new CodedError('rollback_bad_revision', `"${input.toRevision}" is not a revision number`, {
        remedy: 'Use a whole number from `/rollback history`.',
      });
    }
    const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
    chooseTarget(d, await kube.listRevisions(d), toRevision);
    return svc;
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
        kind: svc.kind,
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
        ...(input.signal ? { signal: input.signal } : {}),
        pageOnFailure: svc.paging.manualFailures,
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

    /** The database state is unknown: a person checked it and rolls back without the downgrade. */
    skipMigration: (id: string, actor: Actor) => decide(id, actor, 'skip_migration'),

    /** `/rollback cancel <service>`: cancels the rollback holding the service's lock, for its approvers and requester. */
    async cancelService(service: string, actor: Actor): Promise<Rollback> {
      const svc = lookupService(deps.catalog, service);
      const id = await store.holderOf(svc.namespace, svc.deployment);
      if (!id)
        throw new CodedError('rollback_not_found', `no rollback of ${svc.name} is in progress`, {
          remedy: `\`/rollback status ${svc.name}\` shows the recent ones.`,
        });
      return decide(id, actor, 'cancel');
    },

    /** One reaper pass: continues rollbacks whose owner died (their lease lapsed), expires unanswered waits. */
    resume: reaper.reap,

    /** Starts the reaper: every replica runs it, so no rollback is left behind whichever process dies. */
    start: reaper.start,

    /**
     * Stops the reaper and hands every lease this process holds over at once (SIGTERM), so another
     * replica's reaper continues the work within its interval instead of after the lease TTL.
     */
    async close(): Promise<void> {
      reaper.stop();
      outbox.close();
      await leases.closeAll();
    },

    get: (id: string) => store.get(id),

    recent: (limit: number, service?: string) =>
      store.listRecent(limit, service ? lookupService(deps.catalog, service).name : undefined),

    async history(service: string): Promise<RevisionEntry[]> {
      const svc = lookupService(deps.catalog, service);
      const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
      return buildHistory(d, await kube.listRevisions(d));
    },

    /**
     * What "Undo this rollback" would request (undo-rollback.ts), with the alerts still firing for
     * the service in its reason. Nothing is written: the caller requests it like any rollback.
     */
    async planUndo(id: string): Promise<UndoPlan & { reason: string }> {
      const r = await store.get(id);
      if (!r) throw new CodedError('rollback_not_found', `no rollback ${id.slice(0, 8)} is known`);
      const svc = lookupService(deps.catalog, r.service);
      const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
      const plan = planUndo(r, buildHistory(d, await kube.listRevisions(d)));
      const firing = deps.alerts
        ? await deps.alerts.firing(svc.name).then(
            (got) => [...new Set(got.alerts.map((a) => a.name))],
            (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
          )
        : undefined;
      return { ...plan, reason: undoReason(r, plan, firing) };
    },

    /**
     * Records what a checklist click changed (Slack sends the whole selection) in the audit trail,
     * and re-renders the stored report of a finished rollback.
     */
    async recordChecklist(id: string, actor: Actor, selected: string[]): Promise<Rollback> {
      const r = await store.get(id);
      if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
      try {
        assertMayTickChecklist(serviceOf(r), r, actor);
      } catch (err) {
        await store.append(
          event(r, 'note', actor, r.state, r.state, {
            kind: 'unauthorized',
            decision: 'checklist',
            message: (err as Error).message,
          }),
        );
        throw err;
      }
      const before = checklistState(await store.events(id));
      for (const item of POST_ROLLBACK_CHECKLIST) {
        const done = selected.includes(item);
        if ((before.get(item)?.done ?? false) !== done) {
          await store.append(event(r, 'note', actor, r.state, r.state, { kind: 'checklist', item, done }));
        }
      }
      if (!TERMINAL.has(r.state)) return r;
      const report = deps.renderReport(r, await store.events(id));
      const saved = await store.commit(
        { state: r.state, version: r.version },
        { ...r, report },
        event(r, 'progress', system, r.state, r.state, {
          milestone: 'report re-rendered with the checklist',
        }),
        undefined,
        r.thread ? [{ kind: 'reportUpdated', text: `checklist ticked by ${actor.name ?? actor.id}` }] : [],
      );
      outbox.kick(id);
      return saved;
    },

    /** Resume sync: restores the GitOps owner's settings the bot suspended (approvers, after the end). */
    resumeSync: createResumeSync({
      store,
      kube,
      clock,
      serviceOf,
      note: (r, actor, data) => event(r, 'note', actor, r.state, r.state, data),
      renderReport: deps.renderReport,
      kick: (id) => outbox.kick(id),
    }),

    /** A Release Manager's or Engineering Manager's sign-off on the report (the configured people). */
    signOff: createSignOff({
      store,
      now: () => clock.now(),
      serviceOf,
      note: (r, actor, data) => event(r, 'note', actor, r.state, r.state, data),
      renderReport: deps.renderReport,
      kick: (id) => outbox.kick(id),
    }),

    /** Run cleanup: the catalog's data cleanup after a verified rollback (approvers, once, never automatic). */
    runCleanup: createDataCleanup({
      store,
      kube,
      clock,
      logger,
      system,
      serviceOf,
      event: (r, actor, type, data) => event(r, type, actor, r.state, r.state, data),
      renderReport: deps.renderReport,
      kick: (id) => outbox.kick(id),
      background,
      say: (thread, text) => background(safely('say', () => deps.notifier.say(thread, text))),
    }),

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
