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
    recent: () => `${prefix}recent`,
    recentOf: (service: string) => `${prefix}recent:${service}`,
    incident: (key: string) => `${prefix}incident:${key}`,
    incidentSignals: (key: string) => `${prefix}incident:${key}:signals`,
    /** Operator actions outside a rollback's own trail (unlock). */
    audit: () => `${prefix}audit`,
  };
}
export type Keys = ReturnType<typeof createKeys>;
