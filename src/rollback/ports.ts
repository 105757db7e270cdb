// The ports the domain talks through. Adapters in src/kube, src/observe, src/store, src/slack and
// src/pagerduty implement them; tests may implement the notifier and pager to record calls.

import type { GitOpsOwner } from './gitops.js';
import type {
  EventSnapshot,
  JobSnapshot,
  JsonObject,
  PodSnapshot,
  ReplicaSetSnapshot,
  UndoPatch,
  WorkloadKind,
  WorkloadSnapshot,
} from './kube-types.js';
import type { Actor, Notice, OutboxItem, Rollback, RollbackEvent } from './model.js';
import type { RolloutStatus } from './rollout-status.js';
import type { State } from './states.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface KubePort {
  /** Throws kube_not_found when the workload does not exist. */
  readWorkload(kind: WorkloadKind, namespace: string, name: string): Promise<WorkloadSnapshot>;
  /**
   * The workload's history as kubectl reads it: every ReplicaSet (Deployment) or ControllerRevision
   * (StatefulSet, DaemonSet) matching its selector; ownership is filtered by the domain.
   */
  listRevisions(w: WorkloadSnapshot): Promise<ReplicaSetSnapshot[]>;
  listPods(namespace: string, selector: string): Promise<PodSnapshot[]>;
  /** Warning events in the namespace about these objects, newest first. */
  listWarningEvents(namespace: string, objectNames: string[], limit: number): Promise<EventSnapshot[]>;
  readLogs(
    namespace: string,
    pod: string,
    opts: { container?: string; tailLines: number; limitBytes: number; previous?: boolean },
  ): Promise<string>;
  /**
   * Sends the undo's patch as `kubectl rollout undo` does, but only if the workload's spec and metadata
   * are still those of `expected` (rollback_concurrent_change otherwise).
   */
  patchUndo(
    expected: WorkloadSnapshot,
    patch: UndoPatch,
    opts?: { dryRun?: boolean },
  ): Promise<WorkloadSnapshot>;
  /** Waits like `kubectl rollout status` (watch, reconnecting) until done, failed or timed out. */
  waitForRollout(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    opts: {
      timeoutMs: number;
      staleDeadlineBefore?: Date;
      onProgress?: (s: RolloutStatus, d: WorkloadSnapshot) => void;
      /**
       * The change the wait is for, run once the watch is open (watch first, then act): a rollout
       * that completes within a watch's connection time is then seen when the apiserver reports it.
       * Until it resolves nothing is evaluated; then only its `generation` and newer, with its
       * `staleDeadlineBefore`. Its rejection ends the wait with the same error.
       */
      act?: () => Promise<{ generation: number; staleDeadlineBefore: Date }>;
    },
  ): Promise<{ status: RolloutStatus; deployment: WorkloadSnapshot }>;
  exec(
    namespace: string,
    pod: string,
    container: string | undefined,
    argv: string[],
    timeoutMs: number,
  ): Promise<ExecResult>;
  /** The GitOps owner object (Argo CD Application, Flux Kustomization/HelmRelease); undefined if none. */
  readOwner(owner: GitOpsOwner): Promise<JsonObject | undefined>;
  /**
   * JSON merge patch of the owner, only if its resourceVersion is still `resourceVersion`
   * (rollback_concurrent_change otherwise). Returns the object as patched.
   */
  patchOwner(owner: GitOpsOwner, patch: JsonObject, resourceVersion: string): Promise<JsonObject>;
  /** true when the bot may patch the owner (SelfSubjectAccessReview), else the missing right, in words. */
  mayPatchOwner(owner: GitOpsOwner): Promise<true | string>;
  /** Creates a Job (batch/v1); kube_conflict when one of that name exists. */
  createJob(namespace: string, job: JsonObject): Promise<void>;
  /** undefined when there is no such Job. */
  readJob(namespace: string, name: string): Promise<JobSnapshot | undefined>;
  /** Deletes the Job and its pods (background propagation); a missing Job is not an error. */
  deleteJob(namespace: string, name: string): Promise<void>;
}

