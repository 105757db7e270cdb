// Puts a release-manager Deployment with a history of releases into a namespace, the way a team's
// CD would: one apply per release, each recording its change-cause and its expected migration head.
import { deploymentYaml, eventually, kubectlOk } from './kubectl.js';
import type { WorldInfo } from './world/world.js';

export const HEAD_ANNOTATION = 'release-manager.example.com/alembic-head';
export const NAME = 'release-manager-prod';

export interface Release {
  image: string;
  cause: string;
  head: string;
}

export async function shipReleases(
  world: WorldInfo,
  namespace: string,
  releases: Release[],
  opts: { replicas?: number; minReadySeconds?: number } = {},
): Promise<void> {
  for (const [i, rel] of releases.entries()) {
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      deploymentYaml({
        namespace,
        name: NAME,
        app: 'release-manager',
        image: rel.image,
        replicas: opts.replicas ?? 3,
        ...(opts.minReadySeconds ? { minReadySeconds: opts.minReadySeconds } : {}),
        changeCause: rel.cause,
        templateAnnotations: { [HEAD_ANNOTATION]: rel.head },
      }),
    );
    await eventually(`revision ${i + 1} of ${namespace}/${NAME}`, async () => {
      const d = JSON.parse(
        await kubectlOk(world, ['get', 'deployment', NAME, '-n', namespace, '-o', 'json']),
      );
      return (
        d.status?.observedGeneration >= d.metadata.generation &&
        d.metadata.annotations['deployment.kubernetes.io/revision'] === String(i + 1)
      );
    });
  }
}

export async function generationOf(world: WorldInfo, namespace: string): Promise<number> {
  return Number(
    await kubectlOk(world, [
      'get',
      'deployment',
      NAME,
      '-n',
      namespace,
      '-o',
      'jsonpath={.metadata.generation}',
    ]),
  );
}

export async function imageOf(world: WorldInfo, namespace: string): Promise<string> {
  return kubectlOk(world, [
    'get',
    'deployment',
    NAME,
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.template.spec.containers[0].image}',
  ]);
}

/** Waits until Prometheus sees this Deployment's error ratio above `min`. */
export async function errorRatioAbove(world: WorldInfo, namespace: string, min: number): Promise<number> {
  const q = `sum(rate(errors_total{namespace="${namespace}",deployment="${NAME}"}[15s])) / sum(rate(requests_total{namespace="${namespace}",deployment="${NAME}"}[15s]))`;
  return eventually(
    `error ratio of ${namespace} above ${min}`,
    async () => {
      const res = await fetch(`${world.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
      const v = Number(
        ((await res.json()) as { data: { result: { value: [number, string] }[] } }).data.result[0]?.value[1],
      );
      return v > min ? v : undefined;
    },
    90_000,
  );
}

export async function setDatabaseHead(world: WorldInfo, head: string): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  execFileSync(
    'psql',
    [
      world.postgresUrl,
      '-qc',
      `create table if not exists alembic_version (version_num varchar(32) not null primary key); delete from alembic_version; insert into alembic_version values ('${head}')`,
    ],
    { env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' } },
  );
}

export async function databaseHead(world: WorldInfo): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('psql', [world.postgresUrl, '-tAc', 'select version_num from alembic_version'], {
    encoding: 'utf8',
  }).trim();
}
