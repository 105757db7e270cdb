// Signals (alerts, watch conditions) → incidents: one per service and current revision, however many
// signals arrive. Only a firing trigger opens the incident thread (a resolved alert, an alert outside
// the allow-list, or one that started before the current revision was rolled out is context only) and,
// by the service's policy, proposes a rollback (Approve/Cancel, same approver rules) or starts one at
// once behind the guard rails, after a fresh read confirms the signal (incident-open.ts). The thread
// keeps one Signals message, edited in place, instead of a reply per alert. A storm is taken in short
// per-service batches, so its cost grows with time, not with notifications.

import type { CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError } from '../errors.js';
import { createIncidentOpener, type IncidentDeps, OPEN_BACKOFF_MS, OPEN_TRIES } from './incident-open.js';
import type { ReplicaSetSnapshot } from './kube-types.js';
import { lookupService } from './lookup-service.js';
import type { Rollback } from './model.js';
import type { Incident, SignalEntry } from './ports.js';
import { findNewReplicaSet, imagesOf, ownedReplicaSets, REVISION_ANNOTATION } from './revisions.js';
import type { Signal } from './signal.js';
import { createSignalsBoard, entryOf, utc, withEntries } from './signals-board.js';
import { TERMINAL } from './states.js';

export { describeSignal, type IncidentDeps } from './incident-open.js';
export { buildSignalsText } from './signals-board.js';

/** Replays of a signal seen this recently are dropped before any I/O (alert storms re-send groups). */
const RECENT_LIMIT = 10_000;
const RECENT_MS = 5 * 60_000;
/** After a rollback put the target back, signals this recent still belong to its incident. */
const AFTERMATH_MS = 10 * 60_000;
/** An incident still `opening` after this long lost its opener (a crash): the next signal takes over. */
const OPENING_STALE_MS = 2 * 60_000;
/**
 * A service's batches start at most this often. A lone signal, or the first after a quiet spell, is
 * handled at once; only during a storm does a signal wait (at most this long) to join the next batch,
 * so the revision reads, Redis round trips and Signals edits grow with time, not with notifications.
 */
const BATCH_GAP_MS = 100;
/** Context signals seen before their incident opened, kept in memory for its Signals message. */
const PENDING_LIMIT = 1000;

/** The revision a batch of signals is about, and the incident it belongs to. */
interface View {
  key: string;
  revision: number;
  images: string[];
  currentRevision: number;
  /** The current revision's ReplicaSet, if found. */
  current: ReplicaSetSnapshot | undefined;
}

/** Only a firing trigger may open an incident; anything else joins one that exists. */
const isTrigger = (s: Signal) => s.status === 'firing' && !s.context;

/** Rollbacks of the Deployment a catalog entry names now (an entry can be re-pointed). */
const onDeployment = (svc: CatalogEntry) => (r: Rollback) =>
  r.namespace === svc.namespace && r.deployment === svc.deployment;

