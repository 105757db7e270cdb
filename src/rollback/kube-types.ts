// The domain's view of Kubernetes objects. Templates stay raw JSON on purpose: an undo must copy a
// ReplicaSet's pod template byte-for-byte, including fields a typed client model would not know.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface DeploymentCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

/** The workload kinds the bot rolls back (kubectl's three rollbackers). */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

/**
 * A Deployment, StatefulSet or DaemonSet. One shape for the three, because the procedure is the same:
 * fields a kind does not have keep their zero value (a DaemonSet has no replicas, only a Deployment
 * can be paused).
 */
export interface WorkloadSnapshot {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  /** Label selector string built from spec.selector (kubectl's rules). */
  selector: string;
  paused: boolean;
  /** spec.replicas; undefined only if the server omitted it. */
  replicas: number | undefined;
  template: JsonObject;
  /**
   * spec.strategy (Deployment) or spec.updateStrategy (StatefulSet, DaemonSet): its type as the server
   * returned it, whether rollingUpdate was set, and a StatefulSet's partition.
   */
  strategy: { type: string; rollingUpdate: boolean; partition?: number };
  status: {
    observedGeneration: number;
    replicas: number;
    updatedReplicas: number;
    readyReplicas: number;
    availableReplicas: number;
    unavailableReplicas: number;
    conditions: DeploymentCondition[];
    /** StatefulSet: the revision names of the current and update revisions. */
    currentRevision?: string;
    updateRevision?: string;
    currentReplicas?: number;
    /** DaemonSet. */
    desiredNumberScheduled?: number;
    currentNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    numberReady?: number;
  };
}

/** Most of the code was written for Deployments first; the name stays for the Deployment-only parts. */
export type DeploymentSnapshot = WorkloadSnapshot;

/**
 * One revision of a workload's history: a ReplicaSet (Deployment) or a ControllerRevision (StatefulSet,
 * DaemonSet). For a ControllerRevision, `template` is the one its data restores and replicas are 0.
 */
export interface ReplicaSetSnapshot {
  name: string;
  uid: string;
  /** Controller owner's uid, if any. */
  controllerUid: string | undefined;
  creationTimestamp: string;
  annotations: Record<string, string>;
  template: JsonObject;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  /** ControllerRevision's `.revision` (a ReplicaSet's revision is its annotation). */
  revision?: number;
  /** ControllerRevision's `.data`: the strategic merge patch an undo sends. */
  data?: JsonObject;
  /** The value the revision's pods carry in their hash label (pod-template-hash / controller-revision-hash). */
  podHash?: string;
}

export type RevisionSnapshot = ReplicaSetSnapshot;

export interface PodSnapshot {
  name: string;
  phase: string;
  ready: boolean;
  nodeName: string | undefined;
  images: string[];
  /** pod-template-hash (Deployment pods) or controller-revision-hash (StatefulSet, DaemonSet pods). */
  podTemplateHash: string | undefined;
  deleting: boolean;
  containers: {
    name: string;
    ready: boolean;
    /** The container is running now (a kubelet refuses exec into one that is not). */
    running: boolean;
    restartCount: number;
    waitingReason: string | undefined;
    /** Exit code of the container's current terminated state, if it has ended. */
    exitCode: number | undefined;
    terminatedReason: string | undefined;
    lastTerminatedReason: string | undefined;
  }[];
}

export interface EventSnapshot {
  type: string;
  reason: string;
  message: string;
  object: string;
  count: number;
  lastSeen: string;
}

export interface JobSnapshot {
  name: string;
  labels: Record<string, string>;
  active: number;
  succeeded: number;
  failed: number;
  /** Complete or Failed (with its reason, e.g. DeadlineExceeded), once the Job controller decided. */
  finished:
    | { type: 'Complete' | 'Failed'; reason: string | undefined; message: string | undefined }
    | undefined;
}

/**
 * What an undo sends, as kubectl does: a Deployment gets its template and annotations replaced (JSON
 * patch); a StatefulSet or DaemonSet gets its ControllerRevision's data as a strategic merge patch.
 */
export type UndoPatch =
  | { type: 'replace-template'; template: JsonObject; annotations: Record<string, string> }
  | { type: 'strategic-merge'; data: JsonObject };
