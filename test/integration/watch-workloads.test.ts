// The watch triggers on a StatefulSet, as the bot runs them: the StatefulSet read by kind (not a
// Deployment of that name), its pods found in the namespace's shared cache by their StatefulSet owner,
// and the crash loop seen on the current revision's pods, found by controller-revision-hash.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createWatchTriggers } from '../../src/alerts/watch-triggers.js';
import type { Logger } from '../../src/rollback/ports.js';
import type { Signal } from '../../src/rollback/signal.js';
import { createTestEngine } from '../support/engine.js';
import { eventually } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES } from '../support/releases.js';
import { LEDGER, ledgerCatalog, shipStatefulSet } from '../support/workloads.js';

const world = inject('world');

describe('watch triggers on a StatefulSet', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
    await deleteNamespaces(world);
  });

  it('sees the crash loop of the current revision and signals it for the StatefulSet service', async () => {
    const ns = await freshNamespace(world, 'watch-sts');
    await shipStatefulSet(world, ns, [{ image: IMAGES.good }, { image: IMAGES.bad }]);
    const e = createTestEngine(world, { catalog: ledgerCatalog(world, ns) });
    stops.push(() => e.close());
    const warnings: string[] = [];
    const logger: Logger = {
      info() {},
      error: (m, d) => warnings.push(`${m} ${JSON.stringify(d)}`),
      warn: (m, d) => warnings.push(`${m} ${JSON.stringify(d)}`),
    };
    const seen: Signal[] = [];
    const w = createWatchTriggers({
      kc: e.kc,
      kube: e.kube,
      catalog: e.deps.catalog,
      logger,
      onSignals: (s) => seen.push(...s),
    });
    await w.start();
    stops.push(() => w.stop());
    const crash = await eventually(
      'a CrashLoopBackOff signal',
      async () => seen.find((s) => s.name === 'CrashLoopBackOff' && s.status === 'firing'),
      60_000,
    );
    expect(crash.service).toBe(LEDGER);
    // Only the bad revision's pod (ledger-1): the good ledger-0, not rolled yet since a StatefulSet
    // rolls from the top and waits, is of the old revision and does not count (1/2 would not fire).
    expect(crash.summary).toBe('1/1 pod(s) of the current revision in CrashLoopBackOff');
    expect(warnings.filter((x) => /informer error/.test(x))).toEqual([]);
  });
});
