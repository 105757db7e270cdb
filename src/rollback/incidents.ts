// Signals (alerts, watch conditions) → incidents: one per service and current revision, however many
// signals arrive. Only a firing trigger opens the incident thread (a resolved alert, an alert outside
// the allow-list, or one that started before the current revision was rolled out is context only) and,
// by the service's policy, proposes a rollback (Approve/Cancel, same approver rules) or starts one at
// once behind the guard rails, after a fresh read confirms the signal. The thread keeps one Signals
// message, edited in place, instead of a reply per alert. Opening is retried, then paged, and a failed
// incident is marked so the next firing signal opens it again.

import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError } from '../errors.js';
import { defuseMrkdwn as defuse, escapeMrkdwn as esc } from '../escape-mrkdwn.js';
import { createIncidentChecks } from './incident-checks.js';
import type { ReplicaSetSnapshot } from './kube-types.js';
import { lookupService } from './lookup-service.js';
import type { MetricsPort } from './metrics-port.js';
import type { Rollback } from './model.js';
import type {
  Clock,
  Incident,
  KubePort,
  Logger,
  NotifierPort,
  ObservePort,
  PagerPort,
  Pause,
  SignalEntry,
  StorePort,
} from './ports.js';
import {
  chooseTarget,
  findNewReplicaSet,
  imagesOf,
  ownedReplicaSets,
  REVISION_ANNOTATION,
} from './revisions.js';
import type { Runner } from './runner.js';
import type { Signal } from './signal.js';
import { createSignalsBoard, entryOf, utc, withEntries, withEntry } from './signals-board.js';
import { TERMINAL } from './states.js';

export { buildSignalsText } from './signals-board.js';

export interface IncidentDeps {
  store: StorePort;
  kube: KubePort;
  runner: Runner;
  notifier: NotifierPort;
  pager?: PagerPort;
  /** Prometheus, to confirm an error-ratio or p99 signal before an automatic rollback. */
  observe?: ObservePort;
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
  /** Counts the automatic rollbacks a guard rail or a pause held back (the bot's /metrics). */
  metrics?: MetricsPort;
}

/** Replays of a signal seen this recently are dropped before any I/O (alert storms re-send groups). */
const RECENT_LIMIT = 10_000;
const RECENT_MS = 5 * 60_000;
/** After a rollback put the target back, signals this recent still belong to its incident. */
const AFTERMATH_MS = 10 * 60_000;
/** Opening an incident is tried this many times, waiting OPEN_BACKOFF_MS × 2^n between tries. */
const OPEN_TRIES = 3;
const OPEN_BACKOFF_MS = 1000;
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

/** Alert text is untrusted: every value is escaped (no pings, links or code-span breaks) here. */
export function describeSignal(s: Signal): string {
  const parts = [`*${esc(s.name)}*${s.status === 'resolved' ? ' (resolved)' : ''}: ${esc(s.summary)}`];
  const w = s.why;
  if (w.query) parts.push(`query \`${esc(w.query)}\``);
  if (w.value) parts.push(`value ${esc(w.value)}`);
  if (w.threshold) parts.push(`threshold ${esc(w.threshold)}`);
  parts.push(`since ${utc(esc(w.since))}`);
  return parts.join(' · ');
}

