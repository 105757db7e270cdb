// Pausing automatic rollbacks of one service (issue 15's switch, asked for by on-call teams: PaaSTA
// #3738): an approver holds the bot back (4 hours unless AUTO_PAUSE_FOR says otherwise) while they
// work on an incident by hand. While paused, signals still open incidents and propose rollbacks with
// the buttons; nothing is rolled back alone. The pause expires by itself (Redis expiry, so no process
// has to remember it), can be lifted early, and all three are written to the audit trail; a lapse is
// also claimed once, by whichever replica sees it first, to be said in the service's channel.
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import { formatDuration } from './durations.js';
import { lookupService } from './lookup-service.js';
import type { Actor } from './model.js';
import type { Clock, Pause, StorePort } from './ports.js';

export const PAUSE_MS = 4 * 3600_000;

type PauseStore = Pick<StorePort, 'pauseAuto' | 'pauseOf' | 'liftPause' | 'claimLapsedPauses'>;

/** Approvers only: the people who may approve a rollback may stop the bot from doing one alone. */
function assertMayPause(svc: CatalogEntry, actor: Actor, doing: string): void {
  const { users, groups } = svc.approvers;
  if (users.includes(actor.id) || (actor.groups ?? []).some((g) => groups.includes(g))) return;
  throw new CodedError(
    'rollback_unauthorized',
    `<@${actor.id}> is not an approver for ${svc.name}, so cannot ${doing}`,
    {
      remedy: `Ask one of the approvers (${[...users.map((u) => `<@${u}>`), ...groups.map((g) => `<!subteam^${g}>`)].join(', ') || 'none configured'}).`,
    },
  );
}

export function createPauses(deps: { store: PauseStore; catalog: Catalog; clock: Clock; pauseMs?: number }) {
  const { store, clock } = deps;
  const pauseMs = deps.pauseMs ?? PAUSE_MS;
  return {
    /** How long a pause lasts, as the buttons and the help say it ("4 h"). */
    lasts: formatDuration(pauseMs),

    /** Pauses automatic rollbacks from now (a second pause replaces it, and is audited too). */
    async pause(service: string, actor: Actor): Promise<Pause> {
      const svc = lookupService(deps.catalog, service);
      assertMayPause(svc, actor, 'pause its automatic rollbacks');
      const now = clock.now();
      const p: Pause = {
        service: svc.name,
        namespace: svc.namespace,
        deployment: svc.deployment,
        by: actor,
        at: now.toISOString(),
        until: new Date(now.getTime() + pauseMs).toISOString(),
      };
      await store.pauseAuto(p);
      return p;
    },

    /** Lifts the pause now; rollback_not_paused when there is none (it may have lapsed). */
    async resume(service: string, actor: Actor): Promise<Pause> {
      const svc = lookupService(deps.catalog, service);
      assertMayPause(svc, actor, 'resume its automatic rollbacks');
      const lifted = await store.liftPause(svc.namespace, svc.deployment, {
        by: actor,
        at: clock.now().toISOString(),
      });
      if (!lifted)
        throw new CodedError('rollback_not_paused', `automatic rollbacks of ${svc.name} are not paused`, {
          remedy: `Nothing to resume: a pause lapses by itself after ${formatDuration(pauseMs)}.`,
        });
      return lifted;
    },

    /** Pauses whose time is up, each returned to one caller only (the lapse is audited). */
    lapsed(): Promise<Pause[]> {
      return store.claimLapsedPauses(clock.now());
    },

    /** The service's active pause, if any. */
    of(svc: Pick<CatalogEntry, 'namespace' | 'deployment'>): Promise<Pause | undefined> {
      return store.pauseOf(svc.namespace, svc.deployment);
    },
  };
}

export type { Pause };
export type Pauses = ReturnType<typeof createPauses>;
