// Runs rollbacks through the procedure: leases, sequences and commits; what each state does is in
// steps/<state>.ts. Every transition is committed (compare-and-set, fenced by the work lease, with its
// event) BEFORE the next step's effects run; every step can be re-run after a crash and does the right
// thing. Nothing is left behind: a lease is renewed from the moment it is taken, a reaper on every
// replica resumes rollbacks whose lease lapsed and expires waits nobody answered, and close() (SIGTERM)
// hands this process's leases over at once.
import { randomUUID } from 'node:crypto';
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError, CodedError, type ErrorCode, isCodedError } from '../errors.js';
import { assertMayDecide } from './authorize.js';
import { checklistState, POST_ROLLBACK_CHECKLIST } from './checklist.js';
import { assertMayTickChecklist } from './checklist-access.js';
import { lookupService } from './lookup-service.js';
import type { Actor, Notice, Rollback, RollbackEvent } from './model.js';
import { createOutbox } from './outbox.js';
import type { Lease } from './ports.js';
import { buildHistory, chooseTarget, type RevisionEntry } from './revisions.js';
import { type EventType, type State, TERMINAL, transition, WORKING } from './states.js';
import type { RunnerDeps, StepContext } from './steps/context.js';
import { STEPS } from './steps/index.js';

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

type Decision = 'approve' | 'approve_migration' | 'skip_migration' | 'cancel';

