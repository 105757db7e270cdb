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

export interface DeploymentSnapshot {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  annotations: Record<string, string>;
  /** Label selector string built from spec.selector (kubectl's rules). */
  selector: string;
  paused: boolean;
  /** spec.replicas; undefined only if the server omitted it. */
  replicas: number | undefined;
  template: JsonObject;
  status: {
    observedGeneration: number;
    replicas: number;
    updatedReplicas: number;
    readyReplicas: number;
    availableReplicas: number;
    unavailableReplicas: number;
    conditions: DeploymentCondition[];
  };
}

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
}

export interface PodSnapshot {
  name: string;
  phase: string;
  ready: boolean;
  nodeName: string | undefined;
  images: string[];
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
