// The work leases this process holds. A lease is renewed from the moment it is taken (an approval's
// commit may wait on Redis or Slack; it must not lapse meanwhile) until stop(); closeAll() (SIGTERM)
// hands every one over at once, so another replica's reaper continues the work within its interval
// instead of after the lease TTL. A step still running here is fenced: its next commit fails.
import type { Lease, Logger, StorePort } from './ports.js';

export interface HeldLease {
  lease: Lease;
  /** The lease was lost (not renewed in time) or this process is closing: stop working. */
  lost(): boolean;
  stop(): Promise<void>;
}

export function createLeases(deps: { store: StorePort; logger: Logger; leaseMs: number }) {
  const { store, logger } = deps;
  const held = new Map<string, Lease>();
  let closing = false;

  function hold(lease: Lease): HeldLease {
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
      lease,
      lost: () => lost || closing,
      async stop() {
        clearInterval(renew);
        if (held.get(lease.id) !== lease) return; // closeAll() already handed it over
        held.delete(lease.id);
        await store.releaseLease(lease).catch((err: unknown) =>
          // It lapses by itself within its TTL; a successor resumes then.
          logger.warn(`lease of ${lease.id} not released`, { error: (err as Error).message }),
        );
      },
    };
  }

  return {
    hold,
    holds: (id: string) => held.has(id),
    closing: () => closing,
    async closeAll(): Promise<void> {
      closing = true;
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
  };
}

export type Leases = ReturnType<typeof createLeases>;