export function createIncidents(deps: IncidentDeps) {
  const { store, kube, clock, logger } = deps;
  const board = createSignalsBoard({
    notifier: deps.notifier,
    logger,
    // The first post's ts is kept with the incident (through the service's queue, after the batch
    // that may be writing it), so another replica or a restart edits the same message.
    onPosted: (incident, ts) => persistTs(incident.service, incident.key, ts),
  });
  const recent = new Map<string, number>();
  const queues = new Map<string, Promise<void>>();
  const pending = new Map<string, Record<string, SignalEntry>>();

  const idOf = (s: Signal) => `${s.service}|${s.key}|${s.status}|${s.why.since}`;
  const opener = createIncidentOpener(deps, board, { pending, forget: (s) => recent.delete(idOf(s)) });

  function remember(id: string): boolean {
    const now = clock.now().getTime();
    const seen = recent.get(id);
    if (seen !== undefined && now - seen < RECENT_MS) return false;
    recent.delete(id);
    recent.set(id, now);
    if (recent.size > RECENT_LIMIT) recent.delete(recent.keys().next().value as string);
    return true;
  }

  /**
   * The revision a signal is about, given the service's last rollback on its Deployment. Alerts lag: while a rollback runs, and for a while after it put the
   * target back, signals still describe the bad release, so they belong to that rollback's incident.
   */
  function badRevision(
    last: Rollback | undefined,
    currentRevision: number,
    currentImages: string[],
  ): { revision: number; images: string[] } {
    const current = { revision: currentRevision, images: currentImages };
    const from = last?.assessment?.from;
    if (!last || from === undefined || last.dryRun) return current;
    if (
      !TERMINAL.has(last.state) &&
      last.state !== 'awaiting_approval' &&
      last.state !== 'requested' &&
      last.state !== 'assessing'
    )
      return from;
    const recent = clock.now().getTime() - Date.parse(last.updatedAt) < AFTERMATH_MS;
    const onTarget = last.assessment?.target?.images.join(',') === currentImages.join(',');
    return last.undo && recent && onTarget ? from : current;
  }

  /** Keeps the Signals message's ts with the incident, after whatever the service's queue is doing. */
  function persistTs(service: string, key: string, ts: string): void {
    const chain = (queues.get(service) ?? Promise.resolve()).then(async () => {
      const incident = await store.findIncident(key);
      if (!incident || incident.signalsTs === ts) return;
      await store.saveIncident({ ...incident, signalsTs: ts });
    });
    const safe = chain.catch((err: unknown) =>
      // The ts stays in this process's memory (later edits use it); only another replica would post anew.
      logger.warn('signals message ts not saved', { key, error: asCodedError(err).message }),
    );
    queues.set(service, safe);
  }

  /** What every signal of a batch is about: the service's current and bad revision, read once. */
  async function readView(svc: CatalogEntry): Promise<View> {
    // The Deployment's revisions and the service's last rollback are read side by side.
    const [{ d, revisions }, recent] = await Promise.all([
      kube
        .readWorkload(svc.kind, svc.namespace, svc.deployment)
        .then(async (d) => ({ d, revisions: await kube.listRevisions(d) })),
      store.listRecent(10, svc.name),
    ]);
    const current = findNewReplicaSet(d, ownedReplicaSets(d, revisions));
    const currentImages = current ? imagesOf(current.template) : imagesOf(d.template);
    const currentRevision = Number(d.annotations[REVISION_ANNOTATION] ?? 0);
    const bad = badRevision(recent.find(onDeployment(svc)), currentRevision, currentImages);
    // The Deployment and the release's images, not just the revision number: numbers restart when a
    // Deployment is re-created, and a catalog entry may be moved to another Deployment.
    const key = `${svc.name}:${svc.namespace}/${svc.deployment}:${bad.revision}:${bad.images.join(',')}`;
    return { key, revision: bad.revision, images: bad.images, currentRevision, current };
  }

  /** A joining signal, to be added to its incident's Signals message at the batch's end. */
  function join(joins: Map<string, Signal[]>, key: string, s: Signal): void {
    const list = joins.get(key) ?? [];
    list.push(s);
    joins.set(key, list);
  }

  /** Signals for an incident not open yet, kept in memory for its Signals message. */
  function hold(key: string, signals: Signal[]): void {
    const now = clock.now().toISOString();
    pending.set(
      key,
      withEntries(
        pending.get(key),
        signals.map((s) => [s.key, entryOf(s, now)]),
      ),
    );
    if (pending.size > PENDING_LIMIT) pending.delete(pending.keys().next().value as string);
  }

  /**
   * One signal against the batch's view: recorded once per incident (firstSight), then it either
   * opens the incident (a firing trigger that claims it) or joins it (collected in `joins`).
   */
  async function place(
    svc: CatalogEntry,
    view: View,
    s0: Signal,
    known: Map<string, Incident>,
    joins: Map<string, Signal[]>,
  ): Promise<void> {
    let s = s0;
    // An alert that started before the current revision was rolled out is about something else.
    if (
      !s.context &&
      s.source === 'alert' &&
      view.current &&
      view.revision === view.currentRevision &&
      Date.parse(s.why.since) < Date.parse(view.current.creationTimestamp)
    )
      s = {
        ...s,
        context: `started before the current revision was rolled out (${utc(view.current.creationTimestamp)})`,
      };
    const { key } = view;
    const first = await store.firstSight(key, `${s.key}:${s.status}:${s.why.since}`);
    // Never claims: a resolved or context signal only joins an incident that exists.
    if (s.status !== 'firing' || s.context) {
      if (first) join(joins, key, s);
      return;
    }
    // This batch already opened or found the incident open: a further trigger only joins it.
    if (known.get(key)?.status === 'open') {
      if (first) join(joins, key, s);
      return;
    }
    const fresh: Incident = {
      key,
      service: svc.name,
      namespace: svc.namespace,
      deployment: svc.deployment,
      revision: view.revision,
      images: view.images,
      openedAt: clock.now().toISOString(),
      openedBy: { source: s.source, name: s.name, key: s.key },
      status: 'opening',
    };
    const { created, incident } = await store.claimIncident(fresh);
    const stale =
      incident.status === 'opening' &&
      !opener.isOpeningHere(key) &&
      clock.now().getTime() - Date.parse(incident.openedAt) > OPENING_STALE_MS;
    if (created || incident.status === 'failed' || stale) {
      if (opener.isOpeningHere(key)) return;
      await opener.openWithRetry(svc, s, incident);
      known.set(key, incident);
      return;
    }
    if (!first) return;
    if (incident.status === 'opening') {
      hold(key, [s]);
      return;
    }
    known.set(key, incident);
    join(joins, key, s);
  }

  /** Adds a batch's joining signals to their incident: one read, one write, one Signals edit. */
  async function addJoins(key: string, signals: Signal[], boards: Promise<void>[]): Promise<void> {
    const incident = await store.findIncident(key);
    if (!incident || (incident.status !== 'open' && incident.status !== undefined)) {
      hold(key, signals);
      return;
    }
    const now = clock.now().toISOString();
    incident.signals = withEntries(
      incident.signals,
      signals.map((s) => [s.key, entryOf(s, now)]),
    );
    incident.signalsTs ??= board.tsOf(key);
    await store.saveIncident(incident);
    boards.push(board.update(incident));
  }

  /** Retries a firing trigger's step like opening (1 s, 2 s); anything else fails at once. */
  async function retrying<T>(trigger: boolean, what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!trigger || attempt >= OPEN_TRIES) throw err;
        logger.warn('signal failed, retrying', { what, attempt, error: asCodedError(err).message });
        await clock.sleep(OPEN_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
  }

  /**
   * Signals that could not be handled (Kubernetes or Redis unreachable) are forgotten, so that
   * Alertmanager's re-send tries again, and a firing trigger among them is paged: never dropped silently.
   */
  async function failed(svc: CatalogEntry | undefined, signals: Signal[], err: unknown): Promise<void> {
    const message = asCodedError(err).message;
    for (const s of signals) recent.delete(idOf(s));
    logger.error('signal failed', { service: signals[0]?.service, signals: signals.length, error: message });
    const trigger = signals.find(isTrigger);
    if (!trigger || !svc || !deps.pager) return;
    await deps.pager
      .rollbackSuppressed(
        {
          key: `${svc.name}:${svc.namespace}/${svc.deployment}`,
          service: svc.name,
          namespace: svc.namespace,
          deployment: svc.deployment,
          revision: 0,
          images: [],
          openedAt: clock.now().toISOString(),
          openedBy: { source: trigger.source, name: trigger.name, key: trigger.key },
        },
        `could not handle ${trigger.name} after ${OPEN_TRIES} tries: ${message}`,
      )
      .catch((e: unknown) => logger.error('page failed', { error: (e as Error).message }));
  }

  /**
   * One service's signals that arrived together, in order. The revision is read once for all of them,
   * each signal is recorded and placed, then each incident gets its new lines in one write and one
   * Signals edit. Returns the edits in flight: the next batch does not wait for Slack.
   */
  async function handleBatch(service: string, signals: Signal[]): Promise<Promise<void>[]> {
    const boards: Promise<void>[] = [];
    const svc = deps.catalog.services.get(service);
    try {
      const found = lookupService(deps.catalog, service);
      const view = await retrying(signals.some(isTrigger), found.name, () => readView(found));
      const known = new Map<string, Incident>();
      const joins = new Map<string, Signal[]>();
      for (const s of signals) {
        try {
          await retrying(isTrigger(s), s.name, () => place(found, view, s, known, joins));
        } catch (err) {
          await failed(found, [s], err);
        }
      }
      for (const [key, list] of joins)
        await addJoins(key, list, boards).catch((err: unknown) => failed(found, list, err));
    } catch (err) {
      await failed(svc, signals, err);
    }
    return boards;
  }

  /** Per service, the batch still taking signals: it starts when the one before it has finished. */
  const inbox = new Map<string, { signals: Signal[]; done: Promise<void> }>();
  /** When each service's last batch started (one entry per catalogued service at most). */
  const lastStart = new Map<string, number>();

  function enqueue(s: Signal): Promise<void> {
    const waiting = inbox.get(s.service);
    if (waiting) {
      waiting.signals.push(s);
      return waiting.done;
    }
    const batch = { signals: [s], done: Promise.resolve() };
    inbox.set(s.service, batch);
    const handled = (queues.get(s.service) ?? Promise.resolve()).then(async () => {
      const wait =
        (lastStart.get(s.service) ?? Number.NEGATIVE_INFINITY) + BATCH_GAP_MS - clock.now().getTime();
      if (wait > 0) await clock.sleep(wait); // still taking signals meanwhile
      lastStart.set(s.service, clock.now().getTime());
      inbox.delete(s.service); // from here on, arrivals make the next batch
      return handleBatch(s.service, batch.signals);
    });
    const chain = handled.then(() => undefined);
    queues.set(s.service, chain);
    // handleBatch never rejects (it records every failure), so neither do these.
    void chain.then(() => {
      if (queues.get(s.service) === chain) queues.delete(s.service);
    });
    batch.done = handled.then((boards) => Promise.all(boards)).then(() => undefined);
    return batch.done;
  }

  return {
    /**
     * Takes signals in order per service; replays of a signal already seen are dropped at once.
     * Resolves when they are handled and the Signals messages they changed are updated.
     */
    signal(signals: Signal[]): Promise<void> {
      const work = new Set<Promise<void>>();
      for (const s of signals) if (remember(idOf(s))) work.add(enqueue(s));
      return Promise.all(work).then(() => undefined);
    },
  };
}
export type Incidents = ReturnType<typeof createIncidents>;
