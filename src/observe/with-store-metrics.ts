// Rollback counts and step durations read off the store's transitions, so no step has to remember
// to report them: every state change passes commit(). A step's duration runs from the transition
// into its state to the one out of it. After a restart the entry time is read back from the audit
// trail once (the first step a resumed rollback finishes), so a takeover still measures truly.
import type { Rollback } from '../rollback/model.js';
import type { Logger, StorePort } from '../rollback/ports.js';
import { type State, TERMINAL } from '../rollback/states.js';
import type { BotMetrics } from './create-bot-metrics.js';

export function withStoreMetrics<S extends StorePort>(store: S, metrics: BotMetrics, logger: Logger): S {
  /** Rollback id → the state it is in and since when (epoch ms), for rollbacks this process moved. */
  const entered = new Map<string, { state: State; at: number }>();
  /** One rollback's observations in commit order (an audit-trail read must not let a later one pass). */
  const chains = new Map<string, Promise<void>>();

  async function enteredAt(id: string, state: State): Promise<number | undefined> {
    const known = entered.get(id);
    if (known?.state === state) return known.at;
    const events = await store.events(id);
    const last = events.filter((e) => e.to === state).at(-1);
    return last ? Date.parse(last.at) : undefined;
  }

  async function observe(from: State, next: Rollback): Promise<void> {
    if (from !== next.state) {
      const since = await enteredAt(next.id, from);
      if (since !== undefined)
        metrics.stepFinished(from, Math.max(0, (Date.parse(next.updatedAt) - since) / 1000));
    }
    if (TERMINAL.has(next.state)) {
      entered.delete(next.id);
      if (from !== next.state)
        metrics.rollbackFinished(next.service, next.dryRun ? 'dry_run' : next.mode, next.state);
    } else if (from !== next.state)
      entered.set(next.id, { state: next.state, at: Date.parse(next.updatedAt) });
  }

  return {
    ...store,
    async create(r, event, opts) {
      await store.create(r, event, opts);
      entered.set(r.id, { state: r.state, at: Date.parse(r.updatedAt) });
    },
    async commit(expected, next, event, lease, notices) {
      const stored = await store.commit(expected, next, event, lease, notices);
      // Counting must never fail or slow the transition it counts.
      const chain = (chains.get(stored.id) ?? Promise.resolve())
        .then(() => observe(expected.state, stored))
        .catch((err: unknown) =>
          logger.warn('metrics: step duration not recorded', { id: next.id, error: (err as Error).message }),
        );
      if (TERMINAL.has(stored.state)) chains.delete(stored.id);
      else chains.set(stored.id, chain);
      return stored;
    },
  };
}
