// kubectl's rollout history and undo, as pure functions over snapshots (kubectl
// pkg/polymorphichelpers/rollback.go and pkg/util/deployment, read for shared/research/kubectl-semantics.md
// and workloads-gitops.md). A Deployment's history is its ReplicaSets; a StatefulSet's or DaemonSet's
// is its ControllerRevisions. The rules differ where kubectl's rollbackers differ, and say so.
import { CodedError } from '../errors.js';
import type {
  DeploymentSnapshot,
  Json,
  JsonObject,
  ReplicaSetSnapshot,
  UndoPatch,
  WorkloadSnapshot,
} from './kube-types.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH = 'pod-template-hash';

/** Annotations an undo keeps from the Deployment instead of taking from the ReplicaSet. */
export const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

/**
 * Revision of a ControllerRevision (its `.revision`) or of a ReplicaSet (its annotation: missing is
 * 0, unparsable is undefined and skipped).
 */
export function revisionOf(rs: ReplicaSetSnapshot): number | undefined {
  if (rs.revision !== undefined) return rs.revision;
  const v = rs.annotations[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  return /^-?\d+$/.test(v) ? Number(v) : undefined;
}

/** The revisions (ReplicaSets, ControllerRevisions) the workload controls, oldest first (creation time, then name). */
export function ownedReplicaSets(d: WorkloadSnapshot, all: ReplicaSetSnapshot[]): ReplicaSetSnapshot[] {
  return all
    .filter((rs) => rs.controllerUid === d.uid)
    .sort((a, b) =>
      a.creationTimestamp === b.creationTimestamp
        ? a.name.localeCompare(b.name)
        : Date.parse(a.creationTimestamp) - Date.parse(b.creationTimestamp),
    );
}

function isEmpty(v: Json | undefined): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/** apimachinery semantic equality as it matters for pod templates: nil, empty and missing are equal. */
export function semanticEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => semanticEqual(x, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!semanticEqual(a[k], (b as JsonObject)[k])) return false;
    return true;
  }
  return a === b;
}

/** A copy of the template without the pod-template-hash label (the only difference kubectl ignores). */
export function withoutHash(template: JsonObject): JsonObject {
  const copy = structuredClone(template);
  const meta = copy.metadata;
  if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
    const labels = meta.labels;
    if (labels && typeof labels === 'object' && !Array.isArray(labels)) delete labels[POD_TEMPLATE_HASH];
  }
  return copy;
}

export function equalIgnoreHash(a: JsonObject, b: JsonObject): boolean {
  return semanticEqual(withoutHash(a), withoutHash(b));
}

/**
 * The revision whose template the workload currently has, if its controller made it: a Deployment's
 * oldest matching ReplicaSet; a StatefulSet's or DaemonSet's highest matching ControllerRevision (the
 * controllers re-number a re-used revision to the top, so an equal older one is stale).
 */
export function findNewReplicaSet(
  d: WorkloadSnapshot,
  owned: ReplicaSetSnapshot[],
): ReplicaSetSnapshot | undefined {
  if (d.kind === 'Deployment') return owned.find((rs) => equalIgnoreHash(rs.template, d.template));
  let best: ReplicaSetSnapshot | undefined;
  for (const rs of owned)
    if (semanticEqual(rs.template, d.template) && (revisionOf(rs) ?? 0) >= (revisionOf(best!) ?? -1))
      best = rs;
  return best;
}

/** The label value a revision's pods carry (pod-template-hash or controller-revision-hash). */
export function podHashOf(rs: ReplicaSetSnapshot | undefined): string | undefined {
  if (!rs) return undefined;
  if (rs.podHash !== undefined) return rs.podHash;
  const labels = (rs.template.metadata as { labels?: Record<string, string> } | undefined)?.labels;
  return labels?.[POD_TEMPLATE_HASH];
}

export interface RevisionEntry {
  revision: number;
  replicaSet: string;
  images: string[];
  changeCause: string | undefined;
  createdAt: string;
  current: boolean;
  replicas: number;
  readyReplicas: number;
  annotations: Record<string, string>;
  templateAnnotations: Record<string, string>;
}

export function imagesOf(template: JsonObject): string[] {
  const spec = template.spec as JsonObject | undefined;
  const containers = (spec?.containers as JsonObject[] | undefined) ?? [];
  return containers.map((c) => String(c.image ?? ''));
}

export function templateAnnotations(template: JsonObject): Record<string, string> {
  const meta = template.metadata as JsonObject | undefined;
  return { ...((meta?.annotations as Record<string, string> | undefined) ?? {}) };
}

/** `kubectl rollout history`: one entry per revision, ascending; a duplicate number keeps the last seen. */
export function buildHistory(d: DeploymentSnapshot, all: ReplicaSetSnapshot[]): RevisionEntry[] {
  const owned = ownedReplicaSets(d, all);
  const current = findNewReplicaSet(d, owned);
  const byRevision = new Map<number, RevisionEntry>();
  for (const rs of owned) {
    const revision = revisionOf(rs);
    if (revision === undefined) continue;
    byRevision.set(revision, {
      revision,
      replicaSet: rs.name,
      images: imagesOf(rs.template),
      changeCause: rs.annotations[CHANGE_CAUSE_ANNOTATION],
      createdAt: rs.creationTimestamp,
      current: rs === current,
      replicas: rs.replicas,
      readyReplicas: rs.readyReplicas,
      annotations: rs.annotations,
      templateAnnotations: templateAnnotations(rs.template),
    });
  }
  return [...byRevision.values()].sort((a, b) => a.revision - b.revision);
}

