// kubectl's rollout history and undo, as pure functions over snapshots (kubectl
// pkg/polymorphichelpers/rollback.go and pkg/util/deployment, read for shared/research/kubectl-semantics.md).
import { CodedError } from '../errors.js';
import type { DeploymentSnapshot, Json, JsonObject, ReplicaSetSnapshot } from './kube-types.js';

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

/** Revision of a ReplicaSet: a missing annotation is 0, an unparsable one is undefined (skipped). */
export function revisionOf(rs: ReplicaSetSnapshot): number | undefined {
  const v = rs.annotations[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  return /^-?\d+$/.test(v) ? Number(v) : undefined;
}

/** The ReplicaSets the Deployment controls, oldest first (creation time, then name). */
export function ownedReplicaSets(d: DeploymentSnapshot, all: ReplicaSetSnapshot[]): ReplicaSetSnapshot[] {
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

/** The ReplicaSet whose template the Deployment currently has (oldest match), if the controller made it. */
export function findNewReplicaSet(
  d: DeploymentSnapshot,
  owned: ReplicaSetSnapshot[],
): ReplicaSetSnapshot | undefined {
  return owned.find((rs) => equalIgnoreHash(rs.template, d.template));
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

/** kubectl's deploymentRevision: old ReplicaSets first, then the new one; 0 means "second-highest revision". */
export function chooseTarget(d: DeploymentSnapshot, all: ReplicaSetSnapshot[], toRevision = 0): Target {
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
    throw new CodedError('rollback_no_history', `no rollout history found for deployment "${d.name}"`, {
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
  | { kind: 'patch'; target: Target; template: JsonObject; annotations: Record<string, string> };

/** The patch that restores one ReplicaSet's template (kubectl's annotation rules), or undefined if already there. */
export function patchFor(
  d: DeploymentSnapshot,
  rs: ReplicaSetSnapshot,
): { template: JsonObject; annotations: Record<string, string> } | undefined {
  if (equalIgnoreHash(rs.template, d.template)) return undefined;
  const annotations: Record<string, string> = {};
  for (const k of ANNOTATIONS_TO_SKIP) {
    const v = d.annotations[k];
    if (v !== undefined) annotations[k] = v;
  }
  for (const [k, v] of Object.entries(rs.annotations)) {
    if (!ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  }
  return { template: withoutHash(rs.template), annotations };
}

/**
 * kubectl rollout undo: refuse a paused Deployment, skip when the template already matches, otherwise
 * the target template without its hash label and the annotation map that replaces the Deployment's.
 */
export function planUndo(d: DeploymentSnapshot, all: ReplicaSetSnapshot[], toRevision = 0): UndoPlan {
  const target = chooseTarget(d, all, toRevision);
  if (d.paused) {
    throw new CodedError(
      'rollback_paused',
      "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again",
      { remedy: `Resume ${d.namespace}/${d.name} (kubectl rollout resume) and ask again.` },
    );
  }
  if (equalIgnoreHash(target.replicaSet.template, d.template)) {
    return {
      kind: 'skip',
      target,
      message: `skipped rollback (current template already matches revision ${toRevision})`,
    };
  }
  const annotations: Record<string, string> = {};
  for (const k of ANNOTATIONS_TO_SKIP) {
    const v = d.annotations[k];
    if (v !== undefined) annotations[k] = v;
  }
  for (const [k, v] of Object.entries(target.replicaSet.annotations)) {
    if (!ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  }
  return { kind: 'patch', target, template: withoutHash(target.replicaSet.template), annotations };
}
