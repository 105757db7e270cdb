// Every replica runs the reaper, so no rollback is left behind whichever process dies or is rolled:
// once a second it delivers outboxes a dead process left, resumes rollbacks in a working state whose
// lease lapsed, and cancels waits (proposals, approvals, database decisions) nobody answered in time.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError, type ErrorCode } from '../errors.js';
import type { HeldLease, Leases } from './leases.js';
import type { MetricsPort } from './metrics-port.js';
import type { Actor, Notice, Rollback } from './model.js';
import type { Outbox } from './outbox.js';
import type { Clock, Lease, Logger, StorePort } from './ports.js';
import { type EventType, type State, WORKING } from './states.js';

/** States that wait for a person, and expire when nobody answers. */
export const WAITING: ReadonlySet<State> = new Set(['awaiting_approval', 'awaiting_migration_approval']);

const HANDED_OVER: ErrorCode[] = ['store_lease_lost', 'store_conflict'];
const DEFAULT_EXPIRE_MINUTES = 60;

export interface ReaperDeps {
  store: StorePort;
  clock: Clock;
  logger: Logger;
  owner: string;
  leaseMs: number;
  intervalMs: number;
  system: Actor;
  leases: Leases;
  outbox: Outbox;
  serviceOf: (r: Rollback) => CatalogEntry;
  move: (
    r: Rollback,
    type: EventType,
    lease: Lease,
    actor: Actor,
    changes: Partial<Rollback>,
    data: Record<string, unknown>,
    notices: Notice[],
  ) => Promise<Rollback>;
  /** Continues a rollback under the lease just taken (in the background). */
  resume: (id: string, held: HeldLease) => void;
  /** Counts each rollback taken over from a process whose lease lapsed. */
  metrics?: MetricsPort;
}

export function createReaper(deps: ReaperDeps) {
  const { store, clock, logger, leases } = deps;
  let timer: NodeJS.Timeout | undefined;

  /** The service's wait limit; a service taken out of the catalog keeps the default. */
  function expireMinutes(r: Rollback): number {
    try {
      return deps.serviceOf(r).approvers.expireMinutes;
    } catch {
      return DEFAULT_EXPIRE_MINUTES; // no longer catalogued: nobody can approve it anyway
    }
  }

  /** A wait nobody answered ends: cancelled by the system, said in the thread. */
  async function expire(r: Rollback): Promise<void> {
    const lease = await store.acquireLease(r.id, deps.owner, deps.leaseMs);
    if (!lease) return;
    const h = leases.hold(lease);
    try {
      const minutes = expireMinutes(r);
      const at = clock.now().toISOString();
      await deps.move(
        r,
        'cancel',
        lease,
        deps.system,
        { decision: { event: 'cancel', by: deps.system, at } },
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

  /** One pass; returns how many rollbacks it resumed. */
  async function reap(): Promise<number> {
    await deps.outbox.sweep();
    let n = 0;
    for (const id of await store.listActive()) {
      if (leases.closing()) break;
      if (leases.holds(id)) continue;
      // One record the reaper cannot handle never stops the pass (nor a replica's start).
      try {
        const r = await store.get(id);
        if (!r) continue;
        if (WAITING.has(r.state)) {
          if (clock.now().getTime() - Date.parse(r.updatedAt) >= expireMinutes(r) * 60_000) await expire(r);
          continue;
        }
        if (!WORKING.has(r.state)) continue;
        const lease = await store.acquireLease(id, deps.owner, deps.leaseMs);
        if (!lease) continue;
        n += 1;
        deps.metrics?.leaseTakeover();
        logger.info(`resuming rollback ${id} in ${r.state}`);
        // A service no longer in the catalog fails in its step, with the reason in its report.
        deps.resume(id, leases.hold(lease));
      } catch (err) {
        logger.warn(`reaper: rollback ${id} skipped this pass`, { error: asCodedError(err).message });
      }
    }
    return n;
  }

  return {
    reap,
    start(): void {
      if (timer) return;
      let busy = false;
      timer = setInterval(() => {
        if (busy || leases.closing()) return;
        busy = true;
        reap()
          .catch((err: unknown) => logger.warn('reaper pass failed', { error: (err as Error).message }))
          .finally(() => {
            busy = false;
          });
      }, deps.intervalMs);
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
