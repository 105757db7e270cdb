// What a rollback is, as stored: the record (current state + everything learned so far) and the
// append-only events that make its audit trail and its incident report.

import type { GitOpsAssessment, GitOpsOwner } from './gitops.js';
import type { EventSnapshot, JsonObject, PodSnapshot, WorkloadKind } from './kube-types.js';
import type { RevisionEntry } from './revisions.js';
import type { EventType, State } from './states.js';

export interface Actor {
  kind: 'user' | 'alert' | 'watch' | 'system';
  /** Slack user id, alert fingerprint, watch condition or process name. */
  id: string;
  name?: string;
  /** Slack user groups the person belongs to (resolved by the Slack adapter), for approver rules. */
  groups?: string[];
}

/** One assessment source: its value, or why it is unavailable. Never thrown through the assessment. */
export type Source<T> = { ok: true; value: T; ms: number } | { ok: false; unavailable: string; ms: number };

export interface MetricsReading {
  errorRatio: number | undefined;
  p99Seconds: number | undefined;
  baselineErrorRatio: number | undefined;
  baselineP99Seconds: number | undefined;
  /** When the baseline was taken: just before the current revision was created. */
  baselineAt: string | undefined;
  errorRatioQuery: string;
  p99Query: string;
}

export interface MigrationState {
  current: string | undefined;
  /** Expected head recorded on the target revision's pod template. */
  targetHead: string | undefined;
  /** Expected head recorded on the current revision's pod template. */
  currentHead: string | undefined;
  /** The database is at a head the target revision does not know (downgrade needed first). */
  ahead: boolean;
  command: string[];
}

/**
 * What was confirmed before a downgrade: the target's head is in the current image's migration history,
 * and the schema check (the procedure's `psql … -c "\dt"`) passed. A failed one makes the gate unknown.
 */
export interface PreDowngradeCheck {
  name: 'migration history' | 'schema check';
  passed: boolean;
  /** The argv as run, joined. */
  command: string;
  /** Where it ran: `pod …`, `Job …`. */
  where: string;
  /** Why it passed or failed, in a sentence. */
  detail: string;
  /** Its output, redacted and bounded (command-output.ts). */
  output: string;
  at: string;
}

/**
 * The database gate. `none`: the database is at the target's head. `downgrade`: it is ahead, the
 * downgrade waits for its own approval. `unknown`: a head could not be read or is not a revision id, or
 * a check before the downgrade failed; nothing is changed until a person rolls back without the
 * downgrade or cancels. `checks`: what was confirmed before a downgrade (absent when none was due).
 */
export type MigrationGate =
  | { kind: 'none'; current: string; target: string }
  | { kind: 'downgrade'; current: string; target: string; checks?: PreDowngradeCheck[] }
  | {
      kind: 'unknown';
      reasons: string[];
      current?: string;
      target?: string;
      checks?: PreDowngradeCheck[];
    };

/** One catalog command run by the bot after the rollback (a cleanup command), as the record keeps it. */
export interface CommandResult {
  name: string;
  /** The argv as run, joined. */
  command: string;
  where: string;
  passed: boolean;
  /** undefined when it could not be run or did not finish (then `error`). */
  exitCode?: number;
  error?: string;
  /** Redacted and bounded (command-output.ts). */
  output: string;
  at: string;
  ms: number;
}

/**
 * The data cleanup after a verified rollback: asked for by an approver (Run cleanup), committed before
 * any command runs so one click runs it once; results appended as each command ends; `finished` once
 * it has stopped. Started but never finished means the process running it stopped: nothing re-runs it.
 */
export interface DataCleanup {
  by: Actor;
  at: string;
  /** The commands as they were when it started (the catalog may change later). */
  commands: { name: string; command: string; where: string }[];
  results: CommandResult[];
  finished?: { at: string; outcome: 'passed' | 'failed' };
}

export interface RevisionRef {
  revision: number;
  replicaSet: string;
  images: string[];
  changeCause: string | undefined;
  createdAt: string;
}

export interface Assessment {
  at: string;
  deployment: Source<{
    generation: number;
    uid: string;
    /** The pod template as assessed: the re-check before each irreversible step compares with it. */
    template: JsonObject;
    replicas: number;
    updated: number;
    ready: number;
    available: number;
    paused: boolean;
    conditions: { type: string; status: string; reason?: string; message?: string }[];
    /** The kind and its update strategy (StatefulSet partition, OnDelete), as assessed. */
    kind?: WorkloadKind;
    strategy?: { type: string; partition?: number };
  }>;
  history: Source<Omit<RevisionEntry, 'annotations' | 'templateAnnotations'>[]>;
  pods: Source<PodSnapshot[]>;
  events: Source<EventSnapshot[]>;
  errorLogs: Source<{ pod: string; lines: string[] }[]>;
  health: Source<{ status: number; ms: number; error?: string }>;
  ready: Source<{ status: number; ms: number; error?: string }>;
  metrics: Source<MetricsReading>;
  migration: Source<MigrationState>;
  /** Where we are and where we would go; absent when no target exists (then the rollback fails). */
  from: RevisionRef | undefined;
  target: (RevisionRef & { reason: string }) | undefined;
  targetError: { code: string; message: string } | undefined;
  /** One line per finding, for people: what is wrong and why this target. */
  findings: string[];
  /** The workload's GitOps owner and what the policy makes of it; absent when nobody applies it from Git. */
  gitops?: GitOpsAssessment;
}

