// Jobs in the test world: KWOK starts the pod, the stand-in's Job runner really runs its command, and
// kube-controller-manager's Job controller decides Complete or Failed from the pod's exit.
import { eventually, kubectlOk } from './kubectl.js';
import type { WorldInfo } from './world/world.js';

export function jobYaml(o: {
  namespace: string;
  name: string;
  image: string;
  command: string[];
  /** Pod template annotations (e.g. HEAD_ANNOTATION, which an image outside the catalog is known by). */
  annotations?: Record<string, string>;
  backoffLimit?: number;
}): string {
  return JSON.stringify({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      backoffLimit: o.backoffLimit ?? 0,
      template: {
        metadata: { annotations: o.annotations ?? {} },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'app', image: o.image, command: o.command }],
        },
      },
    },
  });
}

/** Waits for the Job's final condition: `Complete` or `Failed`. */
export async function jobOutcome(
  world: WorldInfo,
  namespace: string,
  name: string,
  timeoutMs = 90_000,
): Promise<'Complete' | 'Failed'> {
  return eventually(
    `job ${namespace}/${name} to finish`,
    async () => {
      const job = JSON.parse(await kubectlOk(world, ['get', 'job', name, '-n', namespace, '-o', 'json'])) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      const done = job.status?.conditions?.find(
        (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
      );
      return done?.type as 'Complete' | 'Failed' | undefined;
    },
    timeoutMs,
  );
}
