// Before each irreversible step (the downgrade, the undo) the workload is read again and compared
// with what the assessment saw. What matters is what the step's plan depends on: the same object
// (uid), not paused, and the same pod template. Replicas never matter: an autoscaler or
// `kubectl scale` changes them (and bumps metadata.generation) without changing what runs.
import { CodedError } from '../errors.js';
import type { Json, JsonObject } from './kube-types.js';
import { semanticEqual } from './revisions.js';

export interface WorkloadShape {
  uid: string;
  paused: boolean;
  template: JsonObject;
}

const MAX_PATHS = 5;

function short(v: Json | undefined): string {
  const s = v === undefined ? 'nothing' : typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Paths where two JSON values differ (semantic equality: empty and missing are the same). */
function diffPaths(a: Json | undefined, b: Json | undefined, path: string, out: string[]): void {
  if (out.length >= MAX_PATHS || semanticEqual(a, b)) return;
  const isObj = (v: Json | undefined): v is JsonObject =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      diffPaths(a[k], b[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (const [i, x] of a.entries()) diffPaths(x, b[i], `${path}[${i}]`, out);
    return;
  }
  out.push(`${path}: ${short(a)} → ${short(b)}`);
}

/** What changed that refuses the step; empty when the plan still holds. */
export function describeWorkloadChange(before: WorkloadShape, now: WorkloadShape): string[] {
  if (before.uid !== now.uid)
    return [`the workload was deleted and re-created (uid ${before.uid} → ${now.uid})`];
  const out: string[] = [];
  if (before.paused !== now.paused) out.push(now.paused ? 'it was paused' : 'it was resumed');
  const paths: string[] = [];
  diffPaths(before.template, now.template, 'template', paths);
  if (paths.length) out.push(`pod template changed: ${paths.join('; ')}`);
  return out;
}

/** Throws rollback_concurrent_change naming what changed, so the thread can show it. */
export function assertWorkloadUnchanged(
  before: WorkloadShape,
  now: WorkloadShape,
  what: string,
  step: string,
): void {
  const changes = describeWorkloadChange(before, now);
  if (changes.length === 0) return;
  throw new CodedError(
    'rollback_concurrent_change',
    `${what} changed since it was assessed, so the ${step} was not done: ${changes.join('; ')}`,
    { remedy: 'Look at what changed, then request the rollback again.', details: { changes } },
  );
}
