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
import { fillQuery } from './bounded.js';
import type { ReplicaSetSnapshot } from './kube-types.js';
import { lookupService } from './lookup-service.js';
import type { Rollback } from './model.js';
import type {
  Clock,
  Incident,
  KubePort,
  Logger,
  NotifierPort,
  ObservePort,
  PagerPort,
  SignalEntry,
  StorePort,
} from './ports.js';
import {
  chooseTarget,
  findNewReplicaSet,
  imagesOf,
  ownedReplicaSets,
  podHashOf,
  REVISION_ANNOTATION,
} from './revisions.js';
import type { Runner } from './runner.js';
import type { Signal } from './signal.js';
import { TERMINAL } from './states.js';

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
/** The Signals message shows at most this many signals (newest first). */
const BOARD_LINES = 20;
const BOARD_CHARS = 2400;
/** Signals kept per incident for that message. */
const STORED_SIGNALS = 100;
/** Context signals seen before their incident opened, kept in memory for its Signals message. */
const PENDING_LIMIT = 1000;

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

const utc = (t: string) => `${t.slice(0, 19).replace('T', ' ')} UTC`;
const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);

/** The Signals message: one line per signal, firing first, then resolved, then context. */
export function buildSignalsText(entries: Record<string, SignalEntry>): string {
  const rank = (e: SignalEntry) => (e.context ? 2 : e.status === 'firing' ? 0 : 1);
  const all = Object.values(entries).sort(
    (a, b) => rank(a) - rank(b) || b.updatedAt.localeCompare(a.updatedAt),
  );
  const lines: string[] = [];
  let size = 0;
  for (const e of all.slice(0, BOARD_LINES)) {
    const icon = e.context
      ? ':white_circle:'
      : e.status === 'firing'
        ? ':red_circle:'
        : ':large_green_circle:';
    const parts = [
      `${icon} *${esc(e.name)}* ${e.context ? 'context' : e.status}`,
      `since ${utc(esc(e.since))}`,
    ];
    if (e.value) parts.push(`value ${esc(clip(e.value, 60))}`);
    if (e.threshold) parts.push(`threshold ${esc(clip(e.threshold, 80))}`);
    const why = e.context ? ` — not a trigger: ${esc(clip(e.context, 120))}` : '';
    const line = `${parts.join(' · ')} — ${esc(clip(e.summary, 160))}${why}`;
    // One Slack section holds 3000 characters (escaping may add some): stop well before.
    if (size + line.length > BOARD_CHARS) break;
    lines.push(line);
    size += line.length + 1;
  }
  const firing = all.filter((e) => !e.context && e.status === 'firing').length;
  const more = all.length > lines.length ? `\n…and ${all.length - lines.length} more` : '';
  return `*Signals* (${firing} firing, updated in place)\n${lines.join('\n')}${more}`;
}

/** Adds or replaces one entry, keeping the newest STORED_SIGNALS (an incident is one Redis value). */
function withEntry(
  entries: Record<string, SignalEntry> | undefined,
  key: string,
  e: SignalEntry,
): Record<string, SignalEntry> {
  const next = { ...entries, [key]: e };
  const keys = Object.keys(next);
  if (keys.length <= STORED_SIGNALS) return next;
  keys.sort((a, b) => (next[a]?.updatedAt ?? '').localeCompare(next[b]?.updatedAt ?? ''));
  for (const k of keys.slice(0, keys.length - STORED_SIGNALS)) delete next[k];
  return next;
}

const entryOf = (s: Signal, at: string): SignalEntry => ({
  name: s.name,
  source: s.source,
  status: s.status,
  summary: s.summary,
  since: s.why.since,
  ...(s.why.value ? { value: s.why.value } : {}),
  ...(s.why.threshold ? { threshold: s.why.threshold } : {}),
  ...(s.context ? { context: s.context } : {}),
  updatedAt: at,
});

