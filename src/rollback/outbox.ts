// What must be posted is committed with its transition (an outbox list per rollback, written by the
// same Redis script as the commit) and delivered from there, in order, by one process at a time (a
// delivery lease), with retries: a step never waits for Slack or PagerDuty, a Slack outage only
// delays the thread, and a process that dies leaves its undelivered notices to the next one.
// Delivery is at least once: a crash between Slack accepting a post and the acknowledgement here can
// repeat that one post; nothing is ever lost or reordered.
//
// The root message's updates (stateChanged) are delivered beside the thread's notices, not in their
// line: the root shows the latest state, so one update covers every stateChanged before it, and
// Slack paces updates per workspace (Tier 3) while posts go per channel. In line, twenty rollbacks'
// root updates held every thread's next post behind the workspace's update budget. A stateChanged is
// acknowledged only once an update read after it was committed reached Slack.
import type { Notice, OutboxItem, Rollback } from './model.js';
import type { Clock, Lease, Logger, NotifierPort, PagerPort, StorePort } from './ports.js';

export interface OutboxDeps {
  store: StorePort;
  notifier: NotifierPort;
  pager?: PagerPort;
  clock: Clock;
  logger: Logger;
  owner: string;
  leaseMs: number;
  /** Runs a delivery in the background (the runner tracks it for idle()). */
  background: (p: Promise<void>) => void;
}

/** Tries per notice before it is dropped (logged and audited): ≈ 3 minutes of a failing Slack. */
const MAX_ATTEMPTS = 20;
const MAX_BACKOFF_MS = 10_000;

