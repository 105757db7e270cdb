// The ports the domain talks through. Adapters in src/kube, src/observe, src/store, src/slack and
// src/pagerduty implement them; tests may implement the notifier and pager to record calls.
import type {
  DeploymentSnapshot,
  EventSnapshot,
  JsonObject,
  PodSnapshot,
  ReplicaSetSnapshot,
} from './kube-types.js';
import type { RolloutStatus } from './rollout-status.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface KubePort {
  /** Throws kube_not_found when the Deployment does not exist. */
  readDeployment(namespace: string, name: string): Promise<DeploymentSnapshot>;
  /** Every ReplicaSet matching the Deployment's selector (ownership is filtered by the domain). */
  listReplicaSets(d: DeploymentSnapshot): Promise<ReplicaSetSnapshot[]>;
  listPods(namespace: string, selector: string): Promise<PodSnapshot[]>;
  /** Warning events in the namespace about these objects, newest first. */
  listWarningEvents(namespace: string, objectNames: string[], limit: number): Promise<EventSnapshot[]>;
  readLogs(
    namespace: string,
    pod: string,
    opts: { container?: string; tailLines: number; limitBytes: number; previous?: boolean },
  ): Promise<string>;
  /**
   * Replaces the template and annotations as `kubectl rollout undo` does, but only if the Deployment's
   * spec and metadata are still those of `expected` (rollback_concurrent_change otherwise).
   */
  patchUndo(
    expected: DeploymentSnapshot,
    template: JsonObject,
    annotations: Record<string, string>,
    opts?: { dryRun?: boolean },
  ): Promise<DeploymentSnapshot>;
  /** Waits like `kubectl rollout status` (watch, reconnecting) until done, failed or timed out. */
  waitForRollout(
    namespace: string,
    name: string,
    opts: {
      timeoutMs: number;
      staleDeadlineBefore?: Date;
      onProgress?: (s: RolloutStatus, d: DeploymentSnapshot) => void;
    },
  ): Promise<{ status: RolloutStatus; deployment: DeploymentSnapshot }>;
  exec(
    namespace: string,
    pod: string,
    container: string | undefined,
    argv: string[],
    timeoutMs: number,
  ): Promise<ExecResult>;
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
