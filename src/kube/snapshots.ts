// Raw Kubernetes JSON → the domain's snapshots. Zero-valued status integers are omitted by the API;
// every number here defaults to 0 (kubectl-semantics §7.20).
import type {
  DeploymentCondition,
  DeploymentSnapshot,
  EventSnapshot,
  JobSnapshot,
  JsonObject,
  PodSnapshot,
  ReplicaSetSnapshot,
  WorkloadKind,
  WorkloadSnapshot,
} from '../rollback/kube-types.js';

// biome-ignore lint/suspicious/noExplicitAny: raw apiserver JSON, read defensively below
type Raw = any;

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** kubectl's label-selector string for spec.selector. */
export function selectorString(sel: LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

const KIND_OF: Record<string, WorkloadKind> = {
  Deployment: 'Deployment',
  StatefulSet: 'StatefulSet',
  DaemonSet: 'DaemonSet',
};

/** A Deployment, StatefulSet or DaemonSet; `kind` is needed because a watch event's object may omit it. */
export function toWorkload(
  raw: Raw,
  kind: WorkloadKind = KIND_OF[raw.kind] ?? 'Deployment',
): WorkloadSnapshot {
  const st = raw.status ?? {};
  const strategy = kind === 'Deployment' ? raw.spec?.strategy : raw.spec?.updateStrategy;
  return {
    kind,
    namespace: raw.metadata.namespace,
    name: raw.metadata.name,
    uid: raw.metadata.uid,
    resourceVersion: raw.metadata.resourceVersion,
    generation: raw.metadata.generation ?? 0,
    annotations: { ...(raw.metadata.annotations ?? {}) },
    labels: { ...(raw.metadata.labels ?? {}) },
    selector: selectorString(raw.spec?.selector),
    paused: raw.spec?.paused === true,
    replicas: raw.spec?.replicas,
    template: (raw.spec?.template ?? {}) as JsonObject,
    strategy: {
      type: strategy?.type ?? '',
      rollingUpdate: strategy?.rollingUpdate !== undefined && strategy?.rollingUpdate !== null,
      ...(typeof strategy?.rollingUpdate?.partition === 'number'
        ? { partition: strategy.rollingUpdate.partition }
        : {}),
    },
    status: {
      observedGeneration: st.observedGeneration ?? 0,
      replicas: st.replicas ?? 0,
      updatedReplicas: st.updatedReplicas ?? 0,
      readyReplicas: st.readyReplicas ?? 0,
      availableReplicas: st.availableReplicas ?? 0,
      unavailableReplicas: st.unavailableReplicas ?? 0,
      conditions: (st.conditions ?? []) as DeploymentCondition[],
      ...(kind === 'StatefulSet'
        ? {
            currentRevision: st.currentRevision,
            updateRevision: st.updateRevision,
            currentReplicas: st.currentReplicas ?? 0,
          }
        : {}),
      ...(kind === 'DaemonSet'
        ? {
            desiredNumberScheduled: st.desiredNumberScheduled ?? 0,
            currentNumberScheduled: st.currentNumberScheduled ?? 0,
            updatedNumberScheduled: st.updatedNumberScheduled ?? 0,
            numberAvailable: st.numberAvailable ?? 0,
            numberReady: st.numberReady ?? 0,
          }
        : {}),
    },
  };
}

export const toDeployment = (raw: Raw): DeploymentSnapshot => toWorkload(raw, 'Deployment');

/** What every revision (ReplicaSet or ControllerRevision) says about itself and its controller. */
function revisionMeta(raw: Raw) {
  const owner = (raw.metadata.ownerReferences ?? []).find((o: Raw) => o.controller === true);
  return {
    owner,
    meta: {
      name: raw.metadata.name as string,
      uid: raw.metadata.uid as string,
      controllerUid: owner?.uid as string | undefined,
      creationTimestamp: raw.metadata.creationTimestamp as string,
      annotations: { ...(raw.metadata.annotations ?? {}) } as Record<string, string>,
    },
  };
}

export function toReplicaSet(raw: Raw): ReplicaSetSnapshot {
  return {
    ...revisionMeta(raw).meta,
    template: (raw.spec?.template ?? {}) as JsonObject,
    replicas: raw.status?.replicas ?? 0,
    readyReplicas: raw.status?.readyReplicas ?? 0,
    availableReplicas: raw.status?.availableReplicas ?? 0,
    podHash: raw.spec?.template?.metadata?.labels?.['pod-template-hash'],
  };
}

/**
 * A ControllerRevision as one revision of a StatefulSet's or DaemonSet's history. Its pods carry
 * `controller-revision-hash`: the revision's name for a StatefulSet, the revision's own
 * `controller-revision-hash` label for a DaemonSet.
 */
export function toControllerRevision(raw: Raw): ReplicaSetSnapshot {
  const { owner, meta } = revisionMeta(raw);
  const data = (raw.data ?? {}) as JsonObject;
  const template = { ...((raw.data?.spec?.template ?? {}) as JsonObject) };
  delete template.$patch;
  return {
    ...meta,
    template,
    replicas: 0,
    readyReplicas: 0,
    availableReplicas: 0,
    revision: typeof raw.revision === 'number' ? raw.revision : Number(raw.revision ?? 0),
    data,
    podHash:
      owner?.kind === 'DaemonSet'
        ? (raw.metadata.labels?.['controller-revision-hash'] ?? raw.metadata.name)
        : raw.metadata.name,
  };
}

export function toPod(raw: Raw): PodSnapshot {
  const statuses: Raw[] = raw.status?.containerStatuses ?? [];
  return {
    name: raw.metadata.name,
    phase: raw.status?.phase ?? 'Unknown',
    ready: (raw.status?.conditions ?? []).some((c: Raw) => c.type === 'Ready' && c.status === 'True'),
    nodeName: raw.spec?.nodeName,
    images: (raw.spec?.containers ?? []).map((c: Raw) => c.image),
    podTemplateHash:
      raw.metadata.labels?.['pod-template-hash'] ?? raw.metadata.labels?.['controller-revision-hash'],
    deleting: Boolean(raw.metadata.deletionTimestamp),
    containers: (raw.spec?.containers ?? []).map((c: Raw) => {
      const s = statuses.find((x) => x.name === c.name);
      return {
        name: c.name,
        ready: s?.ready === true,
        running: s?.state?.running !== undefined && s?.state?.running !== null,
        restartCount: s?.restartCount ?? 0,
        waitingReason: s?.state?.waiting?.reason,
        terminatedReason: s?.state?.terminated?.reason,
        exitCode: s?.state?.terminated?.exitCode,
        lastTerminatedReason: s?.lastState?.terminated?.reason,
      };
    }),
  };
}

export function toJob(raw: Raw): JobSnapshot {
  const conditions: Raw[] = raw.status?.conditions ?? [];
  const done = conditions.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  return {
    name: raw.metadata.name,
    labels: { ...(raw.metadata.labels ?? {}) },
    active: raw.status?.active ?? 0,
    succeeded: raw.status?.succeeded ?? 0,
    failed: raw.status?.failed ?? 0,
    finished: done ? { type: done.type, reason: done.reason, message: done.message } : undefined,
  };
}

export function toEvent(raw: Raw): EventSnapshot {
  const last =
    raw.lastTimestamp ??
    raw.eventTime ??
    raw.series?.lastObservedTime ??
    raw.metadata?.creationTimestamp ??
    '';
  return {
    type: raw.type ?? '',
    reason: raw.reason ?? '',
    message: raw.message ?? '',
    object: `${raw.involvedObject?.kind ?? ''}/${raw.involvedObject?.name ?? ''}`,
    count: raw.count ?? raw.series?.count ?? 1,
    lastSeen: typeof last === 'string' ? last : new Date(last).toISOString(),
  };
}
