// Changes a workload's replicas the way a HorizontalPodAutoscaler does, for tests of "a replica change
// never refuses" (DESIGN.md, safety rules): the HPA controller in kube-controller-manager reads the
// target's `scale` subresource and writes it back with a new spec.replicas (PUT .../scale, the
// resourceVersion it read guarding the write), under its own field manager. Only spec.replicas
// changes; metadata.generation moves, the pod template does not.
import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import type { WorldInfo } from './world/world.js';

export type ScalableKind = 'deployment' | 'statefulset';

/** Sets spec.replicas through the scale subresource; returns the Scale's resourceVersion after the write. */
export async function scaleLikeAutoscaler(
  world: WorldInfo,
  namespace: string,
  name: string,
  replicas: number,
  kind: ScalableKind = 'deployment',
): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(world.kubeconfig);
  const apps = kc.makeApiClient(AppsV1Api);
  const fieldManager = 'horizontal-pod-autoscaler';
  if (kind === 'deployment') {
    const scale = await apps.readNamespacedDeploymentScale({ name, namespace });
    scale.spec = { ...scale.spec, replicas };
    const out = await apps.replaceNamespacedDeploymentScale({ name, namespace, body: scale, fieldManager });
    return out.metadata?.resourceVersion ?? '';
  }
  const scale = await apps.readNamespacedStatefulSetScale({ name, namespace });
  scale.spec = { ...scale.spec, replicas };
  const out = await apps.replaceNamespacedStatefulSetScale({ name, namespace, body: scale, fieldManager });
  return out.metadata?.resourceVersion ?? '';
}
