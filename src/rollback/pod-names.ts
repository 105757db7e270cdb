// Which pod names belong to a workload, as a PromQL regex. cAdvisor's series carry only namespace,
// pod and container, and the pods to compare with (those running before the bad release) are gone, so
// their names cannot be listed: they are matched by the names their controller gives them.
import type { WorkloadKind } from './kube-types.js';

/**
 * A fully anchored (as PromQL's `=~` is) regex of the names of `name`'s pods: a Deployment's
 * `<name>-<pod-template-hash>-<5>`, a StatefulSet's `<name>-<ordinal>`, a DaemonSet's `<name>-<5>`.
 * Another workload whose name only starts with `name-` does not match: its pods have one more
 * dash-separated part. Names are Kubernetes names (letters, digits, "-"): nothing to escape.
 */
export function podNamePattern(kind: WorkloadKind, name: string): string {
  switch (kind) {
    case 'Deployment':
      return `${name}-[a-z0-9]{1,10}-[a-z0-9]{5}`;
    case 'StatefulSet':
      return `${name}-[0-9]+`;
    case 'DaemonSet':
      return `${name}-[a-z0-9]{5}`;
  }
}
