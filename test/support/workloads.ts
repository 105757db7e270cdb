// A StatefulSet service in a fresh namespace, for the engine and Slack tests: its releases applied
// one by one as CD would, and a catalog whose only entry names it by kind, pointed at the world's
// stand-in (/sts/<ns>/<name>/health, series labelled `statefulset`).
import type { Catalog, CatalogEntry } from '../../src/config/catalog-schema.js';
import { worldCatalog } from './engine.js';
import { eventually, kubectlOk, statefulSetYaml } from './kubectl.js';
import { resourcesRecorded } from './releases.js';
import type { WorldInfo } from './world/world.js';

export const LEDGER = 'ledger';

export interface StatefulRelease {
  image: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function ledgerYaml(namespace: string, r: StatefulRelease, o: { partition?: number } = {}): string {
  return statefulSetYaml({
    namespace,
    name: LEDGER,
    app: LEDGER,
    image: r.image,
    replicas: 2,
    podManagementPolicy: 'Parallel',
    changeCause: `Release ${r.image.split(':')[1]}`,
    ...(r.labels ? { labels: r.labels } : {}),
    ...(r.annotations ? { annotations: r.annotations } : {}),
    ...(o.partition !== undefined ? { partition: o.partition } : {}),
  });
}

/** Applies each release and waits until the controller has recorded it as a ControllerRevision. */
export async function shipStatefulSet(
  world: WorldInfo,
  namespace: string,
  releases: StatefulRelease[],
): Promise<void> {
  for (const [i, r] of releases.entries()) {
    await kubectlOk(world, ['apply', '-f', '-'], ledgerYaml(namespace, r));
    await eventually(`${namespace}/${LEDGER} revision ${i + 1}`, async () => {
      const sts = JSON.parse(
        await kubectlOk(world, ['get', 'statefulset', LEDGER, '-n', namespace, '-o', 'json']),
      );
      const revisions = JSON.parse(
        await kubectlOk(world, [
          'get',
          'controllerrevisions',
          '-n',
          namespace,
          '-l',
          `app=${LEDGER}`,
          '-o',
          'json',
        ]),
      ).items.length;
      return sts.status?.observedGeneration >= sts.metadata.generation && revisions === i + 1
        ? true
        : undefined;
    });
    // The first release comes up before the next one ships (CD waits for a healthy release), and runs
    // long enough for Prometheus to hold its CPU and memory: the next release's pre-release baseline.
    if (i === 0) {
      await kubectlOk(world, [
        'rollout',
        'status',
        `statefulset/${LEDGER}`,
        '-n',
        namespace,
        '--timeout=60s',
      ]);
      if (releases.length > 1) await resourcesRecorded(world, namespace, LEDGER, 'StatefulSet');
    }
  }
}

export async function imageOfStatefulSet(world: WorldInfo, namespace: string): Promise<string> {
  return kubectlOk(world, [
    'get',
    'statefulset',
    LEDGER,
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.template.spec.containers[0].image}',
  ]);
}

/** A catalog with one service, `ledger`, the StatefulSet, built on the example entry's test settings. */
export function ledgerCatalog(
  world: WorldInfo,
  namespace: string,
  tweak?: (svc: CatalogEntry) => void,
): Catalog {
  const base = worldCatalog(world, namespace).services.get('release-manager')!;
  const url = `${world.standinUrl}/sts/${namespace}/${LEDGER}`;
  const svc: CatalogEntry = {
    ...base,
    name: LEDGER,
    kind: 'StatefulSet',
    deployment: LEDGER,
    podSelector: `app=${LEDGER}`,
    health: { ...base.health, url: `${url}/health`, readyUrl: `${url}/ready` },
    smokeChecks: [{ name: 'api responds', http: { url: `${url}/ready`, expectStatus: 200 } }],
    metrics: {
      ...base.metrics,
      errorRatioQuery: base.metrics.errorRatioQuery.replaceAll('deployment=', 'statefulset='),
      p99Query: base.metrics.p99Query.replaceAll('deployment=', 'statefulset='),
      dashboardErrorRatioQuery: base.metrics.dashboardErrorRatioQuery.replaceAll(
        'deployment=',
        'statefulset=',
      ),
    },
  };
  delete svc.migrations;
  tweak?.(svc);
  return { services: new Map([[LEDGER, svc]]) };
}