export interface PromSample {
  value: number | undefined;
  query: string;
  at: Date;
}

export interface ObservePort {
  /** Instant query; value undefined when the result is empty. Throws observe_unavailable. */
  query(promql: string, at?: Date): Promise<PromSample>;
  /** GET url; status 0 with an error text when it could not be reached. */
  httpCheck(
    url: string,
    timeoutMs: number,
  ): Promise<{ status: number; ms: number; error?: string; body?: string }>;
}

/** One alert Alertmanager holds as firing (active: not silenced, not inhibited). */
export interface FiringAlert {
  /** Its `alertname` label. */
  name: string;
  fingerprint: string;
  /** When it started firing (ISO): after the undo means the rolled-back service caused it. */
  startsAt: string;
  labels: Record<string, string>;
  summary?: string;
}

/** What Alertmanager says is firing; the verification's "no new alerts" check asks it. */
export interface AlertsPort {
  /**
   * The alerts firing now for a catalogued service, matched to it as incoming alerts are (its
   * namespace plus a deployment, pod or service label), silenced and inhibited ones left out.
   * `source` is the request, for the evidence. Throws alerts_unavailable.
   */
  firing(service: string): Promise<{ source: string; alerts: FiringAlert[] }>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export interface Lease {
  id: string;
  owner: string;
  /** Fencing token: increases with every acquisition, so a lapsed owner's writes are refused. */
  token: number;
}

/** Automatic rollbacks of one workload held back by an approver until `until` (pauses.ts). */
export interface Pause {
  service: string;
  namespace: string;
  deployment: string;
  by: Actor;
  at: string;
  /** When it lapses by itself (ISO time). */
  until: string;
}

export interface StorePort {
  /**
   * Stores a new rollback and its first event. With `lockDeployment`, also takes the Deployment's lock;
   * if another rollback holds it, throws rollback_in_progress naming it. A dry run beyond its
   * requester's limit (DRY_RUN_LIMIT per DRY_RUN_WINDOW_MINUTES) throws rollback_dry_run_limit, with
   * `details.retryAt` (ISO time); nothing is written then. The store keeps a bounded copy
   * (boundForStorage): what `get` returns later may have shorter lists and texts than `r`.
   */
  create(r: Rollback, event: RollbackEvent, opts: { lockDeployment: boolean }): Promise<void>;
  get(id: string): Promise<Rollback | undefined>;
  /**
   * Atomically: if the stored (state, version) still equal `expected` and `lease` is still held, stores
   * `next` (version + 1) and appends `event`. Otherwise store_conflict / store_lease_lost, nothing written.
   * Returns the record as stored (bounded, like create). A terminal `next` starts the record's retention
   * (RETENTION_DAYS): it and its events expire then. Redis refusing the write (full, read-only,
   * credentials) throws store_refused; Redis unreachable throws store_unavailable.
   */
  commit(
    expected: { state: State; version: number },
    next: Rollback,
    event: RollbackEvent,
    lease: Lease | undefined,
    /** Appended to the rollback's outbox in the same atomic step. */
    notices?: Notice[],
  ): Promise<Rollback>;
  /** The first `limit` undelivered notices of a rollback, oldest first. */
  outbox(id: string, limit: number): Promise<OutboxItem[]>;
  /** Removes notice `seq` (delivered), wherever it is in the outbox. */
  ackOutbox(id: string, seq: number): Promise<void>;
  /** Rollbacks with undelivered notices. */
  pendingOutboxes(): Promise<string[]>;
  /** The right to deliver a rollback's outbox (one process at a time keeps the order). */
  acquireOutboxLease(id: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  renewOutboxLease(lease: Lease, ttlMs: number): Promise<boolean>;
  releaseOutboxLease(lease: Lease): Promise<void>;
  /** Appends an event without changing the record (progress, notes). */
  /**
   * Appends an event without changing the record (progress, notes). A stream already holding 2,000
   * events takes no more progress events, and no notes past 2,500 (a note says so, once); state
   * changes made by commit are always recorded.
   */
  append(event: RollbackEvent): Promise<void>;
  events(id: string): Promise<RollbackEvent[]>;
  acquireLease(id: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  renewLease(lease: Lease, ttlMs: number): Promise<boolean>;
  releaseLease(lease: Lease): Promise<void>;
  /** Ids of rollbacks not yet in a terminal state. */
  listActive(): Promise<string[]>;
  /** The rollback holding the Deployment's lock, if any. */
  holderOf(namespace: string, deployment: string): Promise<string | undefined>;
  /**
   * Deletes the Deployment's lock only if `holder` still holds it, and records who did it and why in
   * the audit stream, atomically. False when the lock changed hands meanwhile.
   */
  unlock(
    namespace: string,
    deployment: string,
    holder: string,
    audit: { by: string; at: string; reason: string },
  ): Promise<boolean>;
  /** Most recent first. */
  /** Most recent first, dry runs included (status, history). Not for guard rails: see listAutoSince. */
  listRecent(limit: number, service?: string): Promise<Rollback[]>;
  /** The stored incident with this key, if any (signals that may not open one only look). */
  findIncident(key: string): Promise<Incident | undefined>;
  /**
   * The automatic rollbacks (never dry runs, never manual ones) of the Deployment requested at or after
   * `sinceMs` (epoch ms), most recent first, in any state: what the cooldown and the max-per-window
   * guard rails count. However many manual rollbacks or dry runs came since, none hides one of these.
   */
  listAutoSince(namespace: string, deployment: string, sinceMs: number): Promise<Rollback[]>;
  /**
   * The rollbacks (automatic or manual, never dry runs) that undid the Deployment (`undo` is set),
   * requested at or after `sinceMs`, most recent first: for "never onto a revision rolled back from"
   * (compare each one's `assessment.from.images` with the target). `sinceMs` 0 = all the store still
   * keeps (the retention period, at most the 200 most recent).
   */
  listUndoneSince(namespace: string, deployment: string, sinceMs: number): Promise<Rollback[]>;
  /**
   * Pauses the workload's automatic rollbacks until `p.until` (the key expires then, so the pause
   * lapses without any process), replacing a pause already there, and appends it to the audit trail.
   */
  pauseAuto(p: Pause): Promise<void>;
  /**
   * The pauses whose time came by `now`, each taken once (whichever replica asks first) and audited
   * as lapsed; a pause lifted early never lapses.
   */
  claimLapsedPauses(now: Date): Promise<Pause[]>;
  /** The workload's active pause, if any. */
  pauseOf(namespace: string, deployment: string): Promise<Pause | undefined>;
  /**
   * A cancel asked for while a step works on the rollback: the steps honour it before the patch
   * (steps/stop-requested.ts). Kept a day; one of a rollback that ended is never read again.
   */
  requestCancel(id: string, by: Actor, at: string): Promise<void>;
  cancelRequestOf(id: string): Promise<{ by: Actor; at: string } | undefined>;
  /** Lifts the pause early and audits who did; the lifted pause, or undefined when there was none. */
  liftPause(
    namespace: string,
    deployment: string,
    audit: { by: Actor; at: string },
  ): Promise<Pause | undefined>;
  /** Creates the incident unless one with its key exists; either way returns the stored one. */
  claimIncident(incident: Incident): Promise<{ created: boolean; incident: Incident }>;
  saveIncident(incident: Incident): Promise<void>;
  /** Records a signal (key + status) for an incident; true the first time it is seen. */
  firstSight(incidentKey: string, signalKey: string): Promise<boolean>;
}

/** One incident per service and bad revision: where its thread is and what was done about it. */
export interface Incident {
  key: string;
  service: string;
  namespace: string;
  deployment: string;
  revision: number;
  images: string[];
  openedAt: string;
  openedBy: { source: string; name: string; key: string };
  thread?: { channel: string; ts: string };
  rollbackId?: string;
  /** Why no automatic rollback happened (the guard rail), if one was suppressed. */
  suppressed?: string;
  /**
   * `opening` while the first firing signal is being acted on, `failed` when that gave up (the next
   * firing signal tries again), `open` once the thread and the proposal or rollback exist.
   * Absent on incidents stored before this field: treated as open.
   */
  status?: 'opening' | 'open' | 'failed';
  /** Why opening failed, for the next attempt's log and the page. */
  openError?: string;
  /** The thread's one "Signals" message, edited in place. */
  signalsTs?: string;
  /** What that message shows, by signal key. */
  signals?: Record<string, SignalEntry>;
}

/** One line of an incident's Signals message. */
export interface SignalEntry {
  name: string;
  source: string;
  status: 'firing' | 'resolved';
  summary: string;
  since: string;
  value?: string;
  threshold?: string;
  /** Context only: why it does not count as a trigger. */
  context?: string;
  updatedAt: string;
}

/** Tells people what is happening. Failures here are recorded and never stop a rollback. */
export interface NotifierPort {
  /** The assessment is ready (with Approve/Cancel when the rollback awaits approval). */
  assessed(r: Rollback): Promise<void>;
  /** The database is ahead of the target: ask for the separate approval of the downgrade. */
  migrationApprovalNeeded(r: Rollback): Promise<void>;
  /** Procedure step 2: #incidents post, engineering manager, monitoring group. */
  /** Returns who was told (for the audit trail and the report), e.g. `#incidents thread`. */
  starting(r: Rollback): Promise<string[] | undefined>;
  /** Rollout progress; the adapter may coalesce (at most one update per second). */
  /** `final`: the rollout's last status (done or failed): shown at once, never held back by coalescing. */
  progress(r: Rollback, message: string, opts?: { final?: boolean }): Promise<void>;
  /** The state changed (the root message shows it). */
  stateChanged(r: Rollback): Promise<void>;
  /** The incident report, once the rollback has ended. */
  finished(r: Rollback, report: string): Promise<void>;
  /** The stored report changed after it was posted: post the new version, saying why. */
  reportUpdated(r: Rollback, report: string, why: string): Promise<void>;
  /**
   * Starts an incident thread in a channel; returns where it is. `offer`: the service's automatic
   * rollbacks can be paused from the thread's first message (or, when `paused`, resumed).
   */
  openThread(
    channel: string,
    text: string,
    offer?: { service: string; paused: boolean },
  ): Promise<{ channel: string; ts: string } | undefined>;
  /** A line in an existing thread (things a person must act on or see change: guard rails, proposals). */
  say(thread: { channel: string; ts: string }, text: string): Promise<void>;
  /**
   * The thread's one Signals message: posted when `ts` is undefined, else edited in place (chat.update).
   * Returns the message's ts.
   */
  upsertSignals(
    thread: { channel: string; ts: string },
    ts: string | undefined,
    text: string,
  ): Promise<string | undefined>;
}

/** What a page did, for the audit trail: an incident triggered or resolved, by its dedup key. */
export interface PageOutcome {
  action: 'trigger' | 'resolve' | 'none';
  dedupKey?: string;
}

/** Pages people for automatic rollbacks, and marks every rollback on the service's timeline. */
export interface PagerPort {
  /** Automatic rollbacks only. */
  rollbackStarted(r: Rollback): Promise<PageOutcome | undefined>;
  /** Every rollback (a change event); for automatic ones also resolves, or re-triggers with the failure. */
  rollbackFinished(r: Rollback): Promise<PageOutcome | undefined>;
  /** An automatic rollback was held back by a guard rail: a person must look. */
  rollbackSuppressed(incident: Incident, reason: string): Promise<void>;
}
