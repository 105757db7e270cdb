// Puts a release-manager Deployment with a history of releases into a namespace, the way a team's
// CD would: one apply per release, each recording its change-cause and its expected migration head.
// Also the world's release catalog: which images exist, how each behaves, and which alembic migrations
// each image ships. The world's `alembic` (in `kubectl exec` and in Job pods) knows exactly the
// revisions of the image its pod runs, so an old image cannot downgrade from a head it never shipped.
import { serviceSchema } from '../../src/config/catalog-schema.js';
import { fillQuery } from '../../src/rollback/bounded.js';
import type { WorkloadKind } from '../../src/rollback/kube-types.js';
import { podNamePattern } from '../../src/rollback/pod-names.js';
import { deploymentYaml, eventually, kubectlOk } from './kubectl.js';
import { isBadImage } from './standin/bad-image.js';
import type { WorldInfo } from './world/world.js';

export const HEAD_ANNOTATION = 'release-manager.example.com/alembic-head';
export const NAME = 'release-manager-prod';

/** One alembic revision: `down` is the revision it revises (undefined for the base). */
export interface Migration {
  rev: string;
  down?: string;
  message: string;
}

/** release-manager's migration chain, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  { rev: 'aaa111', message: 'create releases' },
  { rev: 'bbb222', down: 'aaa111', message: 'add deployment_window to releases' },
];

/** Pods of a `-slow` image report Ready (and the stand-in's /ready 200) this long after they start. */
export const SLOW_READY_SECONDS = 10;

/**
 * The release catalog's images. Behaviour follows the tag (KWOK stages and the stand-in read it):
 * `-bad` crash-loops, `-degraded` runs but fails requests, `-slow` is Ready only after
 * SLOW_READY_SECONDS, `-restarted` runs healthy with one old restart (restartCount 1) per container.
 */
export const IMAGES = {
  /** The last good release: ships migrations up to aaa111. */
  good: 'registry.test/release-manager:v2024.01.14',
  /** The next release, healthy: ships bbb222. */
  next: 'registry.test/release-manager:v2024.01.15',
  /** The next release, crash-looping: ships bbb222. */
  bad: 'registry.test/release-manager:v2024.01.15-bad',
  /** The next release, running but failing requests (pods Ready): ships bbb222. */
  degraded: 'registry.test/release-manager:v2024.01.15-degraded',
  /** A healthy release whose pods become Ready only after SLOW_READY_SECONDS: ships bbb222. */
  slowReady: 'registry.test/release-manager:v2024.01.16-slow',
  /** A healthy release whose pods show restartCount 1 (an old restart), stable: ships bbb222. */
  restarted: 'registry.test/release-manager:v2024.01.16-restarted',
  /** A healthy release using 6× the CPU and 4× the memory of the others: ships aaa111. */
  hungry: 'registry.test/release-manager:v2024.01.13-hungry',
  /** A release failing 2.5% of requests, otherwise healthy: ships aaa111. */
  flaky: 'registry.test/release-manager:v2024.01.13-flaky',
} as const;

/** The newest migration each catalog image ships. */
export const IMAGE_HEADS: Readonly<Record<string, string>> = {
  [IMAGES.good]: 'aaa111',
  [IMAGES.next]: 'bbb222',
  [IMAGES.bad]: 'bbb222',
  [IMAGES.degraded]: 'bbb222',
  [IMAGES.slowReady]: 'bbb222',
  [IMAGES.restarted]: 'bbb222',
  [IMAGES.hungry]: 'aaa111',
  [IMAGES.flaky]: 'aaa111',
};

/** A catalog image as one release for shipReleases(): its change-cause and its head. */
export function releaseOf(image: string): Release {
  const head = IMAGE_HEADS[image];
  if (!head) throw new Error(`${image} is not in the release catalog (IMAGES)`);
  const tag = image.slice(image.lastIndexOf(':') + 1).replace(/-[a-z]+$/, '');
  return { image, cause: `Release ${tag}`, head };
}

/**
 * The migrations an image ships, newest first (what its `alembic history` prints). A catalog image
 * ships MIGRATIONS up to its IMAGE_HEADS entry. An image outside the catalog ships what its release
 * recorded in the pod template's HEAD_ANNOTATION (CD writes it from the image): the chain up to that
 * head, or that head alone when it is not in MIGRATIONS; nothing without the annotation.
 */
