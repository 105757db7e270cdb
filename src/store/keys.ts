/** Every Redis key the bot uses, built in one place. `prefix` isolates deployments (and tests). */
export function createKeys(prefix: string) {
  return {
    record: (id: string) => `${prefix}r:${id}`,
    events: (id: string) => `${prefix}r:${id}:events`,
    lease: (id: string) => `${prefix}r:${id}:lease`,
    fence: (id: string) => `${prefix}r:${id}:fence`,
    outbox: (id: string) => `${prefix}r:${id}:outbox`,
    outboxSeq: (id: string) => `${prefix}r:${id}:outbox:seq`,
    outboxLease: (id: string) => `${prefix}r:${id}:outbox:lease`,
    outboxFence: (id: string) => `${prefix}r:${id}:outbox:fence`,
    outboxPending: () => `${prefix}outbox:pending`,
    deploymentLock: (namespace: string, deployment: string) => `${prefix}lock:${namespace}/${deployment}`,
    active: () => `${prefix}active`,
    /** Rollbacks that are not dry runs, by request time (status, history). */
    recent: () => `${prefix}recent`,
    recentOf: (service: string) => `${prefix}recent:${service}`,
    /** Dry runs, by request time: listed by status, kept apart so they never crowd out real rollbacks. */
    dryRecent: () => `${prefix}dry:recent`,
    dryRecentOf: (service: string) => `${prefix}dry:recent:${service}`,
    /** One requester's dry runs within the dry-run window (the per-person limit). */
    dryQuota: (actor: string) => `${prefix}dry:quota:${actor}`,
    /** Automatic, non-dry rollbacks of a Deployment by request time: the cooldown and window guard rails. */
    autoOf: (namespace: string, deployment: string) => `${prefix}auto:${namespace}/${deployment}`,
    /** Rollbacks that undid a Deployment (patched it, or found it at the target): "never onto a revision rolled back from". */
    undoneOf: (namespace: string, deployment: string) => `${prefix}undone:${namespace}/${deployment}`,
    /** The readiness write probe of one process. */
    readyProbe: (owner: string) => `${prefix}ready:${owner}`,
    incident: (key: string) => `${prefix}incident:${key}`,
    incidentSignals: (key: string) => `${prefix}incident:${key}:signals`,
    /** A workload's pause of automatic rollbacks; expires when the pause does. */
    pause: (namespace: string, deployment: string) => `${prefix}pause:${namespace}/${deployment}`,
    /** Every pause by when it lapses (member `namespace/name`, the pause itself in pausesDueInfo). */
    pausesDue: () => `${prefix}pauses:due`,
    pausesDueInfo: () => `${prefix}pauses:due:info`,
    /** A cancel asked for while a step worked on the rollback (kept a day). */
    cancelRequest: (id: string) => `${prefix}cancel-request:${id}`,
    /** Operator actions outside a rollback's own trail (unlock, pause, resume). */
    audit: () => `${prefix}audit`,
  };
}
export type Keys = ReturnType<typeof createKeys>;
