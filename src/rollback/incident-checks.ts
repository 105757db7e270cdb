// What an automatic rollback must pass before the bot acts alone: the guard rails (a rollback in
// progress, the cooldown, the limit per window, a target it already rolled back from), then a fresh
// read that confirms the signal. Fail closed: whatever cannot be re-checked is not confirmed.

import type { CatalogEntry } from '../config/catalog-schema.js';
import { fillQuery } from './bounded.js';
import type { ReplicaSetSnapshot } from './kube-types.js';
import type { Clock, KubePort, ObservePort, StorePort } from './ports.js';
import { findNewReplicaSet, ownedReplicaSets, podHashOf } from './revisions.js';
import type { Signal } from './signal.js';
import { TERMINAL } from './states.js';

/** Which guard rail held an automatic rollback back (a bounded label for the bot's metrics). */
export type GuardKind = 'paused' | 'in_progress' | 'cooldown' | 'limit' | 'rolled_back_from';
export interface Held {
  guard: GuardKind;
  reason: string;
}

export function createIncidentChecks(deps: {
  store: StorePort;
  kube: KubePort;
  observe?: ObservePort;
  clock: Clock;
}) {
  const { store, kube, clock } = deps;

  /** The guard rail that forbids an automatic rollback now, if any. */
  async function guard(svc: CatalogEntry, targetImages: string[]): Promise<Held | undefined> {
    const holder = await store.holderOf(svc.namespace, svc.deployment);
    if (holder) {
      const r = await store.get(holder);
      if (r && !TERMINAL.has(r.state)) {
        return {
          guard: 'in_progress',
          reason:
            r.mode === 'manual'
              ? `a rollback requested by ${r.requestedBy.name ?? r.requestedBy.id} is in progress`
              : 'an automatic rollback is already in progress',
        };
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
      return {
        guard: 'cooldown',
        reason: `cooldown: the last automatic rollback was ${Math.round((now - Date.parse(last.requestedAt)) / 60_000)} min ago (cooldown ${svc.policy.cooldownMinutes} min)`,
      };
    }
    const inWindow = autos.filter((r) => now - Date.parse(r.requestedAt) < windowMs).length;
    if (inWindow >= svc.policy.maxAutoRollbacks) {
      return {
        guard: 'limit',
        reason: `limit: ${inWindow} automatic rollbacks in the last ${svc.policy.windowMinutes} min (max ${svc.policy.maxAutoRollbacks})`,
      };
    }
    const key = targetImages.join(',');
    const rolledBackFrom = (await store.listUndoneSince(svc.namespace, svc.deployment, 0)).find(
      (r) => r.undo && r.assessment?.from && r.assessment.from.images.join(',') === key,
    );
    if (rolledBackFrom) {
      return {
        guard: 'rolled_back_from',
        reason: `the target (${key}) is a revision the bot already rolled back from (rollback ${rolledBackFrom.id.slice(0, 8)})`,
      };
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

  return { guard, confirm };
}
export type IncidentChecks = ReturnType<typeof createIncidentChecks>;