export interface Target {
  revision: number;
  replicaSet: ReplicaSetSnapshot;
  /** Why this revision: for the assessment and the audit trail. */
  reason: string;
}

/**
 * kubectl's target: 0 means "second-highest revision". Deployment (deploymentRevision): old ReplicaSets
 * first, then the new one. StatefulSet/DaemonSet (findHistory + the rollbackers): all controlled
 * ControllerRevisions by `.revision`.
 */
export function chooseTarget(d: WorkloadSnapshot, all: ReplicaSetSnapshot[], toRevision = 0): Target {
  const owned = ownedReplicaSets(d, all);
  const current = findNewReplicaSet(d, owned);
  const ordered = [...owned.filter((rs) => rs !== current), ...(current ? [current] : [])];
  if (toRevision < 0) {
    throw new CodedError(
      'rollback_revision_not_found',
      `unable to find specified revision ${toRevision} in history`,
      {
        remedy: 'Revisions are positive numbers; see `/rollback history`.',
      },
    );
  }
  if (toRevision > 0) {
    for (const rs of ordered) {
      if (revisionOf(rs) === toRevision) {
        return { revision: toRevision, replicaSet: rs, reason: `revision ${toRevision} was requested` };
      }
    }
    throw new CodedError(
      'rollback_revision_not_found',
      `unable to find specified revision ${toRevision} in history`,
      {
        remedy: 'Rolled-back revisions are renumbered; pick one from `/rollback history`.',
        details: { toRevision },
      },
    );
  }
  let max = 0;
  let second = 0;
  let maxRs: ReplicaSetSnapshot | undefined;
  let secondRs: ReplicaSetSnapshot | undefined;
  for (const rs of ordered) {
    const v = revisionOf(rs);
    if (v === undefined) continue;
    if (v > max) {
      second = max;
      secondRs = maxRs;
      max = v;
      maxRs = rs;
    } else if (v > second) {
      second = v;
      secondRs = rs;
    }
  }
  if (!secondRs) {
    const message =
      d.kind === 'Deployment'
        ? `no rollout history found for deployment "${d.name}"`
        : 'no last revision to roll back to';
    throw new CodedError('rollback_no_history', message, {
      remedy: 'There is no earlier revision to roll back to.',
    });
  }
  return {
    revision: second,
    replicaSet: secondRs,
    reason: `revision ${second} is the highest revision below the latest (${max}), as \`kubectl rollout undo\` chooses`,
  };
}

export type UndoPlan =
  | { kind: 'skip'; target: Target; message: string }
  | { kind: 'patch'; target: Target; patch: UndoPatch };

/** The template an undo to `rs` leaves on the workload (what the re-checks compare with). */
export function templateAfterUndo(rs: ReplicaSetSnapshot): JsonObject {
  return withoutHash(rs.template);
}

/** The workload already runs this revision's template (kubectl's skip). */
export function atRevision(d: WorkloadSnapshot, rs: ReplicaSetSnapshot): boolean {
  return d.kind === 'Deployment'
    ? equalIgnoreHash(rs.template, d.template)
    : semanticEqual(rs.template, d.template);
}

/** The patch that restores one revision as kubectl sends it, or undefined if the workload is already there. */
export function patchFor(d: WorkloadSnapshot, rs: ReplicaSetSnapshot): UndoPatch | undefined {
  if (atRevision(d, rs)) return undefined;
  if (d.kind !== 'Deployment') {
    if (!rs.data) throw new CodedError('internal', `ControllerRevision ${rs.name} has no data to restore`);
    return { type: 'strategic-merge', data: rs.data };
  }
  const annotations: Record<string, string> = {};
  for (const k of ANNOTATIONS_TO_SKIP) {
    const v = d.annotations[k];
    if (v !== undefined) annotations[k] = v;
  }
  for (const [k, v] of Object.entries(rs.annotations)) {
    if (!ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  }
  return { type: 'replace-template', template: withoutHash(rs.template), annotations };
}

export const PAUSED_MESSAGE =
  "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again";

/**
 * kubectl rollout undo: refuse a paused Deployment (StatefulSets and DaemonSets cannot be paused),
 * skip when the template already matches, otherwise the patch kubectl would send.
 */
export function planUndo(d: WorkloadSnapshot, all: ReplicaSetSnapshot[], toRevision = 0): UndoPlan {
  const target = chooseTarget(d, all, toRevision);
  if (d.kind === 'Deployment' && d.paused) {
    throw new CodedError('rollback_paused', PAUSED_MESSAGE, {
      remedy: `Resume ${d.namespace}/${d.name} (kubectl rollout resume) and ask again.`,
    });
  }
  const patch = patchFor(d, target.replicaSet);
  if (!patch) {
    return {
      kind: 'skip',
      target,
      message: `skipped rollback (current template already matches revision ${toRevision})`,
    };
  }
  return { kind: 'patch', target, patch };
}
