// What every step is given. A step does its effects, then commits the next transition through
// `move`; each can run again after a crash and do the right thing.

import type { Catalog, CatalogEntry } from '../../config/catalog-schema.js';
import type { MetricsPort } from '../metrics-port.js';
import type { Actor, Notice, Rollback, RollbackEvent } from '../model.js';
import type {
  AlertsPort,
  Clock,
  KubePort,
  Lease,
  Logger,
  NotifierPort,
  ObservePort,
  PagerPort,
  StorePort,
} from '../ports.js';
import type { EventType } from '../states.js';

export interface RunnerDeps {
  store: StorePort;
  kube: KubePort;
  observe: ObservePort;
  /** Alertmanager, for "no new alerts firing"; unset (no ALERTMANAGER_URL): that check is not configured. */
  alerts?: AlertsPort;
  notifier: NotifierPort;
  pager?: PagerPort;
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
  /** This process, for leases and the audit trail. */
  owner: string;
  /** Work lease TTL; renewed at a third of it while working. */
  leaseMs: number;
  renderReport: (r: Rollback, events: RollbackEvent[]) => string;
  sourceTimeoutMs?: number;
  verifyPollMs?: number;
  newId?: () => string;
  /** How often the reaper looks for rollbacks whose lease lapsed (default: the lease TTL). */
  reapIntervalMs?: number;
  /** How long a proposal or approval waits for a person before it expires (default 1 h). */
  approvalTimeoutMs?: number;
  /** Exec and Job deadline for migration commands (default 10 min). */
  migrationTimeoutMs?: number;
  /** Counts what the bot's /metrics show of the runner (lease takeovers). */
  metrics?: MetricsPort;
}

export type Step = (ctx: StepContext, r: Rollback, lease: Lease) => Promise<Rollback>;

export interface StepContext {
  deps: RunnerDeps;
  system: Actor;
  move: (
    r: Rollback,
    type: EventType,
    lease: Lease | undefined,
    actor: Actor,
    changes?: Partial<Rollback>,
    data?: Record<string, unknown>,
    /** Committed with the transition, delivered from the outbox (the root message always is). */
    notices?: Notice[],
  ) => Promise<Rollback>;
  save: (
    r: Rollback,
    lease: Lease,
    changes: Partial<Rollback>,
    data: Record<string, unknown>,
    notices?: Notice[],
  ) => Promise<Rollback>;
  /** Ephemeral updates (rollout progress): in order, in the background, never awaited; not persisted. */
  notify: (id: string, what: string, fn: () => Promise<void>) => void;
  serviceOf: (r: Rollback) => CatalogEntry;
}