/** States that wait for a person, and expire when nobody answers. */
const WAITING: ReadonlySet<State> = new Set(['awaiting_approval', 'awaiting_migration_approval']);

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
  /** Leases this process holds now: close() hands them over. */
  const held = new Map<string, Lease>();
  let closing = false;
  let reaper: NodeJS.Timeout | undefined;

  /** Keeps a lease alive from the moment it is taken, until stop(). */
  function hold(lease: Lease): { lost: () => boolean; stop: () => Promise<void> } {
    held.set(lease.id, lease);
    let lost = false;
    const renew = setInterval(
      () => {
        store.renewLease(lease, deps.leaseMs).then(
          (ok) => {
            if (!ok) lost = true;
          },
          (err: unknown) =>
            logger.warn(`lease of ${lease.id} not renewed`, { error: (err as Error).message }),
        );
      },
      Math.max(200, Math.floor(deps.leaseMs / 3)),
    );
    return {
      lost: () => lost || closing,
      async stop() {
        clearInterval(renew);
        if (held.get(lease.id) !== lease) return; // close() already handed it over
        held.delete(lease.id);
        await store.releaseLease(lease).catch((err: unknown) =>
          // It lapses by itself within its TTL; a successor resumes then.
          logger.warn(`lease of ${lease.id} not released`, { error: (err as Error).message }),
        );
      },
    };
  }

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
  async function drive(id: string, given?: { lease: Lease; hold: ReturnType<typeof hold> }): Promise<void> {
    const lease = given?.lease ?? (await store.acquireLease(id, deps.owner, deps.leaseMs));
    if (!lease) return; // another process is on it
    const h = given?.hold ?? hold(lease);
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

  /** A wait nobody answered ends: cancelled by the system, said in the thread. */
  async function expire(r: Rollback): Promise<void> {
    const lease = await store.acquireLease(r.id, deps.owner, deps.leaseMs);
    if (!lease) return;
    const h = hold(lease);
    try {
      const minutes = serviceOf(r).approvers.expireMinutes;
      const at = clock.now().toISOString();
      await move(
        r,
        'cancel',
        lease,
        system,
        { decision: { event: 'cancel', by: system, at } },
        { expired: true, waitedMinutes: minutes },
        [
          {
            kind: 'say',
            text: `:hourglass: Expired: nobody decided within ${minutes} min, so the rollback was cancelled. Nothing was changed. Ask again with \`/rollback ${r.service}\` if it is still needed.`,
          },
        ],
      );
    } catch (err) {
      if (!HANDED_OVER.includes(asCodedError(err).code)) throw err; // decided meanwhile: fine
    } finally {
      await h.stop();
    }
  }

  /** One pass of the reaper: resume lapsed work, expire unanswered waits. */
  async function reap(): Promise<number> {
    await outbox.sweep();
    let n = 0;
    for (const id of await store.listActive()) {
      if (closing) break;
      if (held.has(id)) continue;
      const r = await store.get(id);
      if (!r) continue;
      if (WAITING.has(r.state)) {
        const minutes = serviceOf(r).approvers.expireMinutes;
        if (clock.now().getTime() - Date.parse(r.updatedAt) >= minutes * 60_000) await expire(r);
        continue;
      }
      if (!WORKING.has(r.state)) continue;
      const lease = await store.acquireLease(id, deps.owner, deps.leaseMs);
      if (!lease) continue;
      n += 1;
      logger.info(`resuming rollback ${id} in ${r.state}`);
      background(drive(id, { lease, hold: hold(lease) }));
    }
    return n;
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
    skip_migration: ['awaiting_migration_approval'],
    cancel: ['awaiting_approval', 'awaiting_migration_approval'],
  };

  /** At the database gate, which way on depends on what the gate found. */
  function assertGateAllows(r: Rollback, decision: Decision): void {
    const gate = r.migrationGate?.kind;
    if (decision === 'approve_migration' && gate !== 'downgrade')
      throw new CodedError(
        'rollback_wrong_state',
        'the database state is unknown, so there is no downgrade to approve: roll back without it (after checking the database) or cancel',
        { details: { state: r.state } },
      );
    if (decision === 'skip_migration' && gate !== 'unknown')
      throw new CodedError(
        'rollback_wrong_state',
        'the database is known to be ahead of the target: approve the downgrade or cancel',
        { details: { state: r.state } },
      );
  }

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
    assertGateAllows(r, decision);
    // Two replicas or a double click: only the one that gets the lease and wins the compare-and-set acts.
    const lease = await store.acquireLease(id, deps.owner, deps.leaseMs);
    if (!lease)
      throw new CodedError('rollback_wrong_state', 'this rollback is being handled right now', {
        details: { state: r.state },
      });
    // Renewed from this moment: the commit below may wait on Slack, the lease must not lapse meanwhile.
    const h = hold(lease);
    try {
      const at = clock.now().toISOString();
      const changes: Partial<Rollback> =
        decision === 'approve'
          ? { approvals: [...r.approvals, { by: actor, at }], decision: { event: 'approve', by: actor, at } }
          : decision === 'approve_migration'
            ? { migrationApproval: { by: actor, at } }
            : decision === 'skip_migration'
              ? { migrationSkipped: { by: actor, at } }
              : { decision: { event: 'cancel', by: actor, at } };
      const next = await move(r, decision, lease, actor, changes);
      if (decision !== 'cancel') background(drive(id, { lease, hold: h }));
      else await h.stop();
      return next;
    } catch (err) {
      await h.stop();
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
    resume: reap,

    /** Starts the reaper: every replica runs it, so no rollback is left behind whichever process dies. */
    start(): void {
      if (reaper) return;
      const every = deps.reapIntervalMs ?? 1000;
      let busy = false;
      reaper = setInterval(() => {
        if (busy || closing) return;
        busy = true;
        reap()
          .catch((err: unknown) => logger.warn('reaper pass failed', { error: (err as Error).message }))
          .finally(() => {
            busy = false;
          });
      }, every);
    },

    /**
     * Stops the reaper and hands every lease this process holds over at once (SIGTERM), so another
     * replica's reaper continues the work within its interval instead of after the lease TTL. Steps
     * still running here are fenced: their next commit fails with store_lease_lost and they stop.
     */
    async close(): Promise<void> {
      closing = true;
      outbox.close();
      if (reaper) clearInterval(reaper);
      const leases = [...held.values()];
      held.clear();
      await Promise.all(
        leases.map((l) =>
          store.releaseLease(l).catch((err: unknown) =>
            logger.warn(`lease of ${l.id} not released; it lapses within its TTL`, {
              error: (err as Error).message,
            }),
          ),
        ),
      );
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
