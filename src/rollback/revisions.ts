// kubectl's rollout history and undo, as pure functions over snapshots (kubectl
// pkg/polymorphichelpers/rollback.go and pkg/util/deployment, read for shared/research/kubectl-semantics.md
// and workloads-gitops.md). A Deployment's history is its ReplicaSets; a StatefulSet's or DaemonSet's
// is its ControllerRevisions. The rules differ where kubectl's rollbackers differ, and say so.
//
// StatefulSet and DaemonSet, as kubectl v1.36 and the controllers do it (checked against their code and,
// in test/integration/kube-undo-workloads.test.ts, against kubectl itself):
// - history: every ControllerRevision the selector matches whose controller owner reference is the
//   workload; kubectl keeps the apiserver's list order (by name) and sorts it stably by `.revision`.
// - the default target is the second element from the end of that sorted list (duplicate numbers
//   included), and a history of at most one revision is "no last revision to roll back to".
// - the skip check: kubectl encodes the current object as the controller's patch
//   (`{"spec":{"template":{…,"$patch":"replace"}}}`, keys sorted) and compares the bytes with the
//   revision's `.data`. The apiserver's JSON of the workload is the same Go encoding, so comparing the
//   two as JSON values (key order ignored, but null, {} and [] not equal to a missing key) gives the
//   same answer; only `.data` written by hand in non-canonical form (another key order) could differ,
//   where kubectl would patch and we skip (the patch would change nothing).
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

/** Go's string order (bytes); names are ASCII, so UTF-16 code units compare the same way. */
const byName = (a: ReplicaSetSnapshot, b: ReplicaSetSnapshot) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * The revisions the workload controls (controller owner reference = its uid). ReplicaSets: oldest
 * first (creation time, then name). ControllerRevisions: by `.revision`, ties in name order, which is
 * kubectl's order (the apiserver lists by name, kubectl sorts stably by revision).
 */
export function ownedReplicaSets(d: WorkloadSnapshot, all: ReplicaSetSnapshot[]): ReplicaSetSnapshot[] {
  const owned = all.filter((rs) => rs.controllerUid === d.uid);
  if (d.kind !== 'Deployment') {
    return owned.sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0) || byName(a, b));
  }
  return owned.sort((a, b) =>
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
 * Equality of two decoded JSON documents as Go's canonical encoding sees it: key order is ignored
 * (Go sorts map keys), but null, {} and [] differ from a missing key, and arrays keep their order.
 */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], (b as JsonObject)[k]));
}

/** What the StatefulSet and DaemonSet controllers store as `.data` for a template (and kubectl compares). */
export function revisionDataOf(template: JsonObject): JsonObject {
  return { spec: { template: { ...template, $patch: 'replace' } } };
}

/** kubectl's statefulsetMatch / daemonSetMatch: the workload's template is this revision's data. */
export function matchesRevisionData(d: WorkloadSnapshot, rs: ReplicaSetSnapshot): boolean {
  return rs.data !== undefined && jsonEqual(revisionDataOf(d.template), rs.data);
}

/**
 * The revision whose template the workload currently has, if its controller made it.
 * - Deployment: the oldest ReplicaSet with an equal template (hash label ignored), as deploymentutil.
 * - StatefulSet: once the controller has observed the spec, the revision it names in
 *   status.updateRevision (its own answer, which also covers its semantic reuse of the latest revision);
 *   before that, as for a DaemonSet:
 * - DaemonSet: the highest-numbered revision whose data is the template's, as the controllers match
 *   (a re-used revision is renumbered to the top, so an equal lower one is stale).
 */
