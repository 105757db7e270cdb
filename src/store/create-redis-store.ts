// The store port on Redis: records, event streams, the per-Deployment lock and work leases.
//
// Redis is bounded (manifests/redis.yaml gives it a fixed maxmemory with noeviction), so everything here
// is: records are bounded excerpts (boundForStorage) stored deflated, and expire with their events
// `retentionDays` after they finish; lists are trimmed by age and count; event streams have a cap; dry
// runs are limited per person. When Redis refuses a write anyway, the error says why (store_refused).
import { deflateSync, inflateSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import { CodedError } from '../errors.js';
import { boundEventForStorage, boundForStorage } from '../rollback/bound-record.js';
import type { Actor, OutboxItem, Rollback, RollbackEvent } from '../rollback/model.js';
import type { Incident, Lease, Pause, StorePort } from '../rollback/ports.js';
import { TERMINAL } from '../rollback/states.js';
import { createKeys } from './keys.js';
import {
  ACK,
  ACQUIRE,
  APPEND,
  CLAIM_LAPSED_PAUSES,
  COMMIT,
  CREATE,
  LIFT_PAUSE,
  PAUSE,
  RELEASE,
  RENEW,
  UNLOCK,
} from './scripts.js';

export interface StoreOptions {
  /** Days a finished rollback (record and events) is kept; also how far back the lists reach. Default 30. */
  retentionDays?: number;
  /** Dry runs one person may start per window. Default 10. */
  dryRunLimit?: number;
  /** The dry-run window in minutes. Default 10. */
  dryRunWindowMinutes?: number;
  /**
   * Progress events kept per rollback. Default 2,000: a rollout reports a few dozen; only a loop
   * reaches this. Notes (checklist ticks, refusals) may go 500 further; state changes are never dropped.
   */
  maxEvents?: number;
  /** Applied to every record and event before it is written (the one redactor: no secret in Redis). */
  redact?: <T>(value: T) => T;
}

/** The newest N rollbacks kept listed overall, per service, and per Deployment (automatic, undone). */
const RECENT_MAX = 10_000;
const RECENT_OF_MAX = 1_000;
const DRY_RECENT_MAX = 1_000;
const DRY_RECENT_OF_MAX = 200;
const PER_DEPLOYMENT_MAX = 200;
const NOTES_OVER_PROGRESS = 500;
/** Who writes the store's own notes in an event stream. */
const STORE_ACTOR: Actor = { kind: 'system', id: 'store', name: 'rollback-bot store' };

const leaseValue = (l: Lease) => `${l.owner}|${l.token}`;
const actorKey = (a: Actor) => `${a.kind}:${a.id}`;

/** What Redis says when it is up but will not take a write, why that happens, and what to do. */
const REFUSALS: { match: RegExp; reason: string; why: string; remedy: string }[] = [
  {
    match: /\bOOM\b/,
    reason: 'oom',
    why: 'Redis is full (used memory is over maxmemory, and it evicts nothing)',
    remedy:
      'Nothing was written. Free memory in Redis: lower RETENTION_DAYS, or raise maxmemory together with the container limit (README, "Redis"). The rollback resumes once Redis takes writes again.',
  },
  {
    match: /\b(NOAUTH|WRONGPASS)\b/,
    reason: 'auth',
    why: 'Redis refused the credentials',
    remedy:
      'Check that the user and password in REDIS_URL match the Redis ACL user (Secret rollback-bot, key REDIS_PASSWORD).',
  },
  {
    match: /\bNOPERM\b/,
    reason: 'permission',
    why: 'the Redis user may not run a command the bot needs',
    remedy: "Give the ACL user the commands listed in manifests/redis.yaml (the bot's user line).",
  },
  {
    match: /\bREADONLY\b/,
    reason: 'readonly',
    why: 'Redis is a read-only replica',
    remedy: 'Point REDIS_URL at the primary.',
  },
  {
    match: /\bMISCONF\b/,
    reason: 'misconf',
    why: 'Redis cannot persist to disk, so it refuses writes',
    remedy: 'Check the Redis volume (free space, permissions) and the Redis log.',
  },
];

/** Maps an ioredis failure: store_refused when Redis answered "no", store_unavailable otherwise. */
export function mapRedisError(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const refusal = REFUSALS.find((r) => r.match.test(message));
  if (refusal) {
    return new CodedError(
      'store_refused',
      `Redis refused the write: ${refusal.why} (${message.split('\n')[0]})`,
      {
        remedy: refusal.remedy,
        details: { reason: refusal.reason, redis: message },
        cause: err,
      },
    );
  }
  return new CodedError('store_unavailable', `Redis is unavailable: ${message}`, {
    remedy: 'Check REDIS_URL and that Redis is up; the rollback resumes from where it stopped once it is.',
    cause: err,
  });
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapRedisError(err);
  }
}

