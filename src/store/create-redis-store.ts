// The store port on Redis: records, event streams, the per-Deployment lock and work leases.
import type { Redis } from 'ioredis';
import { CodedError } from '../errors.js';
import type { Rollback, RollbackEvent } from '../rollback/model.js';
import type { Incident, Lease, StorePort } from '../rollback/ports.js';
import { TERMINAL } from '../rollback/states.js';
import { createKeys } from './keys.js';
import { ACQUIRE, COMMIT, CREATE, RELEASE, RENEW } from './scripts.js';

const leaseValue = (l: Lease) => `${l.owner}|${l.token}`;

function unavailable(err: unknown): CodedError {
  return new CodedError('store_unavailable', `Redis is unavailable: ${(err as Error).message}`, {
    remedy: 'Check REDIS_URL and that Redis is up; the rollback resumes from where it stopped once it is.',
    cause: err,
  });
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CodedError) throw err;
    throw unavailable(err);
  }
}

export function createRedisStore(redis: Redis, prefix = 'rb:'): StorePort {
  const k = createKeys(prefix);
  const run = (script: string, keys: string[], args: (string | number)[]) =>
    redis.eval(script, keys.length, ...keys, ...args);

  async function get(id: string): Promise<Rollback | undefined> {
    const json = await guarded(() => redis.hget(k.record(id), 'record'));
    return json ? (JSON.parse(json) as Rollback) : undefined;
  }

  return {
    get,

    async create(r, event, opts) {
      const res = (await guarded(() =>
        run(
          CREATE,
          [
            k.deploymentLock(r.namespace, r.deployment),
            k.record(r.id),
            k.events(r.id),
            k.active(),
            k.recent(),
            k.recentOf(r.service),
          ],
          [
            r.id,
            JSON.stringify(r),
            JSON.stringify(event),
            r.state,
            Date.parse(r.requestedAt),
            opts.lockDeployment ? '1' : '0',
          ],
        ),
      )) as string[];
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

    async commit(expected, next, event, lease) {
      const stored: Rollback = { ...next, version: expected.version + 1 };
      const res = (await guarded(() =>
        run(
          COMMIT,
          [
            k.record(next.id),
            k.events(next.id),
            k.active(),
            k.lease(next.id),
            k.deploymentLock(next.namespace, next.deployment),
          ],
          [
            expected.state,
            String(expected.version),
            next.state,
            JSON.stringify(stored),
            JSON.stringify(event),
            lease ? leaseValue(lease) : '',
            TERMINAL.has(next.state) ? '1' : '0',
            next.id,
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
      await guarded(() => redis.xadd(k.events(event.id), '*', 'e', JSON.stringify(event)));
    },

    async events(id) {
      const entries = await guarded(() => redis.xrange(k.events(id), '-', '+'));
      return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as RollbackEvent);
    },

    async acquireLease(id, owner, ttlMs) {
      const token = await guarded(() => run(ACQUIRE, [k.lease(id), k.fence(id)], [owner, ttlMs]));
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
      const ids = await guarded(() =>
        redis.zrevrange(service ? k.recentOf(service) : k.recent(), 0, limit - 1),
      );
      const out: Rollback[] = [];
      for (const id of ids) {
        const r = await get(id);
        if (r) out.push(r);
      }
      return out;
    },
  };
}