export function findNewReplicaSet(
  d: WorkloadSnapshot,
  owned: ReplicaSetSnapshot[],
): ReplicaSetSnapshot | undefined {
  if (d.kind === 'Deployment') return owned.find((rs) => equalIgnoreHash(rs.template, d.template));
  const observed = d.status.observedGeneration > 0 && d.status.observedGeneration >= d.generation;
  if (d.kind === 'StatefulSet' && observed && d.status.updateRevision) {
    const named = owned.find((rs) => rs.name === d.status.updateRevision);
    if (named) return named;
  }
  let best: ReplicaSetSnapshot | undefined;
  for (const rs of ownedReplicaSets(d, owned)) if (matchesRevisionData(d, rs)) best = rs;
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

function revisionNotFound(toRevision: number, remedy: string): CodedError {
  return new CodedError(
    'rollback_revision_not_found',
    `unable to find specified revision ${toRevision} in history`,
    { remedy, details: { toRevision } },
  );
}

/**
 * kubectl's target; 0 means "the previous revision".
 * - Deployment (deploymentRevision): old ReplicaSets first, then the new one; the highest revision
 *   number strictly below the highest.
 * - StatefulSet, DaemonSet (the rollbackers' findHistory): the controlled ControllerRevisions sorted by
 *   `.revision`, the second from the end; at most one is "no last revision to roll back to".
 * A requested revision must exist by number (the first in that order); negative never does.
 */
export function chooseTarget(d: WorkloadSnapshot, all: ReplicaSetSnapshot[], toRevision = 0): Target {
  if (toRevision < 0)
    throw revisionNotFound(toRevision, 'Revisions are positive numbers; see `/rollback history`.');
  if (d.kind !== 'Deployment') return chooseControllerRevision(d, all, toRevision);
  const owned = ownedReplicaSets(d, all);
  const current = findNewReplicaSet(d, owned);
  const ordered = [...owned.filter((rs) => rs !== current), ...(current ? [current] : [])];
  if (toRevision > 0) {
    for (const rs of ordered) {
      if (revisionOf(rs) === toRevision) {
        return { revision: toRevision, replicaSet: rs, reason: `revision ${toRevision} was requested` };
      }
    }
    throw revisionNotFound(
      toRevision,
      'Rolled-back revisions are renumbered; pick one from `/rollback history`.',
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

function chooseControllerRevision(
  d: WorkloadSnapshot,
  all: ReplicaSetSnapshot[],
  toRevision: number,
): Target {
  const history = ownedReplicaSets(d, all);
  if (toRevision > 0) {
    const rs = history.find((h) => h.revision === toRevision);
    if (!rs)
      throw revisionNotFound(
        toRevision,
        'Rolled-back revisions are renumbered; pick one from `/rollback history`.',
      );
    return { revision: toRevision, replicaSet: rs, reason: `revision ${toRevision} was requested` };
  }
  const previous = history.at(-2);
  const latest = history.at(-1);
  if (!previous || !latest) {
    throw new CodedError('rollback_no_history', 'no last revision to roll back to', {
      remedy: 'There is no earlier revision to roll back to.',
    });
  }
  const revision = previous.revision ?? 0;
  return {
    revision,
    replicaSet: previous,
    reason: `revision ${revision} is the one before the latest (${latest.revision ?? 0}) by number, as \`kubectl rollout undo\` chooses`,
  };
}

export type UndoPlan =
  | { kind: 'skip'; target: Target; message: string }
  | { kind: 'patch'; target: Target; patch: UndoPatch };

/** The template an undo to `rs` leaves on the workload (what the re-checks compare with). */
export function templateAfterUndo(rs: ReplicaSetSnapshot): JsonObject {
  // A ControllerRevision's data replaces the template as it is; only a ReplicaSet's hash label goes.
  return rs.data !== undefined ? structuredClone(rs.template) : withoutHash(rs.template);
}

/**
 * The workload already runs this revision's template (kubectl's skip): a Deployment's template equals
 * the ReplicaSet's ignoring the hash label (semantic equality); a StatefulSet's or DaemonSet's encodes
 * to the ControllerRevision's data.
 */
export function atRevision(d: WorkloadSnapshot, rs: ReplicaSetSnapshot): boolean {
  return d.kind === 'Deployment' ? equalIgnoreHash(rs.template, d.template) : matchesRevisionData(d, rs);
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
    // kubectl prints the number it was asked for, so a default undo says "revision 0".
    return {
      kind: 'skip',
      target,
      message: `skipped rollback (current template already matches revision ${toRevision})`,
    };
  }
  return { kind: 'patch', target, patch };
}