export function createOutbox(deps: OutboxDeps) {
  const { store, clock, logger } = deps;
  const pumping = new Set<string>();
  /** Kicked while its pump was finishing: pump once more, or a notice could wait for the reaper. */
  const again = new Set<string>();
  /** Wakes the delivery lines of a pump running in this process. */
  const wakers = new Map<string, () => void>();
  let closed = false;

  /**
   * Delivers one notice; what it reached, when that matters to the report (who was notified, which
   * incident was paged), comes back to be recorded in the audit trail.
   */
  async function deliver(item: OutboxItem, r: Rollback): Promise<Record<string, unknown> | undefined> {
    const n = deps.notifier;
    switch (item.kind) {
      case 'starting': {
        const to = await n.starting(r);
        return to ? { kind: 'notified', to } : undefined;
      }
      case 'pageStarted':
      case 'pageFinished': {
        const page = await (item.kind === 'pageStarted'
          ? deps.pager?.rollbackStarted(r)
          : deps.pager?.rollbackFinished(r));
        return page && page.action !== 'none' ? { kind: 'paged', ...page } : undefined;
      }
      default:
        await deliverPlain(item, r);
        return undefined;
    }
  }

  async function deliverPlain(item: OutboxItem, r: Rollback): Promise<void> {
    const n = deps.notifier;
    switch (item.kind) {
      case 'stateChanged':
        return n.stateChanged(r);
      case 'assessed':
        return n.assessed(r);
      case 'migrationApprovalNeeded':
        return n.migrationApprovalNeeded(r);
      case 'finished':
        return n.finished(r, r.report ?? '');
      case 'say':
        return r.thread ? n.say(r.thread, item.text ?? '') : undefined;
      case 'reportUpdated':
        return n.reportUpdated(r, r.report ?? '', item.text ?? '');
    }
  }

  /** An audit-trail note by this process about a delivery. */
  const note = (r: Rollback, data: Record<string, unknown>) => ({
    id: r.id,
    type: 'note' as const,
    from: r.state,
    to: r.state,
    actor: { kind: 'system' as const, id: deps.owner, name: 'rollback-bot' },
    at: clock.now().toISOString(),
    data,
  });

  /** A failed try: logs it and waits, or after MAX_ATTEMPTS drops the notice (audited). */
  async function failed(
    id: string,
    r: Rollback,
    items: OutboxItem[],
    attempts: number,
    err: unknown,
  ): Promise<boolean> {
    const error = (err as Error).message;
    const kind = items[0]?.kind ?? 'notice';
    if (attempts >= MAX_ATTEMPTS) {
      logger.error(`rollback ${id}: notice ${kind} dropped after ${attempts} tries`, { error });
      await store.append(note(r, { kind: 'notice_dropped', notice: kind, error }));
      for (const item of items) await store.ackOutbox(id, item.seq);
      return true;
    }
    logger.warn(`rollback ${id}: notice ${kind} not delivered yet (try ${attempts})`, { error });
    await clock.sleep(Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempts, 5)));
    return false;
  }

  /** The thread's notices, in order (the root's updates are delivered beside them). */
  async function deliverThread(id: string, ends: () => boolean): Promise<void> {
    let attempts = 0;
    while (!closed) {
      const items = (await store.outbox(id, 50)).filter((x) => x.kind !== 'stateChanged');
      const item = items[0];
      if (!item) {
        if (ends()) return;
        continue;
      }
      // A report update posts the latest report: one with a later one queued is not needed.
      if (item.kind === 'reportUpdated' && items.slice(1).some((x) => x.kind === item.kind)) {
        await store.ackOutbox(id, item.seq);
        continue;
      }
      const r = await store.get(id);
      if (!r) {
        await store.ackOutbox(id, item.seq);
        continue;
      }
      try {
        const reached = await deliver(item, r);
        if (reached)
          await store.append(note(r, reached)).catch((err: unknown) =>
            logger.warn(`rollback ${id}: could not record ${item.kind}`, {
              error: (err as Error).message,
            }),
          );
        await store.ackOutbox(id, item.seq);
        attempts = 0;
      } catch (err) {
        attempts += 1;
        if (await failed(id, r, [item], attempts, err)) attempts = 0;
      }
    }
  }

  /** The root message: one update with the latest record covers every stateChanged queued before it. */
  async function deliverRoot(id: string, ends: () => boolean): Promise<void> {
    let attempts = 0;
    while (!closed) {
      const due = (await store.outbox(id, 50)).filter((x) => x.kind === 'stateChanged');
      if (!due.length) {
        if (ends()) return;
        continue;
      }
      // Read after the notices were listed: the record is at least as new as each of them.
      const r = await store.get(id);
      if (!r) {
        for (const item of due) await store.ackOutbox(id, item.seq);
        continue;
      }
      try {
        await deps.notifier.stateChanged(r);
        for (const item of due) await store.ackOutbox(id, item.seq);
        attempts = 0;
      } catch (err) {
        attempts += 1;
        if (await failed(id, r, due, attempts, err)) attempts = 0;
      }
    }
  }

  async function pump(id: string): Promise<void> {
    const lease: Lease | undefined = await store.acquireOutboxLease(id, deps.owner, deps.leaseMs);
    if (!lease) return; // another process is delivering; it keeps the order
    const renew = setInterval(
      // A renewal that fails lets the lease lapse: another process may then deliver, which repeats
      // at most the notice in flight (delivery is at least once), never loses one.
      () => void store.renewOutboxLease(lease, deps.leaseMs).catch(() => undefined),
      Math.max(200, Math.floor(deps.leaseMs / 3)),
    );
    // Two lines, each until it has nothing left. A notice committed meanwhile wakes them (kick): a
    // line still running looks again before it ends, one that ended starts again. A line ends and
    // leaves `lines` in one synchronous step (`ends`): unregistered any later, a kick landing between
    // its last empty read and its cleanup would only mark a line that no longer looks, and the
    // notice would wait for the reaper.
    const lines: Partial<Record<'thread' | 'root', { done: Promise<void>; woken: boolean }>> = {};
    const start = (name: 'thread' | 'root') => {
      const running = lines[name];
      if (running) {
        running.woken = true;
        return;
      }
      const line = { woken: false, done: Promise.resolve() };
      const ends = () => {
        if (line.woken) {
          line.woken = false;
          return false;
        }
        if (lines[name] === line) lines[name] = undefined;
        return true;
      };
      line.done = (name === 'thread' ? deliverThread(id, ends) : deliverRoot(id, ends)).finally(() => {
        if (lines[name] === line) lines[name] = undefined;
      });
      lines[name] = line;
    };
    const wake = () => {
      start('thread');
      start('root');
    };
    wakers.set(id, wake);
    try {
      wake();
      for (;;) {
        const running = [lines.thread?.done, lines.root?.done].filter((p) => p !== undefined);
        if (!running.length) break;
        await Promise.all(running);
      }
    } finally {
      wakers.delete(id);
      clearInterval(renew);
      // Not released: it lapses within its TTL and the reaper's sweep delivers what is left.
      await store.releaseOutboxLease(lease).catch(() => undefined);
    }
  }

  /** Delivers the rollback's pending notices in the background, unless this process already is. */
  function kick(id: string): void {
    if (closed) return;
    if (pumping.has(id)) {
      const wake = wakers.get(id);
      if (wake) wake();
      else again.add(id);
      return;
    }
    pumping.add(id);
    deps.background(
      pump(id)
        .catch((err: unknown) =>
          logger.warn(`rollback ${id}: delivery stopped`, { error: (err as Error).message }),
        )
        .finally(() => {
          pumping.delete(id);
          if (again.delete(id)) kick(id);
        }),
    );
  }

  return {
    kick,
    /** Every rollback with undelivered notices (the reaper's pass): what a dead process left. */
    async sweep(): Promise<void> {
      for (const id of await store.pendingOutboxes()) kick(id);
    },
    close(): void {
      closed = true;
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
export type { Notice };