/** The stored form of a record: bounded, then deflated (records are JSON and shrink about fivefold). */
function encode(r: Rollback): Buffer {
  return deflateSync(JSON.stringify(r));
}

/** Reads both forms: deflated, and the plain JSON earlier versions wrote (it starts with "{"). */
function decode(raw: Buffer): Rollback {
  const json = raw[0] === 0x7b ? raw.toString('utf8') : inflateSync(raw).toString('utf8');
  return JSON.parse(json) as Rollback;
}

/** The store port, plus what only the composition root needs. */
export interface RedisStore extends StorePort {
  /**
   * A small write (SET with a 10 s expiry) that proves Redis takes writes now, for /ready. Throws
   * store_refused (full, read-only, credentials) or store_unavailable.
   */
  checkWritable(owner: string): Promise<void>;
}

export function createRedisStore(redis: Redis, prefix = 'rb:', opts: StoreOptions = {}): RedisStore {
  const k = createKeys(prefix);
  const retentionMs = (opts.retentionDays ?? 30) * 24 * 3600_000;
  const dryRunLimit = opts.dryRunLimit ?? 10;
  const dryRunWindowMs = (opts.dryRunWindowMinutes ?? 10) * 60_000;
  const maxEvents = opts.maxEvents ?? 2_000;
  const clean = <T>(value: T): T => (opts.redact ? opts.redact(value) : value);
  const run = (script: string, keys: string[], args: (string | number | Buffer)[]) =>
    redis.eval(script, keys.length, ...keys, ...args);

  /** The note written once, in place of the first event a full stream does not take. */
  const cappedNote = (e: RollbackEvent, cap: number, dropping: 'progress' | 'notes') =>
    JSON.stringify({
      id: e.id,
      type: 'note',
      from: e.from,
      to: e.to,
      actor: STORE_ACTOR,
      at: e.at,
      data: { kind: 'events_capped', dropping, kept: cap },
    } satisfies RollbackEvent);

  async function getMany(ids: string[]): Promise<Rollback[]> {
    if (!ids.length) return [];
    const pipe = redis.pipeline();
    for (const id of ids) pipe.hgetBuffer(k.record(id), 'record');
    const res = (await guarded(() => pipe.exec())) ?? [];
    const out: Rollback[] = [];
    for (const [err, raw] of res) {
      if (err) throw mapRedisError(err);
      // A listed record may have expired meanwhile (retention): it is simply no longer there.
      if (raw) out.push(decode(raw as Buffer));
    }
    return out;
  }

  async function get(id: string): Promise<Rollback | undefined> {
    const raw = await guarded(() => redis.hgetBuffer(k.record(id), 'record'));
    return raw ? decode(raw) : undefined;
  }

  async function idsWithScores(key: string, limit: number): Promise<{ id: string; at: number }[]> {
    const flat = await guarded(() => redis.zrevrange(key, 0, limit - 1, 'WITHSCORES'));
    const out: { id: string; at: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, at: Number(flat[i + 1]) });
    return out;
  }

  const since = async (key: string, sinceMs: number) =>
    getMany(await guarded(() => redis.zrevrangebyscore(key, '+inf', sinceMs)));

  return {
    get,

    async create(r, event, opts) {
      const stored = clean(boundForStorage(r));
      const at = Date.parse(r.requestedAt);
      const res = (await guarded(() =>
        run(
          CREATE,
          [
            k.deploymentLock(r.namespace, r.deployment),
            k.record(r.id),
            k.events(r.id),
            k.active(),
            r.dryRun ? k.dryRecent() : k.recent(),
            r.dryRun ? k.dryRecentOf(r.service) : k.recentOf(r.service),
            k.dryQuota(actorKey(r.requestedBy)),
            k.autoOf(r.namespace, r.deployment),
            k.undoneOf(r.namespace, r.deployment),
          ],
          [
            r.id,
            encode(stored),
            JSON.stringify(clean(boundEventForStorage(event))),
            r.state,
            at,
            opts.lockDeployment ? '1' : '0',
            r.dryRun ? '1' : '0',
            r.mode === 'auto' && !r.dryRun ? '1' : '0',
            retentionMs,
            r.dryRun ? DRY_RECENT_MAX : RECENT_MAX,
            r.dryRun ? DRY_RECENT_OF_MAX : RECENT_OF_MAX,
            dryRunLimit,
            dryRunWindowMs,
            PER_DEPLOYMENT_MAX,
            r.undo && !r.dryRun ? '1' : '0',
            TERMINAL.has(r.state) ? '1' : '0',
          ],
        ),
      )) as string[];
      if (res[0] === 'dry_limit') {
        const retryAt = new Date(Number(res[1]) + dryRunWindowMs);
        const minutes = Math.max(1, Math.ceil((retryAt.getTime() - at) / 60_000));
        throw new CodedError(
          'rollback_dry_run_limit',
          `${r.requestedBy.name ?? r.requestedBy.id} has started ${dryRunLimit} dry runs in the last ${dryRunWindowMs / 60_000} min, the most allowed`,
          {
            remedy: `Try again in ${minutes} min (at ${retryAt.toISOString().slice(11, 16)} UTC), or look at the last dry run's assessment in its thread.`,
            details: {
              limit: dryRunLimit,
              windowMinutes: dryRunWindowMs / 60_000,
              retryAt: retryAt.toISOString(),
            },
          },
        );
      }
      if (res[0] === 'held') {
        const holder = await get(res[1] ?? '');
        const who = holder
          ? `${holder.requestedBy.name ?? holder.requestedBy.id} (${holder.state.replaceAll('_', ' ')}, ${holder.id})`
          : res[1];
        throw new CodedError(
          'rollback_in_progress',
          `a rollback of ${r.namespace}/${r.deployment} is already in progress, requested by ${who}`,
          {
            remedy: 'Follow that rollback in its thread, or cancel it before starting another.',
            details: { holderId: res[1], holder },
          },
        );
      }
    },

    async commit(expected, next, event, lease, notices = []) {
      const stored: Rollback = clean(boundForStorage({ ...next, version: expected.version + 1 }));
      const transition = expected.state !== next.state;
      const res = (await guarded(() =>
        run(
          COMMIT,
          [
            k.record(next.id),
            k.events(next.id),
            k.active(),
            k.lease(next.id),
            k.deploymentLock(next.namespace, next.deployment),
            k.fence(next.id),
            k.undoneOf(next.namespace, next.deployment),
            k.outbox(next.id),
            k.outboxSeq(next.id),
            k.outboxPending(),
          ],
          [
            expected.state,
            String(expected.version),
            next.state,
            encode(stored),
            JSON.stringify(clean(boundEventForStorage(event))),
            lease ? leaseValue(lease) : '',
            TERMINAL.has(next.state) ? '1' : '0',
            next.id,
            retentionMs,
            next.undo && !next.dryRun ? '1' : '0',
            Date.parse(next.requestedAt),
            PER_DEPLOYMENT_MAX,
            // A state change is always recorded: the report is built from them. Progress saves are capped.
            transition ? 0 : maxEvents,
            cappedNote(event, maxEvents, 'progress'),
            notices.length ? JSON.stringify(notices) : '[]',
          ],
        ),
      )) as string[];
      if (res[0] === 'conflict') {
        throw new CodedError(
          'store_conflict',
          `rollback ${next.id} changed meanwhile (now ${res[1]} v${res[2]}, expected ${expected.state} v${expected.version})`,
          {
            details: { state: res[1], version: Number(res[2]) },
          },
        );
      }
      if (res[0] === 'lease') {
        throw new CodedError(
          'store_lease_lost',
          `this process no longer owns rollback ${next.id}; another process has taken it over`,
        );
      }
      return stored;
    },

    async append(event) {
      const cap = event.type === 'progress' ? maxEvents : maxEvents + NOTES_OVER_PROGRESS;
      await guarded(() =>
        run(
          APPEND,
          [k.events(event.id), k.record(event.id)],
          [
            JSON.stringify(clean(boundEventForStorage(event))),
            cap,
            cappedNote(event, cap, event.type === 'progress' ? 'progress' : 'notes'),
            retentionMs,
          ],
        ),
      );
    },

    async events(id) {
      const entries = await guarded(() => redis.xrange(k.events(id), '-', '+'));
      return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as RollbackEvent);
    },

    async acquireLease(id, owner, ttlMs) {
      const token = await guarded(() =>
        run(ACQUIRE, [k.lease(id), k.fence(id), k.record(id)], [owner, ttlMs]),
      );
      return typeof token === 'number' ? { id, owner, token } : undefined;
    },

    async renewLease(lease, ttlMs) {
      return (await guarded(() => run(RENEW, [k.lease(lease.id)], [leaseValue(lease), ttlMs]))) === 1;
    },

    async releaseLease(lease) {
      await guarded(() => run(RELEASE, [k.lease(lease.id)], [leaseValue(lease)]));
    },

    listActive: () => guarded(() => redis.smembers(k.active())),

    async holderOf(namespace, deployment) {
      return (await guarded(() => redis.get(k.deploymentLock(namespace, deployment)))) ?? undefined;
    },

    async findIncident(key) {
      const stored = await guarded(() => redis.get(k.incident(key)));
      return stored ? (JSON.parse(stored) as Incident) : undefined;
    },

    async outbox(id, limit) {
      const items = await guarded(() => redis.lrange(k.outbox(id), 0, limit - 1));
      return items.map((x) => JSON.parse(x) as OutboxItem);
    },

    async ackOutbox(id, seq) {
      await guarded(() => run(ACK, [k.outbox(id), k.outboxPending()], [seq, id]));
    },

    pendingOutboxes: () => guarded(() => redis.smembers(k.outboxPending())),

    async acquireOutboxLease(id, owner, ttlMs) {
      const token = await guarded(() =>
        run(ACQUIRE, [k.outboxLease(id), k.outboxFence(id), k.record(id)], [owner, ttlMs]),
      );
      return typeof token === 'number' ? { id, owner, token } : undefined;
    },

    async renewOutboxLease(lease, ttlMs) {
      return (await guarded(() => run(RENEW, [k.outboxLease(lease.id)], [leaseValue(lease), ttlMs]))) === 1;
    },

    async releaseOutboxLease(lease) {
      await guarded(() => run(RELEASE, [k.outboxLease(lease.id)], [leaseValue(lease)]));
    },

    async unlock(namespace, deployment, holder, audit) {
      const lock = k.deploymentLock(namespace, deployment);
      const entry = JSON.stringify({
        action: 'unlock',
        lock: `${namespace}/${deployment}`,
        holder,
        ...audit,
      });
      return (await guarded(() => run(UNLOCK, [lock, k.audit()], [holder, entry]))) === 1;
    },

    async pauseAuto(p) {
      const entry = JSON.stringify({ action: 'pause', at: p.at, by: p.by, pause: p });
      const member = `${p.namespace}/${p.deployment}`;
      await guarded(() =>
        run(
          PAUSE,
          [k.pause(p.namespace, p.deployment), k.pausesDue(), k.pausesDueInfo(), k.audit()],
          [JSON.stringify(p), String(Date.parse(p.until)), member, entry],
        ),
      );
    },

    async claimLapsedPauses(now) {
      const lapsed = await guarded(() =>
        run(
          CLAIM_LAPSED_PAUSES,
          [k.pausesDue(), k.pausesDueInfo(), k.audit()],
          [String(now.getTime()), now.toISOString()],
        ),
      );
      return (lapsed as string[]).map((p) => JSON.parse(p) as Pause);
    },

    async pauseOf(namespace, deployment) {
      const stored = await guarded(() => redis.get(k.pause(namespace, deployment)));
      return stored ? (JSON.parse(stored) as Pause) : undefined;
    },

    async requestCancel(id, by, at) {
      await guarded(() => redis.set(k.cancelRequest(id), JSON.stringify({ by, at }), 'PX', 86_400_000));
    },

    async cancelRequestOf(id) {
      const stored = await guarded(() => redis.get(k.cancelRequest(id)));
      return stored ? (JSON.parse(stored) as { by: Actor; at: string }) : undefined;
    },

    async liftPause(namespace, deployment, audit) {
      const entry = JSON.stringify({ action: 'resume', ...audit });
      const lifted = await guarded(() =>
        run(
          LIFT_PAUSE,
          [k.pause(namespace, deployment), k.audit(), k.pausesDue(), k.pausesDueInfo()],
          [entry, `${namespace}/${deployment}`],
        ),
      );
      return typeof lifted === 'string' ? (JSON.parse(lifted) as Pause) : undefined;
    },

    async claimIncident(incident) {
      const key = k.incident(incident.key);
      // Incidents are kept a week: long enough for any follow-up alert of the same bad revision.
      const created = await guarded(() =>
        redis.set(key, JSON.stringify(incident), 'EX', 7 * 24 * 3600, 'NX'),
      );
      if (created === 'OK') return { created: true, incident };
      const stored = await guarded(() => redis.get(key));
      return { created: false, incident: stored ? (JSON.parse(stored) as Incident) : incident };
    },

    async saveIncident(incident) {
      await guarded(() => redis.set(k.incident(incident.key), JSON.stringify(incident), 'EX', 7 * 24 * 3600));
    },

    async firstSight(incidentKey, signalKey) {
      const key = k.incidentSignals(incidentKey);
      const added = await guarded(() => redis.sadd(key, signalKey));
      await guarded(() => redis.expire(key, 7 * 24 * 3600));
      return added === 1;
    },

    async listRecent(limit, service) {
      const [real, dry] = await Promise.all([
        idsWithScores(service ? k.recentOf(service) : k.recent(), limit),
        idsWithScores(service ? k.dryRecentOf(service) : k.dryRecent(), limit),
      ]);
      const ids = [...real, ...dry]
        .sort((a, b) => b.at - a.at)
        .slice(0, limit)
        .map((e) => e.id);
      return getMany(ids);
    },

    listAutoSince: (namespace, deployment, sinceMs) => since(k.autoOf(namespace, deployment), sinceMs),

    listUndoneSince: (namespace, deployment, sinceMs) => since(k.undoneOf(namespace, deployment), sinceMs),

    async checkWritable(owner) {
      await guarded(() => redis.set(k.readyProbe(owner), new Date().toISOString(), 'PX', 10_000));
    },
  };
}