export function createIncidents(deps: IncidentDeps) {
  const { store, kube, clock, logger } = deps;
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

  /** The guard rail that forbids an automatic rollback now, if any. */
  async function guard(svc: CatalogEntry, targetImages: string[]): Promise<string | undefined> {
    const holder = await store.holderOf(svc.namespace, svc.deployment);
    if (holder) {
      const r = await store.get(holder);
      if (r && !TERMINAL.has(r.state)) {
        return r.mode === 'manual'
          ? `a rollback requested by ${r.requestedBy.name ?? r.requestedBy.id} is in progress`
          : 'an automatic rollback is already in progress';
      }
    }
    const now = clock.now().getTime();
    const cooldownMs = svc.policy.cooldownMinutes * 60_000;
    const windowMs = svc.policy.windowMinutes * 60_000;
    // By time and mode, not "the last N": dry runs and manual rollbacks never hide an automatic one.
    const autos = await store.listAutoSince(
      svc.namespace,
      svc.deployment,
      now - Math.max(cooldownMs, windowMs),
    );
    const last = autos[0];
    if (last && now - Date.parse(last.requestedAt) < cooldownMs) {
      return `cooldown: the last automatic rollback was ${Math.round((now - Date.parse(last.requestedAt)) / 60_000)} min ago (cooldown ${svc.policy.cooldownMinutes} min)`;
    }
    const inWindow = autos.filter((r) => now - Date.parse(r.requestedAt) < windowMs).length;
    if (inWindow >= svc.policy.maxAutoRollbacks) {
      return `limit: ${inWindow} automatic rollbacks in the last ${svc.policy.windowMinutes} min (max ${svc.policy.maxAutoRollbacks})`;
    }
    const key = targetImages.join(',');
    const rolledBackFrom = (await store.listUndoneSince(svc.namespace, svc.deployment, 0)).find(
      (r) => r.undo && r.assessment?.from && r.assessment.from.images.join(',') === key,
    );
    if (rolledBackFrom) {
      return `the target (${key}) is a revision the bot already rolled back from (rollback ${rolledBackFrom.id.slice(0, 8)})`;
    }
    return undefined;
  }

  /** The current revision's pods, by its hash label (pod-template-hash, controller-revision-hash). */
  async function currentPods(svc: CatalogEntry, rs: ReplicaSetSnapshot | undefined, selector: string) {
    const hash = podHashOf(rs);
    const pods = await kube.listPods(svc.namespace, svc.podSelector ?? selector);
    return pods.filter((p) => !p.deleting && hash !== undefined && p.podTemplateHash === hash);
  }

  /**
   * A fresh read of what the signal says, before the bot rolls back alone. Fail closed: whatever cannot
   * be re-checked (no Prometheus, no data, an alert of unknown kind) is not confirmed.
   */
  async function confirm(svc: CatalogEntry, s: Signal): Promise<{ ok: boolean; evidence: string }> {
    const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
    const rs = findNewReplicaSet(d, ownedReplicaSets(d, await kube.listRevisions(d)));
    const metric = async (query: string, threshold: number, unit: string) => {
      if (!deps.observe) return { ok: false, evidence: 'no Prometheus to re-check the metric' };
      const q = fillQuery(query, svc);
      const v = (await deps.observe.query(q)).value;
      if (v === undefined || Number.isNaN(v)) return { ok: false, evidence: `no data now for \`${q}\`` };
      return {
        ok: v > threshold,
        evidence: `\`${q}\` is ${v.toPrecision(3)}${unit} now (trigger ${threshold}${unit})`,
      };
    };
    switch (s.kind) {
      case 'error_ratio':
        return metric(svc.metrics.errorRatioQuery, svc.metrics.triggerErrorRatio, '');
      case 'latency_p99':
        return metric(svc.metrics.p99Query, svc.metrics.p99ThresholdSeconds, ' s');
      case 'rollout_stuck': {
        const p = d.status.conditions.find((c) => c.type === 'Progressing');
        const ok = p?.reason === 'ProgressDeadlineExceeded';
        return { ok, evidence: `Progressing is ${p?.reason ?? 'absent'} now` };
      }
      case 'crash_loop': {
        const pods = await currentPods(svc, rs, d.selector);
        const n = pods.filter((p) => p.containers.some((c) => c.waitingReason === 'CrashLoopBackOff')).length;
        return {
          ok: pods.length > 0 && n === pods.length,
          evidence: `${n}/${pods.length} pod(s) of the current revision in CrashLoopBackOff now`,
        };
      }
      case 'restarts':
      case 'not_ready': {
        const pods = await currentPods(svc, rs, d.selector);
        const n = pods.filter((p) => !p.ready).length;
        return { ok: n > 0, evidence: `${n}/${pods.length} pod(s) of the current revision not ready now` };
      }
      default:
        return { ok: false, evidence: `${s.name} is not a signal the bot can re-check` };
    }
  }

  async function updateBoard(incident: Incident): Promise<void> {
    if (!incident.thread || !incident.signals) return;
    try {
      const ts = await deps.notifier.upsertSignals(
        incident.thread,
        incident.signalsTs,
        buildSignalsText(incident.signals),
      );
      if (ts) incident.signalsTs = ts;
    } catch (err) {
      // The entries are saved with the incident; the next signal re-renders the whole message.
      logger.warn('signals message not updated', { key: incident.key, error: (err as Error).message });
    }
  }

  async function open(svc: CatalogEntry, s: Signal, incident: Incident): Promise<void> {
    const reason = `${s.name}: ${s.summary}`;
    const actor = { kind: s.source, id: s.key, name: s.name } as const;
    let mode: 'auto' | 'manual' = 'manual';
    let suppressed: string | undefined;
    let unconfirmed: string | undefined;
    if (svc.policy.mode === 'auto' && !incident.rollbackId) {
      const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
      const target = chooseTarget(d, await kube.listRevisions(d));
      suppressed = await guard(svc, imagesOf(target.replicaSet.template));
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
          : suppressed
            ? 'Policy `auto`, but a guard rail holds the bot back: a person decides.'
            : 'Policy `auto`, but a fresh read did not confirm the signal: an approver decides below.';
    const headline = `:rotating_light: *${svc.name}* is unhealthy on revision ${incident.revision} (\`${esc(incident.images.join(', '))}\`). ${policy}\n${describeSignal(s)}`;
    if (!incident.thread) {
      const thread = await deps.notifier.openThread(svc.channel, headline);
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
    await updateBoard(incident);
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
   * The revision a signal is about. Alerts lag: while a rollback runs, and for a while after it put the
   * target back, signals still describe the bad release, so they belong to that rollback's incident.
   */
  async function badRevision(
    svc: CatalogEntry,
    currentRevision: number,
    currentImages: string[],
  ): Promise<{ revision: number; images: string[] }> {
    const current = { revision: currentRevision, images: currentImages };
    const last = (await store.listRecent(10, svc.name)).find(onDeployment(svc));
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

  async function handle(s: Signal): Promise<void> {
    const svc = lookupService(deps.catalog, s.service);
    const d = await kube.readWorkload(svc.kind, svc.namespace, svc.deployment);
    const current = findNewReplicaSet(d, ownedReplicaSets(d, await kube.listRevisions(d)));
    const currentImages = current ? imagesOf(current.template) : imagesOf(d.template);
    const currentRevision = Number(d.annotations[REVISION_ANNOTATION] ?? 0);
    const bad = await badRevision(svc, currentRevision, currentImages);
    const revision = bad.revision;
    // An alert that started before the current revision was rolled out is about something else.
    if (
      !s.context &&
      s.source === 'alert' &&
      current &&
      revision === currentRevision &&
      Date.parse(s.why.since) < Date.parse(current.creationTimestamp)
    )
      s = {
        ...s,
        context: `started before the current revision was rolled out (${utc(current.creationTimestamp)})`,
      };
    // The Deployment and the release's images, not just the revision number: numbers restart when a
    // Deployment is re-created, and a catalog entry may be moved to another Deployment.
    const key = `${svc.name}:${svc.namespace}/${svc.deployment}:${revision}:${bad.images.join(',')}`;
    const signalId = `${s.key}:${s.status}:${s.why.since}`;
    const first = await store.firstSight(key, signalId);
    const now = clock.now().toISOString();
    if (s.status !== 'firing' || s.context) {
      // Never claims: a resolved or context signal only joins an incident that exists.
      if (!first) return;
      const incident = await store.findIncident(key);
      if (!incident || (incident.status !== 'open' && incident.status !== undefined)) {
        pending.set(key, withEntry(pending.get(key), s.key, entryOf(s, now)));
        if (pending.size > PENDING_LIMIT) pending.delete(pending.keys().next().value as string);
        return;
      }
      incident.signals = withEntry(incident.signals, s.key, entryOf(s, now));
      await updateBoard(incident);
      await store.saveIncident(incident);
      return;
    }
    const fresh: Incident = {
      key,
      service: svc.name,
      namespace: svc.namespace,
      deployment: svc.deployment,
      revision,
      images: bad.images,
      openedAt: now,
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
      return;
    }
    if (!first) return;
    if (incident.status === 'opening') {
      pending.set(key, withEntry(pending.get(key), s.key, entryOf(s, now)));
      return;
    }
    incident.signals = withEntry(incident.signals, s.key, entryOf(s, now));
    await updateBoard(incident);
    await store.saveIncident(incident);
  }

  /**
   * A firing trigger that fails before its incident is claimed (Kubernetes or Redis unreachable) is
   * retried like opening, then paged: it is never dropped silently.
   */
  async function handleWithRetry(s: Signal): Promise<void> {
    const trigger = s.status === 'firing' && !s.context;
    for (let attempt = 1; ; attempt++) {
      try {
        await handle(s);
        return;
      } catch (err) {
        if (!trigger) throw err;
        const message = asCodedError(err).message;
        if (attempt < OPEN_TRIES) {
          logger.warn('signal failed, retrying', { service: s.service, attempt, error: message });
          await clock.sleep(OPEN_BACKOFF_MS * 2 ** (attempt - 1));
          continue;
        }
        const svc = deps.catalog.services.get(s.service);
        if (deps.pager && svc)
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
                openedBy: { source: s.source, name: s.name, key: s.key },
              },
              `could not handle ${s.name} after ${OPEN_TRIES} tries: ${message}`,
            )
            .catch((e: unknown) => logger.error('page failed', { error: (e as Error).message }));
        throw err;
      }
    }
  }

  return {
    /** Takes signals in order per service; replays of a signal already seen are dropped at once. */
    signal(signals: Signal[]): Promise<void> {
      const work: Promise<void>[] = [];
      for (const s of signals) {
        const id = idOf(s);
        if (!remember(id)) continue;
        const prev = queues.get(s.service) ?? Promise.resolve();
        const next = prev
          .then(() => handleWithRetry(s))
          .catch((err: unknown) => {
            recent.delete(id); // a re-sent signal tries again
            logger.error('signal failed', { service: s.service, error: (err as Error).message });
          });
        queues.set(s.service, next);
        work.push(next);
      }
      return Promise.all(work).then(() => undefined);
    },
  };
}
export type Incidents = ReturnType<typeof createIncidents>;
