// Signals (alerts, watch conditions) → incidents: one per service and current revision, however many
// signals arrive. The first signal opens the incident thread and, by the service's policy, proposes a
// rollback (Approve/Cancel, same approver rules) or starts one at once behind the guard rails.
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { asCodedError } from '../errors.js';
import { lookupService } from './lookup-service.js';
import type { Rollback } from './model.js';
import type { Clock, Incident, KubePort, Logger, NotifierPort, PagerPort, StorePort } from './ports.js';
import {
  chooseTarget,
  findNewReplicaSet,
  imagesOf,
  ownedReplicaSets,
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
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
}

/** Replays of a signal seen this recently are dropped before any I/O (alert storms re-send groups). */
const RECENT_LIMIT = 10_000;
const RECENT_MS = 5 * 60_000;
/** After a rollback put the target back, signals this recent still belong to its incident. */
const AFTERMATH_MS = 10 * 60_000;

/** Rollbacks of the Deployment a catalog entry names now (an entry can be re-pointed). */
const onDeployment = (svc: CatalogEntry) => (r: Rollback) =>
  r.namespace === svc.namespace && r.deployment === svc.deployment;

export function describeSignal(s: Signal): string {
  const parts = [`*${s.name}*${s.status === 'resolved' ? ' (resolved)' : ''}: ${s.summary}`];
  const w = s.why;
  if (w.query) parts.push(`query \`${w.query}\``);
  if (w.value) parts.push(`value ${w.value}`);
  if (w.threshold) parts.push(`threshold ${w.threshold}`);
  parts.push(`since ${w.since.slice(0, 19).replace('T', ' ')} UTC`);
  return parts.join(' · ');
}

export function createIncidents(deps: IncidentDeps) {
  const { store, kube, clock, logger } = deps;
  const recent = new Map<string, number>();
  const queues = new Map<string, Promise<void>>();

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

  async function open(svc: CatalogEntry, s: Signal, incident: Incident): Promise<void> {
    const auto = svc.policy.mode === 'auto';
    const headline = `:rotating_light: *${svc.name}* is unhealthy on revision ${incident.revision} (\`${incident.images.join(', ')}\`). ${
      auto
        ? 'Policy `auto`: rolling back without waiting for a person.'
        : 'Policy `propose`: an approver decides below.'
    }\n${describeSignal(s)}`;
    const thread = await deps.notifier.openThread(svc.channel, headline);
    if (thread) incident.thread = thread;
    const reason = `${s.name}: ${s.summary}`;
    const actor = { kind: s.source, id: s.key, name: s.name } as const;
    let mode: 'auto' | 'manual' = 'manual';
    if (auto) {
      const d = await kube.readDeployment(svc.namespace, svc.deployment);
      const target = chooseTarget(d, await kube.listReplicaSets(d));
      const why = await guard(svc, imagesOf(target.replicaSet.template));
      if (why) {
        incident.suppressed = why;
        await store.saveIncident(incident);
        if (thread)
          await deps.notifier.say(
            thread,
            `:no_entry: Automatic rollback suppressed: ${why}. Paging a person; use \`/rollback ${svc.name}\` to roll back by hand.`,
          );
        if (deps.pager)
          await deps.pager
            .rollbackSuppressed(incident, why)
            .catch((err: unknown) => logger.warn('page failed', { error: (err as Error).message }));
        return;
      }
      mode = 'auto';
    }
    try {
      const r = await deps.runner.request({
        service: svc.name,
        reason,
        actor,
        mode,
        why: describeSignal(s),
        ...(thread ? { thread } : {}),
      });
      incident.rollbackId = r.id;
    } catch (err) {
      const e = asCodedError(err);
      if (thread) await deps.notifier.say(thread, `:warning: No rollback started: ${e.message}`);
      if (auto && deps.pager) await deps.pager.rollbackSuppressed(incident, e.message).catch(() => {});
    }
    await store.saveIncident(incident);
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
    const d = await kube.readDeployment(svc.namespace, svc.deployment);
    const current = findNewReplicaSet(d, ownedReplicaSets(d, await kube.listReplicaSets(d)));
    const currentImages = current ? imagesOf(current.template) : imagesOf(d.template);
    const bad = await badRevision(svc, Number(d.annotations[REVISION_ANNOTATION] ?? 0), currentImages);
    const revision = bad.revision;
    // The Deployment and the release's images, not just the revision number: numbers restart when a
    // Deployment is re-created, and a catalog entry may be moved to another Deployment.
    const key = `${svc.name}:${svc.namespace}/${svc.deployment}:${revision}:${bad.images.join(',')}`;
    const signalId = `${s.key}:${s.status}`;
    const fresh: Incident = {
      key,
      service: svc.name,
      namespace: svc.namespace,
      deployment: svc.deployment,
      revision,
      images: bad.images,
      openedAt: clock.now().toISOString(),
      openedBy: { source: s.source, name: s.name, key: s.key },
    };
    if (!(await store.firstSight(key, signalId))) return;
    const { created, incident } = await store.claimIncident(fresh);
    if (created) {
      if (s.status === 'resolved') return; // a resolved alert alone does not open an incident
      await open(svc, s, incident);
      return;
    }
    if (incident.thread)
      await deps.notifier.say(
        incident.thread,
        `${s.status === 'firing' ? ':heavy_plus_sign: Also firing' : ':white_check_mark: Resolved'}: ${describeSignal(s)}`,
      );
  }

  return {
    /** Takes signals in order per service; replays of a signal already seen are dropped at once. */
    signal(signals: Signal[]): Promise<void> {
      const work: Promise<void>[] = [];
      for (const s of signals) {
        if (!remember(`${s.service}|${s.key}|${s.status}`)) continue;
        const prev = queues.get(s.service) ?? Promise.resolve();
        const next = prev
          .then(() => handle(s))
          .catch((err: unknown) =>
            logger.error('signal failed', { service: s.service, error: (err as Error).message }),
          );
        queues.set(s.service, next);
        work.push(next);
      }
      return Promise.all(work).then(() => undefined);
    },
  };
}
export type Incidents = ReturnType<typeof createIncidents>;
