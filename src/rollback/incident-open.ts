// Opening an incident: the one firing trigger that claimed it decides, by the service's policy, what
// the thread says and does. Under `auto`, a pause, a guard rail or a fresh read that does not confirm
// the signal turns the rollback into a proposal (fail closed); the first two page a person. Opening is
// tried OPEN_TRIES times with backoff; after the last, the incident is marked failed, said in the
// thread if there is one, and paged, so the next firing signal opens it again.

import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError } from '../errors.js';
import { defuseMrkdwn as defuse, escapeMrkdwn as esc } from '../escape-mrkdwn.js';
import { createIncidentChecks } from './incident-checks.js';
import type { MetricsPort } from './metrics-port.js';
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
import { chooseTarget, imagesOf } from './revisions.js';
import type { Runner } from './runner.js';
import type { Signal } from './signal.js';
import { entryOf, type SignalsBoard, utc, withEntry } from './signals-board.js';

/** Opening an incident is tried this many times, waiting OPEN_BACKOFF_MS × 2^n between tries. */
export const OPEN_TRIES = 3;
export const OPEN_BACKOFF_MS = 1000;

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

/** What the incidents module (incidents.ts) and its opener are given. */
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

/** What the opener shares with the incidents module that placed the signal. */
export interface OpenerState {
  /** Context signals seen before their incident opened; its Signals message takes them in. */
  pending: Map<string, Record<string, SignalEntry>>;
  /** Forgets that a signal was seen, so Alertmanager's re-send of it tries again. */
  forget(s: Signal): void;
}

export function createIncidentOpener(deps: IncidentDeps, board: SignalsBoard, state: OpenerState) {
  const { store, kube, clock, logger } = deps;
  const { guard, confirm } = createIncidentChecks(deps);
  /** Incidents this process is opening right now (its retries take over its own claim). */
  const openingHere = new Set<string>();

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
      { ...state.pending.get(incident.key), ...incident.signals },
      s.key,
      entryOf(s, clock.now().toISOString()),
    );
    state.pending.delete(incident.key);
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
          state.forget(s); // the same alert, re-sent, tries again
          const why = `could not open the incident for ${svc.name} after ${OPEN_TRIES} tries: ${message}`;
          logger.error(why, { key: incident.key });
          if (incident.thread)
            await deps.notifier
              .say(
                incident.thread,
                `:warning: ${esc(why)}. The next firing signal tries again; paging a person.`,
              )
              // Slack may be what failed: the failure is logged above and the page below still goes out.
              .catch((e: unknown) => logger.warn('could not say it in the thread', { error: String(e) }));
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

  return { openWithRetry, isOpeningHere: (key: string) => openingHere.has(key) };
}
