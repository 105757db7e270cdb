// The App Home tab (home-blocks.ts), published on app_home_opened and refreshed for the people who
// opened it after a rollback changes state or a pause changes. Refreshes are coalesced (at most one
// round every REFRESH_GAP_MS) and go to the most recent MAX_VIEWERS viewers only, which keeps
// views.publish far under its tier 4 limit (100+ a minute) whatever a storm of state changes does.
import type { App, webApi } from '@slack/bolt';
import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { bounded } from '../rollback/bounded.js';
import type { Pauses } from '../rollback/pauses.js';
import type { Clock, Logger } from '../rollback/ports.js';
import type { Runner } from '../rollback/runner.js';
import { TERMINAL } from '../rollback/states.js';
import { buildAppHome, type HomeRow } from './blocks/home-blocks.js';

const REFRESH_GAP_MS = 5000;
const MAX_VIEWERS = 50;
/** A service whose history does not answer in this time shows as unknown, not as a blank tab. */
const READ_MS = 2000;

export interface AppHomeDeps {
  client: webApi.WebClient;
  runner: Runner;
  pauses: Pauses;
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
}

export function createAppHome(deps: AppHomeDeps) {
  const viewers = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let last = 0;

  async function row(svc: CatalogEntry): Promise<HomeRow> {
    const [history, recent, pause] = await Promise.all([
      bounded(READ_MS, () => deps.runner.history(svc.name)),
      deps.runner.recent(50, svc.name).catch(() => []),
      deps.pauses.of(svc).catch(() => undefined),
    ]);
    const current = history.ok ? history.value.find((e) => e.current) : undefined;
    // The workload the entry names now: an entry can be re-pointed, and a name reused elsewhere.
    const mine = recent.filter((r) => r.namespace === svc.namespace && r.deployment === svc.deployment);
    const lastRollback = mine[0];
    return {
      service: svc.name,
      workload: `${svc.kind.toLowerCase()} ${svc.namespace}/${svc.deployment}`,
      current: current
        ? { revision: current.revision, images: current.images }
        : { unknown: history.ok ? 'no current revision in the history' : history.unavailable },
      ...(lastRollback
        ? {
            lastRollback: {
              state: lastRollback.state,
              at: lastRollback.updatedAt,
              by: lastRollback.requestedBy.name ?? lastRollback.requestedBy.id,
              id: lastRollback.id,
            },
          }
        : {}),
      policy: svc.policy.mode,
      ...(pause ? { pause: { until: pause.until, by: pause.by.name ?? pause.by.id } } : {}),
      // An incident the bot opened whose proposal or rollback has not ended.
      openIncidents: mine.filter((r) => r.requestedBy.kind !== 'user' && !TERMINAL.has(r.state)).length,
    };
  }

  async function publish(users: string[]): Promise<void> {
    const rows = await Promise.all([...deps.catalog.services.values()].map(row));
    const view = buildAppHome(rows, deps.clock.now().toISOString());
    for (const user_id of users)
      await deps.client.views
        .publish({ user_id, view })
        .catch((err: unknown) =>
          deps.logger.warn('App Home not published', { user: user_id, error: (err as Error).message }),
        );
  }

  return {
    /** app_home_opened on the Home tab: remembered for refreshes, published now. */
    register(app: App): void {
      app.event('app_home_opened', async ({ event }) => {
        if (event.tab !== 'home') return;
        viewers.delete(event.user);
        viewers.add(event.user);
        if (viewers.size > MAX_VIEWERS) viewers.delete(viewers.values().next().value as string);
        await publish([event.user]).catch((err: unknown) =>
          deps.logger.warn('App Home not built', { error: (err as Error).message }),
        );
      });
    },
    /** Something the tab shows changed: a refresh for its viewers, coalesced. */
    changed(): void {
      if (timer || viewers.size === 0) return;
      const wait = Math.max(0, last + REFRESH_GAP_MS - deps.clock.now().getTime());
      timer = setTimeout(() => {
        timer = undefined;
        last = deps.clock.now().getTime();
        void publish([...viewers]).catch((err: unknown) =>
          deps.logger.warn('App Home not refreshed', { error: (err as Error).message }),
        );
      }, wait);
      timer.unref();
    },
    close(): void {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

export type AppHome = ReturnType<typeof createAppHome>;