export function createIncidents(deps: IncidentDeps) {
  const { store, kube, clock, logger } = deps;
  const { guard, confirm } = createIncidentChecks(deps);
  const board = createSignalsBoard({
    notifier: deps.notifier,
    logger,
    // The first post's ts is kept with the incident (through the service's queue, after the batch
    // that may be writing it), so another replica or a restart edits the same message.
    onPosted: (incident, ts) => persistTs(incident.service, incident.key, ts),
  });
  const recent = new Map<string, number>();
  const queues = new Map<string, Promise<void>>();
  /** Incidents this process is opening right now (its retries take over its own claim). */
  const openingHere = new Set<string>();
  const pending = new Map<string, Record<string, SignalEntry>>();

  const idOf = (s: Signal) => `${s.service}|${s.key}|${s.status}|${s.why.since}`;

  function remember(id: string): boolean {
    const now = clock.now().getTime();
    const seen = recent.get(id);
    if (seen !== undefined && now - seen < RECENT_MS) return false;
    recent.delete(id);
    recent.set(id, now);
    if (recent.size > RECENT_LIMIT) recent.delete(recent.keys().next().value as string);
    return true;
  }

  async function open(svc: CatalogEntry, s: Signal, incident: Incident): Promise<void> {
    const reason = `${s.name}: ${s.summary}`;
    const actor = { kind: s.source, id: s.key, name: s.name } as const;
    let mode: 'auto' | 'manual' = 'manual';
    let suppressed: string | undefined;
    let unconfirmed: string | undefined;
    let paused: Pause | undefined;
    if (svc.policy.mode === 'auto' && !incident.rollbackId) {
      // Paused by an approver: the incident and a proposal as under `propose`, no page (they are on it).
      paused = await store.pauseOf(svc.namespace, svc.deployment);
      if (paused) deps.metrics?.suppressed('paused');
    }
    if (svc.policy.mode === 'auto' && !incident.rollbackId && !paused) {
      const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
      const target = chooseTarget(d, await kube.listRevisions(d));
      const held = await guard(svc, imagesOf(target.replicaSet.template));
      if (held) deps.metrics?.suppressed(held.guard);
      suppressed = held?.reason;
      if (!suppressed) {
        // A re-check that cannot be done is not a confirmation (fail closed): propose instead.
        const c = await confirm(svc, s).catch((err: unknown) => ({
          ok: false,
          evidence: `the re-check failed: ${asCodedError(err).message}`,
        }));
        if (c.ok) mode = 'auto';
        else unconfirmed = c.evidence;
      }
    }
    const policy =
      svc.policy.mode !== 'auto'
        ? 'Policy `propose`: an approver decides below.'
        : mode === 'auto'
          ? 'Policy `auto`: rolling back without waiting for a person.'
          : paused
            ? `Policy \`auto\`, but automatic rollbacks are paused by ${esc(paused.by.name ?? paused.by.id)} until ${utc(paused.until)}: an approver decides below.`
            : suppressed
              ? 'Policy `auto`, but a guard rail holds the bot back: a person decides.'
              : 'Policy `auto`, but a fresh read did not confirm the signal: an approver decides below.';
    const headline = `:rotating_light: *${svc.name}* is unhealthy on revision ${incident.revision} (\`${esc(incident.images.join(', '))}\`). ${policy}\n${describeSignal(s)}`;
    if (!incident.thread) {
      // Under `auto`, the thread offers the approvers the pause (or, while paused, lifting it).
      const offer =
        svc.policy.mode === 'auto' ? { service: svc.name, paused: paused !== undefined } : undefined;
      const thread = await deps.notifier.openThread(svc.channel, headline, offer);
      if (!thread) throw new Error('Slack did not return the incident thread');
      incident.thread = thread;
      await store.saveIncident(incident);
    }
    const thread = incident.thread;
    incident.signals = withEntry(
      { ...pending.get(incident.key), ...incident.signals },
      s.key,
      entryOf(s, clock.now().toISOString()),
    );
    pending.delete(incident.key);
    await board.update(incident);
    incident.signalsTs ??= board.tsOf(incident.key);
    if (suppressed) {
      incident.suppressed = suppressed;
      incident.status = 'open';
      await store.saveIncident(incident);
      await deps.notifier.say(
        thread,
        `:no_entry: Automatic rollback suppressed: ${suppressed}. Paging a person; use \`/rollback ${svc.name}\` to roll back by hand.`,
      );
      if (deps.pager)
        await deps.pager
          .rollbackSuppressed(incident, suppressed)
          .catch((err: unknown) => logger.warn('page failed', { error: (err as Error).message }));
      return;
    }
    // The evidence of a re-check is the bot's own (catalog query, measured value): defused, code kept.
    if (unconfirmed)
      await deps.notifier.say(
        thread,
        `:raised_hand: Not rolling back alone: a fresh read did not confirm *${esc(s.name)}* (${defuse(unconfirmed)}). Proposing a rollback instead; an approver decides.`,
      );
    if (!incident.rollbackId) {
      try {
        const r = await deps.runner.request({
          service: svc.name,
          reason,
          actor,
          mode,
          why: describeSignal(s),
          signal: { name: s.name, since: s.why.since, summary: s.summary },
          thread,
        });
        incident.rollbackId = r.id;
      } catch (err) {
        const e = asCodedError(err);
        if (e.code === 'store_unavailable') throw err;
        await deps.notifier.say(thread, `:warning: No rollback started: ${esc(e.message)}`);
        if (mode === 'auto' && deps.pager)
          await deps.pager
            .rollbackSuppressed(incident, e.message)
            .catch((err2: unknown) => logger.warn('page failed', { error: (err2 as Error).message }));
      }
    }
    incident.status = 'open';
    delete incident.openError;
    await store.saveIncident(incident);
  }

  /** Opens the incident, retrying with backoff; after the last try marks it failed and pages. */
  async function openWithRetry(svc: CatalogEntry, s: Signal, incident: Incident): Promise<void> {
    openingHere.add(incident.key);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await open(svc, s, incident);
          return;
        } catch (err) {
          const message = asCodedError(err).message;
          logger.warn('opening the incident failed', { key: incident.key, attempt, error: message });
          if (attempt < OPEN_TRIES) {
            await clock.sleep(OPEN_BACKOFF_MS * 2 ** (attempt - 1));
            continue;
          }
          incident.status = 'failed';
          incident.openError = message;
          await store
            .saveIncident(incident)
            .catch((e: unknown) => logger.error('could not mark the incident failed', { error: String(e) }));
          recent.delete(idOf(s)); // the same alert, re-sent, tries again
          const why = `could not open the incident for ${svc.name} after ${OPEN_TRIES} tries: ${message}`;
          logger.error(why, { key: incident.key });
          if (incident.thread)
            await deps.notifier
              .say(
                incident.thread,
                `:warning: ${esc(why)}. The next firing signal tries again; paging a person.`,
              )
              .catch(() => undefined); // Slack may be what failed; the page below still goes out
          if (deps.pager)
            await deps.pager
              .rollbackSuppressed(incident, why)
              .catch((e: unknown) => logger.error('page failed', { error: (e as Error).message }));
          return;
        }
      }
    } finally {
      openingHere.delete(incident.key);
    }
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
      !openingHere.has(key) &&
      clock.now().getTime() - Date.parse(incident.openedAt) > OPENING_STALE_MS;
    if (created || incident.status === 'failed' || stale) {
      if (openingHere.has(key)) return;
      await openWithRetry(svc, s, incident);
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
