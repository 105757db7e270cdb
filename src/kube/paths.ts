// API paths of the workload kinds, shared by reads, patches and the rollout watch.
import type { WorkloadKind } from '../rollback/kube-types.js';

const PLURAL: Record<WorkloadKind, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};

export const workloadsPath = (kind: WorkloadKind, ns: string) =>
  `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/${PLURAL[kind]}`;
