// The watch triggers at scale, on the world: one watch per namespace however many services it holds
// (counted at the watch client the triggers are given, which talks to the real apiserver), each
// service's signals from its own pods only, and a rollout that runs out of its progress deadline
// without any pod changing (no workload watch any more: the mid-rollout re-read must see it).
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createWatchTriggers } from '../../src/alerts/watch-triggers.js';
import type { Catalog, CatalogEntry } from '../../src/config/catalog-schema.js';
import type { Logger } from '../../src/rollback/ports.js';
import type { Signal } from '../../src/rollback/signal.js';
import { createTestEngine, worldCatalog } from '../support/engine.js';
import { deploymentYaml, eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES } from '../support/releases.js';

const world = inject('world');

/** A Watch that records the path of every watch it opens (then opens it, on the real apiserver). */
class CountingWatch extends Watch {
  readonly paths: string[] = [];
  constructor(kc: KubeConfig) {
    super(kc);
  }
  override watch(...args: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    this.paths.push(args[0]);
    return super.watch(...args);
  }
}

/** One catalog entry per Deployment, from the worked example's (as worldCatalog wires it). */
function catalogOf(deployments: { ns: string; name: string }[]): Catalog {
  const base = worldCatalog(world, deployments[0]?.ns ?? 'default').services.get('release-manager')!;
  const services = new Map<string, CatalogEntry>();
  for (const { ns, name } of deployments) {
    const svc = structuredClone(base);
    svc.name = `${ns}-${name}`;
    svc.namespace = ns;
    svc.deployment = name;
    svc.podSelector = `app=${name}`;
    services.set(svc.name, svc);
  }
  return { services };
}

async function ship(ns: string, names: string[], o: { replicas?: number } = {}): Promise<void> {
  await kubectlOk(
    world,
    ['apply', '-f', '-'],
    names
      .map((name) =>
        deploymentYaml({ namespace: ns, name, app: name, image: IMAGES.good, replicas: o.replicas ?? 1 }),
      )
      .join('---\n'),
  );
  await kubectlOk(world, [
    'wait',
    '--for=condition=Available',
    'deployment',
    '--all',
    '-n',
    ns,
    '--timeout=120s',
  ]);
}

describe('watch triggers, shared per namespace', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
    await deleteNamespaces(world);
  });

  function start(catalog: Catalog) {
    const e = createTestEngine(world, { catalog });
    stops.push(() => e.close());
    const warnings: string[] = [];
    const infos: string[] = [];
    const logger: Logger = {
      info: (m, d) => infos.push(`${m} ${JSON.stringify(d)}`),
      error: (m, d) => warnings.push(`${m} ${JSON.stringify(d)}`),
      warn: (m, d) => warnings.push(`${m} ${JSON.stringify(d)}`),
    };
    const seen: Signal[] = [];
    const watch = new CountingWatch(e.kc);
    const w = createWatchTriggers({
      kc: e.kc,
      kube: e.kube,
      catalog,
      logger,
      watch,
      onSignals: (s) => seen.push(...s),
    });
    stops.push(() => w.stop());
    return { w, watch, seen, warnings, infos };
  }

  it('opens one watch per namespace for 1 service or 6, and signals only the service whose pods crash', async () => {
    const [a, b] = [await freshNamespace(world, 'watch-ns-a'), await freshNamespace(world, 'watch-ns-b')];
    const names = ['svc-0', 'svc-1', 'svc-2', 'svc-3', 'svc-4', 'svc-5'];
    await Promise.all([ship(a, names), ship(b, ['svc-0'])]);

    const one = start(catalogOf([{ ns: a, name: 'svc-0' }]));
    await one.w.start();
    const six = start(catalogOf(names.map((name) => ({ ns: a, name }))));
    await six.w.start();
    const twoNs = start(catalogOf([...names.map((name) => ({ ns: a, name })), { ns: b, name: 'svc-0' }]));
    await twoNs.w.start();
    // The pods of the namespace, once; no watch on any Deployment (the Role grants them by name only).
    expect(one.watch.paths).toEqual([`/api/v1/namespaces/${a}/pods`]);
    expect(six.watch.paths).toEqual([`/api/v1/namespaces/${a}/pods`]);
    expect([...twoNs.watch.paths].sort()).toEqual([
      `/api/v1/namespaces/${a}/pods`,
      `/api/v1/namespaces/${b}/pods`,
    ]);

    // Each workload is read once at start, and the triggers say when all of them have been.
    await eventually('every workload read', async () =>
      six.infos.find((x) => x.startsWith('watch triggers: every workload read {"services":6,')),
    );
    await kubectlOk(world, ['set', 'image', 'deployment/svc-3', '-n', a, `app=${IMAGES.bad}`]);
    const crash = await eventually(
      'a CrashLoopBackOff signal',
      async () => six.seen.find((s) => s.name === 'CrashLoopBackOff' && s.status === 'firing'),
      60_000,
    );
    expect(crash.service).toBe(`${a}-svc-3`);
    expect(crash.summary).toBe('1/1 pod(s) of the current revision in CrashLoopBackOff');
    // Its neighbours in the same cache stay quiet.
    expect(six.seen.filter((s) => s.service !== `${a}-svc-3` && s.status === 'firing')).toEqual([]);
    expect(six.warnings.filter((x) => /informer error/.test(x))).toEqual([]);
    // Watches reopen when the apiserver ends them, but never one per service.
    expect(new Set(six.watch.paths)).toEqual(new Set([`/api/v1/namespaces/${a}/pods`]));
  });

  it('sees a rollout run out of its progress deadline while none of its pods changes', async () => {
    const ns = await freshNamespace(world, 'watch-deadline');
    await ship(ns, ['stuck']);
    // One pod allowed: the surge pod of the next revision is refused, so no pod is added or changed,
    // and only the Deployment's status says the rollout stopped (progressDeadlineSeconds 15).
    await kubectlOk(world, ['create', 'quota', 'one-pod', '-n', ns, '--hard=pods=1']);
    await eventually(
      'the quota counted',
      async () =>
        (await kubectlOk(world, [
          'get',
          'quota',
          'one-pod',
          '-n',
          ns,
          '-o',
          'jsonpath={.status.used.pods}',
        ])) === '1',
    );
    const t = start(catalogOf([{ ns, name: 'stuck' }]));
    await t.w.start();
    await kubectlOk(world, ['set', 'image', 'deployment/stuck', '-n', ns, `app=${IMAGES.good}-other`]);
    const stuck = await eventually(
      'a ProgressDeadlineExceeded signal',
      async () => t.seen.find((s) => s.name === 'ProgressDeadlineExceeded' && s.status === 'firing'),
      60_000,
    );
    expect(stuck.service).toBe(`${ns}-stuck`);
    expect(t.seen.filter((s) => s.status === 'firing').map((s) => s.name)).toEqual([
      'ProgressDeadlineExceeded',
    ]);
    const pods = JSON.parse(await kubectlOk(world, ['get', 'pods', '-n', ns, '-o', 'json'])).items;
    expect(pods).toHaveLength(1);
  });
});
