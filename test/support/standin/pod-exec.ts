// What a command in a container sees, in `kubectl exec` (KWOK runs it on the host) and in a Job pod
// (the Job runner runs it): which pod, container and image it runs in, and the migrations that image
// ships (the world's `alembic` reads ALEMBIC_REVISIONS). KWOK's exec config has no notion of the pod it
// serves, so every pod gets its own KWOK `Exec` object (CRD mode) carrying these as env, one entry per
// container, created when the pod appears; the env is read from the pod itself (its spec's image and
// its template's HEAD_ANNOTATION), never from the Deployment. A PostgreSQL image's pod (the database's
// `app=db` pod of the procedure) also gets PGHOST/PGPORT, so `psql -U postgres -d release_manager` in it
// talks to the world's PostgreSQL.
import type { CustomObjectsApi, V1Pod } from '@kubernetes/client-node';
import { formatShippedMigrations, HEAD_ANNOTATION, migrationsShippedBy } from '../releases.js';

export interface ExecSettings {
  /** Working directory of every command (the world's root). */
  workDir: string;
  /** The world's PostgreSQL, the release-manager database. */
  databaseUrl: string;
}

/**
 * A PostgreSQL image (`…/postgres:<tag>`): the database's own pod. `psql` in it reaches the world's
 * PostgreSQL without a URL, as psql in a postgres container reaches its local server (PGHOST, PGPORT).
 */
export function isDatabaseImage(image: string): boolean {
  const repo = image.replace(/[:@].*$/, '');
  return repo.slice(repo.lastIndexOf('/') + 1) === 'postgres';
}

function databaseEnv(url: string): Record<string, string> {
  try {
    const u = new URL(url);
    return { PGHOST: u.hostname, PGPORT: u.port || '5432' };
  } catch {
    return {};
  }
}

/** The env a command in `container` of `pod` runs with (on top of the host's, exec-bin first on PATH). */
export function containerEnv(pod: V1Pod, container: string, s: ExecSettings): Record<string, string> {
  const image = pod.spec?.containers.find((c) => c.name === container)?.image ?? '';
  const shipped = migrationsShippedBy(image, pod.metadata?.annotations?.[HEAD_ANNOTATION]);
  return {
    ...(isDatabaseImage(image) ? databaseEnv(s.databaseUrl) : {}),
    DATABASE_URL: s.databaseUrl,
    POD_NAMESPACE: pod.metadata?.namespace ?? '',
    POD_NAME: pod.metadata?.name ?? '',
    CONTAINER_NAME: container,
    CONTAINER_IMAGE: image,
    ALEMBIC_REVISIONS: formatShippedMigrations(shipped),
  };
}

/**
 * Creates the pod's `Exec` object; resolves once the apiserver has it (or the pod is gone).
 * The object is owned by the pod, so the garbage collector removes it with the pod.
 */
export async function createPodExec(custom: CustomObjectsApi, pod: V1Pod, s: ExecSettings): Promise<void> {
  const namespace = pod.metadata?.namespace;
  const name = pod.metadata?.name;
  if (!namespace || !name) return;
  const body = {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Exec',
    metadata: {
      name,
      namespace,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid: pod.metadata?.uid ?? '' }],
    },
    spec: {
      execs: (pod.spec?.containers ?? []).map((c) => ({
        containers: [c.name],
        local: {
          workDir: s.workDir,
          envs: Object.entries(containerEnv(pod, c.name, s)).map(([k, value]) => ({ name: k, value })),
        },
      })),
    },
  };
  try {
    await custom.createNamespacedCustomObject({
      group: 'kwok.x-k8s.io',
      version: 'v1alpha1',
      namespace,
      plural: 'execs',
      body,
    });
  } catch (err) {
    const code = (err as { code?: number }).code;
    // 409: made before a restart of the stand-in; 404: the namespace is being deleted.
    if (code !== 409 && code !== 404)
      console.error(`exec for ${namespace}/${name}: ${(err as Error).message}`);
  }
}