export function migrationsShippedBy(image: string, annotatedHead?: string): Migration[] {
  const head = IMAGE_HEADS[image] ?? annotatedHead;
  if (!head) return [];
  const upTo = MIGRATIONS.findIndex((m) => m.rev === head);
  if (upTo < 0) return [{ rev: head, message: 'release head' }];
  return MIGRATIONS.slice(0, upTo + 1).reverse();
}

/** migrationsShippedBy() as the world's `alembic` reads it from ALEMBIC_REVISIONS: `rev down message` lines. */
export function formatShippedMigrations(migrations: Migration[]): string {
  return migrations.map((m) => `${m.rev} ${m.down ?? '-'} ${m.message}`).join('\n');
}

export interface Release {
  image: string;
  cause: string;
  head: string;
}

export interface ShipOptions {
  replicas?: number;
  minReadySeconds?: number;
  /**
   * Let each release but the last run until Prometheus holds its pods' CPU and memory, as a release
   * CD shipped a while ago would (default): the next release's rollback then has a pre-release
   * baseline, without which its resource checks are unknown. false: ship back to back.
   */
  baseline?: boolean;
}

export async function shipReleases(
  world: WorldInfo,
  namespace: string,
  releases: Release[],
  opts: ShipOptions = {},
): Promise<void> {
  for (const [i, rel] of releases.entries()) {
    await shipRelease(world, namespace, rel, i + 1, opts);
    if (i < releases.length - 1 && opts.baseline !== false) await resourceBaseline(world, namespace, rel);
  }
}

/** Applies one release and waits until the controller has recorded it as `revision`. */
export async function shipRelease(
  world: WorldInfo,
  namespace: string,
  rel: Release,
  revision: number,
  opts: ShipOptions = {},
): Promise<void> {
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
  await eventually(`revision ${revision} of ${namespace}/${NAME}`, async () => {
    const d = JSON.parse(await kubectlOk(world, ['get', 'deployment', NAME, '-n', namespace, '-o', 'json']));
    return (
      d.status?.observedGeneration >= d.metadata.generation &&
      d.metadata.annotations['deployment.kubernetes.io/revision'] === String(revision)
    );
  });
}

/** The verification's CPU and memory queries for a workload, with the world's rate window. */
export function resourceQueries(
  world: WorldInfo,
  namespace: string,
  name = NAME,
  kind: WorkloadKind = 'Deployment',
) {
  const m = serviceSchema.shape.metrics.parse({});
  const vars = { namespace, deployment: name, pods: podNamePattern(kind, name) };
  return {
    cpu: fillQuery(m.cpuQuery.replaceAll('[1m]', `[${world.timings.rateWindow}]`), vars),
    memory: fillQuery(m.memoryQuery, vars),
  };
}

/** An instant query of the world's Prometheus (at `at`, default now); undefined when empty. */
export async function promValue(world: WorldInfo, query: string, at?: Date): Promise<number | undefined> {
  const params = new URLSearchParams({ query, ...(at ? { time: String(at.getTime() / 1000) } : {}) });
  const res = await fetch(`${world.prometheusUrl}/api/v1/query?${params}`);
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  const v = body.data?.result?.[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

/**
 * Waits until a release has run (rolled out, unless it crash-loops) and Prometheus could read its
 * CPU and memory as a baseline if the next release shipped now: the baseline is read
 * metrics.baselineOffsetSeconds (1 s in worldCatalog) before that release, so 2 s back is asked.
 * Returns what it read.
 */
export async function resourceBaseline(
  world: WorldInfo,
  namespace: string,
  rel: Release,
): Promise<{ cpu: number; memory: number }> {
  if (!isBadImage(rel.image))
    await kubectlOk(world, ['rollout', 'status', `deployment/${NAME}`, '-n', namespace, '--timeout=60s']);
  return resourcesRecorded(world, namespace, NAME, 'Deployment');
}

/** Waits until Prometheus holds the workload's CPU and memory 2 s back (a baseline the next release has). */
export async function resourcesRecorded(
  world: WorldInfo,
  namespace: string,
  name: string,
  kind: WorkloadKind,
): Promise<{ cpu: number; memory: number }> {
  const q = resourceQueries(world, namespace, name, kind);
  return eventually(`CPU and memory of ${kind} ${namespace}/${name} in Prometheus`, async () => {
    const at = new Date(Date.now() - 2000);
    const [cpu, memory] = await Promise.all([promValue(world, q.cpu, at), promValue(world, q.memory, at)]);
    return cpu !== undefined && memory !== undefined ? { cpu, memory } : undefined;
  });
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