/**
 * How a check ended. `passed`/`failed`: it was checked and cleared the bar or not. `unknown`: it could
 * not be checked (no data, no baseline, a source unreachable, a head that cannot be read): never a
 * pass, so it fails the verification like `failed`. `not_configured`: the catalog or environment gives
 * it nothing to check (no /health URL, no smoke checks, no ALERTMANAGER_URL…): shown so that nobody
 * reads its absence as a pass, and left out of the verdict (see verificationPassed).
 */
export type CheckStatus = 'passed' | 'failed' | 'unknown' | 'not_configured';

export interface CheckResult {
  name: string;
  /** true exactly when status is `passed` (kept for readers of `passed` alone). */
  passed: boolean;
  /** Absent on records made before it: read it with statusOf() (`passed` → passed, else failed). */
  status?: CheckStatus;
  /** What was asked (query, command, URL), what came back, and the bar it had to clear. */
  evidence: { source: string; value: string; threshold: string };
  detail?: string;
}

/**
 * Something the procedure asks to watch after the pass/fail checks (its "Monitoring Dashboard Review"):
 * recorded for people to follow up, never part of the verdict. `met` false also when it could not be
 * measured (the evidence says why).
 */
export interface FollowUp {
  name: string;
  met: boolean;
  evidence: { source: string; value: string; threshold: string };
  detail?: string;
}

export interface Verification {
  at: string;
  /** No check failed or unknown, and at least one passed (not-configured ones count neither way). */
  passed: boolean;
  checks: CheckResult[];
  /** Absent on records made before follow-ups. */
  followUps?: FollowUp[];
}

export type SignOffRole = 'release_manager' | 'engineering_manager';

/** The kind of a rollback's workload (records older than the kind field are Deployments). */
export const kindOf = (r: { kind?: WorkloadKind }): WorkloadKind => r.kind ?? 'Deployment';

export interface Rollback {
  id: string;
  service: string;
  namespace: string;
  /** The workload's kind; absent on records made before StatefulSets and DaemonSets (a Deployment). */
  kind?: WorkloadKind;
  /** The workload's name, whatever its kind. */
  deployment: string;
  state: State;
  version: number;
  mode: 'manual' | 'auto';
  dryRun: boolean;
  /** The revision asked for; 0 = kubectl's default (second-highest). */
  toRevision: number;
  reason: string;
  /** For alert- and watch-driven rollbacks: which signal, its query, value, threshold and since when. */
  why?: string;
  requestedBy: Actor;
  requestedAt: string;
  updatedAt: string;
  assessment?: Assessment;
  approvals: { by: Actor; at: string }[];
  decision?: { event: 'approve' | 'cancel'; by: Actor; at: string };
  /** Who approved the migration downgrade, separately from the rollback itself. */
  migrationApproval?: { by: Actor; at: string };
  /** What the database gate found right before the undo (read fresh with the current image). */
  migrationGate?: MigrationGate;
  /** The downgrade: where it was started (so a resumed rollback never starts a second), and how it ended. */
  migration?: {
    started: { at: string; by: string; via: 'exec' | 'job'; pod?: string; job?: string };
    finished?: { at: string; exitCode: number; head: string | undefined };
  };
  /** The report's Approval lines, signed in Slack by the configured people. */
  signOffs?: { role: SignOffRole; by: Actor; at: string }[];
  /** A failed manual rollback pages (the service's `paging.manualFailures`); automatic ones always do. */
  pageOnFailure?: boolean;
  /** The first signal that asked for the rollback: when it started (the report's "error spike detected"). */
  signal?: { name: string; since: string; summary: string };
  /** The procedure's step 2 announcement is committed (to the outbox): never made twice. */
  announced?: boolean;
  /**
   * The GitOps owner's sync, suspended right before the undo: its settings as they were (what Resume
   * sync restores), saved before the patch so a resumed rollback never loses them.
   */
  gitops?: {
    owner: GitOpsOwner;
    previous: JsonObject;
    at: string;
    suspendedAt?: string;
    /** Someone had already suspended it: the bot changed nothing, so it offers no Resume sync. */
    alreadySuspended?: boolean;
    resumed?: { by: Actor; at: string; outcome: 'restored' | 'changed_by_someone' };
  };
  /** The data cleanup an approver ran after the rollback (never automatic). */
  cleanup?: DataCleanup;
  /** A person chose to roll back without the downgrade when the database state was unknown. */
  migrationSkipped?: { by: Actor; at: string };
  undo?: {
    outcome: 'patched' | 'already_at_target';
    at: string;
    generation: number;
    rollout?: { state: string; message: string; at: string; durationMs: number };
  };
  verification?: Verification;
  failure?: { step: State; code: string; message: string; at: string };
  report?: string;
  /** Where the conversation about this rollback lives (set by the Slack adapter). */
  thread?: { channel: string; ts: string };
}

export interface RollbackEvent {
  id: string;
  type: EventType | 'progress' | 'note' | 'created';
  from: State | undefined;
  to: State | undefined;
  actor: Actor;
  at: string;
  data?: Record<string, unknown>;
}

/** Something people must be told, committed with the transition that caused it (the outbox). */
export type Notice =
  | { kind: 'stateChanged' | 'assessed' | 'starting' | 'migrationApprovalNeeded' | 'finished' }
  | { kind: 'say'; text: string }
  /** The stored report changed after it was posted (ticks, sign-offs, resume, cleanup): post it again. */
  | { kind: 'reportUpdated'; text: string }
  | { kind: 'pageStarted' | 'pageFinished' };

export type OutboxItem = Notice & { seq: number; text?: string };
