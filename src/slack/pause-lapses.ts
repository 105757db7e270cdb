// Says in a service's channel when its pause of automatic rollbacks ran out, so the responders know
// the bot may act alone again, and refreshes App Home. Every replica looks once a second; the store
// hands each lapse to one of them only (and audits it), so the channel hears it once.
import type { Catalog } from '../config/catalog-schema.js';
import type { Pauses } from '../rollback/pauses.js';
import type { Logger } from '../rollback/ports.js';
import { buildLapsed } from './blocks/pause-blocks.js';
import type { RootPoster } from './notifier.js';

export interface PauseLapseDeps {
  pauses: Pauses;
  catalog: Catalog;
  postRoot: RootPoster;
  logger: Logger;
  /** App Home shows pauses: refreshed once a lapse was said. */
  changed?: () => void;
  intervalMs?: number;
}

export function startPauseLapses(deps: PauseLapseDeps): { close(): void; tick(): Promise<void> } {
  let running: Promise<void> | undefined;

  async function sayLapses(): Promise<void> {
    const lapsed = await deps.pauses.lapsed();
    for (const p of lapsed) {
      // The entry as it is now: a service taken out, or re-pointed at another workload, is not told.
      const svc = deps.catalog.services.get(p.service);
      if (!svc || svc.namespace !== p.namespace || svc.deployment !== p.deployment) continue;
      const text = `The pause of automatic rollbacks of ${p.service} lapsed: the bot may roll it back on its own again`;
      await deps
        .postRoot({ channel: svc.channel, text, blocks: buildLapsed(p, deps.pauses.lasts) })
        .catch((err: unknown) =>
          deps.logger.warn('pause lapse not said', { service: p.service, error: (err as Error).message }),
        );
    }
    if (lapsed.length) deps.changed?.();
  }

  const tick = () => {
    // One look at a time: a slow Slack must not stack looks (each would claim and post nothing new).
    running ??= sayLapses()
      .catch((err: unknown) => deps.logger.warn('pause lapses not read', { error: (err as Error).message }))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void tick(), deps.intervalMs ?? 1000);
  timer.unref();
  return { close: () => clearInterval(timer), tick };
}
