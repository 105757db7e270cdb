// GitOps owners on the real world, with the stand-in reconciler playing Argo CD and Flux: without a
// suspension the undo is reverted (and verification catches it), so the bot suspends or refuses; with
// the suspension the rollback sticks and verifies; Resume sync puts the owner's settings back exactly.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Actor } from '../../src/rollback/model.js';
import { createTestEngine } from '../support/engine.js';
import {
  applyOwner,
  argoApplication,
  argoApplicationSet,
  fluxKustomization,
  type GitOpsStandIn,
  type OwnerRef,
  ownerMarks,
  startGitOpsStandIn,
  templateOf,
  type WorkloadRef,
} from '../support/gitops-standin.js';
import { eventually, kubectlOk } from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES } from '../support/releases.js';
import {
  imageOfStatefulSet,
  LEDGER,
  ledgerCatalog,
  ledgerYaml,
  shipStatefulSet,
} from '../support/workloads.js';

const world = inject('world');
const ALICE: Actor = { kind: 'user', id: 'U0SRE00001', name: 'alice' };
const MALLORY: Actor = { kind: 'user', id: 'U0MALLORY1', name: 'mallory' };

const ownerJson = async (o: OwnerRef) => {
  const resource =
    o.kind === 'Application' ? 'applications.argoproj.io' : 'kustomizations.kustomize.toolkit.fluxcd.io';
  return JSON.parse(await kubectlOk(world, ['get', resource, o.name, '-n', o.namespace, '-o', 'json']));
};

describe('rollback engine: GitOps owners', () => {
  const engines: ReturnType<typeof createTestEngine>[] = [];
  let gitops: GitOpsStandIn | undefined;
  afterAll(async () => {
    await gitops?.stop();
    for (const e of engines) {
      await e.runner.idle();
      await e.close();
    }
    await deleteNamespaces(world);
  });
  const stand = () => {
    gitops ??= startGitOpsStandIn(world, { periodMs: 300 });
    return gitops;
  };

  /**
   * A StatefulSet whose good then bad release an owner applied (its marks on both), the owner as
   * given, and the stand-in holding the bad release as "what Git has".
   */
  async function owned(prefix: string, owner: (ns: string) => { ref: OwnerRef; manifest: string }) {
    const ns = await freshNamespace(world, prefix);
    const o = owner(ns);
    const workload: WorkloadRef = { kind: 'StatefulSet', namespace: ns, name: LEDGER };
    const marks = ownerMarks(o.ref, workload);
    await applyOwner(world, o.manifest);
    await shipStatefulSet(world, ns, [
      { image: IMAGES.good, ...marks },
      { image: IMAGES.bad, ...marks },
    ]);
    stand().track({
      owner: o.ref,
      workload,
      gitTemplate: templateOf(ledgerYaml(ns, { image: IMAGES.bad, ...marks })),
    });
    const e = createTestEngine(world, {
      catalog: ledgerCatalog(world, ns, (svc) => (svc.verify.restartWindowSeconds = 5)),
    });
    engines.push(e);
    return { ns, ref: o.ref, workload, e };
  }
  const argo = (automated: { selfHeal?: boolean; prune?: boolean } | undefined) => (ns: string) => ({
    ref: { kind: 'Application' as const, namespace: ns, name: 'ledger' },
    manifest: argoApplication({ name: 'ledger', namespace: ns, automated }),
  });

  it('without a suspension the undo is reverted to Git, and verification says so instead of "verified"', async () => {
    const { ns, workload, e } = await owned('gitops-ignore', argo({ selfHeal: true, prune: true }));
    // policy ignore: the explicit opt-out, the bot does what a plain `kubectl rollout undo` does.
    (e.deps.catalog.services.get(LEDGER)!.gitops as { policy?: string }).policy = 'ignore';
    const r = await e.runner.request({ service: LEDGER, reason: 'test', actor: ALICE });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    expect((await e.runner.get(r.id))?.assessment?.gitops?.plan).toBe('proceed');
    await e.runner.approve(r.id, ALICE);
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 180_000);
    expect(stand().reverts(workload)).toBeGreaterThan(0);
    expect(await imageOfStatefulSet(world, ns)).toBe(IMAGES.bad);
    expect(done.state).toBe('failed');
    // Reverted during the wait (the bad release never comes up: the wait times out), or after it
    // (the last verification check sees the old template): never "verified".
    const held = done.verification?.checks.find((c) => c.name === 'still on the target revision');
    if (done.verification) expect(held?.passed).toBe(false);
    else expect(done.failure).toMatchObject({ step: 'undoing', code: 'rollback_timeout' });
  });

  it('refuses by default when the bot may not patch the owner, naming the missing right', async () => {
    const { ns, ref, e: admin } = await owned('gitops-norights', argo({ selfHeal: true }));
    // A ServiceAccount with every right a rollback needs, and `get` but not `patch` on the Application.
    const sa = 'bot';
    await kubectlOk(world, ['create', 'serviceaccount', sa, '-n', ns]);
    await kubectlOk(world, [
      'create',
      'role',
      'bot',
      '-n',
      ns,
      '--verb=get,list,watch,patch',
      '--resource=statefulsets',
    ]);
    await kubectlOk(world, [
      'create',
      'role',
      'bot-read',
      '-n',
      ns,
      '--verb=get,list,watch',
      '--resource=controllerrevisions,pods,events,pods/log,applications.argoproj.io',
    ]);
    for (const role of ['bot', 'bot-read'])
      await kubectlOk(world, [
        'create',
        'rolebinding',
        role,
        '-n',
        ns,
        `--role=${role}`,
        `--serviceaccount=${ns}:${sa}`,
      ]);
    const token = (await kubectlOk(world, ['create', 'token', sa, '-n', ns, '--duration=1h'])).trim();
    const cfg = parse(readFileSync(world.kubeconfig, 'utf8'));
    const file = join(world.root, `kubeconfig-${ns}`);
    writeFileSync(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: cfg.clusters,
        users: [{ name: sa, user: { token } }],
        contexts: [{ name: sa, context: { cluster: cfg.clusters[0].name, user: sa } }],
        'current-context': sa,
      }),
    );
    const e = createTestEngine(world, { catalog: admin.deps.catalog, kubeconfig: file });
    engines.push(e);
    const before = await ownerJson(ref);
    const r = await e.runner.request({ service: LEDGER, reason: 'test', actor: ALICE });
    const done = await e.runner.waitFor(r.id, ['completed', 'failed', 'awaiting_approval'], 60_000);
    expect(done.state).toBe('failed');
    expect(done.failure?.code).toBe('rollback_gitops_refused');
    expect(done.failure?.message).toContain(
      `the ServiceAccount lacks \`patch\` on applications.argoproj.io "ledger" in namespace ${ns}`,
    );
    expect((await ownerJson(ref)).spec).toEqual(before.spec);
    expect(await imageOfStatefulSet(world, ns)).toBe(IMAGES.bad);
  });

  it('refuses when the policy says so, changing nothing', async () => {
    const { ns, ref, e } = await owned('gitops-refuse', argo({ selfHeal: true }));
    (e.deps.catalog.services.get(LEDGER)!.gitops as { policy?: string }).policy = 'refuse';
    const before = await ownerJson(ref);
    const generation = (await e.kube.readWorkload('StatefulSet', ns, LEDGER)).generation;
    const r = await e.runner.request({ service: LEDGER, reason: 'test', actor: ALICE });
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 60_000);
    expect(done.state).toBe('failed');
    expect(done.failure?.code).toBe('rollback_gitops_refused');
    expect(done.failure?.message).toMatch(
      /Argo CD Application .*\/ledger would revert the rollback \(automated sync with selfHeal/,
    );
    expect((await e.kube.readWorkload('StatefulSet', ns, LEDGER)).generation).toBe(generation);
    expect((await ownerJson(ref)).spec).toEqual(before.spec);
  });

  it('refuses an Application an ApplicationSet generates: its sync policy would come back', async () => {
    const { e } = await owned('gitops-appset', (ns) => ({
      ref: { kind: 'Application', namespace: ns, name: 'ledger' },
      manifest: argoApplication({ name: 'ledger', namespace: ns, automated: { selfHeal: true } }),
    }));
    const ns = [...e.deps.catalog.services.values()][0]!.namespace;
    const uid = await applyOwner(
      world,
      argoApplicationSet({ name: 'all', namespace: ns, automated: { selfHeal: true } }),
    );
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      argoApplication({
        name: 'ledger',
        namespace: ns,
        automated: { selfHeal: true },
        ownedByApplicationSet: { name: 'all', uid },
      }),
    );
    const r = await e.runner.request({ service: LEDGER, reason: 'test', actor: ALICE });
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 60_000);
    expect(done.failure?.code).toBe('rollback_gitops_refused');
    expect(done.failure?.message).toContain(`generated by ApplicationSet ${ns}/all`);
  });

  it('suspends Argo CD before the undo: the rollback sticks and verifies; Resume sync restores the settings exactly', async () => {
    const automated = { selfHeal: true, prune: true };
    const { ns, ref, workload, e } = await owned('gitops-argo', argo(automated));
    const r = await e.runner.request({ service: LEDGER, reason: 'test', actor: ALICE });
    const assessed = await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    expect(assessed.assessment?.gitops).toMatchObject({ plan: 'suspend', defaulted: true });
    await e.runner.approve(r.id, ALICE);
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 180_000);
    expect(done.state, JSON.stringify(done.failure ?? done.verification)).toBe('completed');
    expect(done.gitops).toMatchObject({ previous: { automated } });
    expect(done.gitops?.suspendedAt).toBeDefined();
    expect((await ownerJson(ref)).spec.syncPolicy?.automated).toBeUndefined();
    // The stand-in keeps looking and changes nothing while suspended.
    await stand().passes(3);
    expect(stand().reverts(workload)).toBe(0);
    expect(await imageOfStatefulSet(world, ns)).toBe(IMAGES.good);
    expect(done.report).toMatch(/Suspended Argo CD Application .*ledger's sync/);
    // In the audit trail (the thread's line needs a thread: the Slack test reads it).
    const events = await e.store.events(r.id);
    expect(
      events.some((ev) => /^suspended .*ledger \(automated sync disabled\)/.test(String(ev.data?.milestone))),
    ).toBe(true);

    // Not an approver: refused and audited, nothing changed.
    await expect(e.runner.resumeSync(r.id, MALLORY)).rejects.toMatchObject({ code: 'rollback_unauthorized' });
    expect((await ownerJson(ref)).spec.syncPolicy?.automated).toBeUndefined();

    const resumed = await e.runner.resumeSync(r.id, ALICE);
    expect(resumed.gitops?.resumed).toMatchObject({ outcome: 'restored', by: { id: ALICE.id } });
    expect((await ownerJson(ref)).spec.syncPolicy.automated).toEqual(automated);
    expect(resumed.report).toMatch(/Sync of Argo CD Application .*ledger resumed by/);
    await expect(e.runner.resumeSync(r.id, ALICE)).rejects.toMatchObject({ code: 'rollback_wrong_state' });
    // Git still holds the bad release, and a resumed owner applies it: exactly why the thread says
    // to revert it in Git first.
    await eventually(
      'the owner re-applies Git',
      async () => (stand().reverts(workload) > 0 ? true : undefined),
      30_000,
    );
    expect(await imageOfStatefulSet(world, ns)).toBe(IMAGES.bad);
  });

  it('suspends a Flux Kustomization and restores spec.suspend as it was (absent)', async () => {
    const { ns, ref, workload, e } = await owned('gitops-flux', (n) => ({
      ref: { kind: 'Kustomization', namespace: n, name: 'apps' },
      manifest: fluxKustomization({ name: 'apps', namespace: n }),
    }));
    const r = await e.runner.request({ service: LEDGER, reason: 'test', actor: ALICE });
    await e.runner.waitFor(r.id, ['awaiting_approval'], 60_000);
    await e.runner.approve(r.id, ALICE);
    const done = await e.runner.waitFor(r.id, ['completed', 'failed'], 180_000);
    expect(done.state, JSON.stringify(done.failure ?? done.verification)).toBe('completed');
    expect((await ownerJson(ref)).spec.suspend).toBe(true);
    expect(stand().reverts(workload)).toBe(0);
    expect(await imageOfStatefulSet(world, ns)).toBe(IMAGES.good);
    await e.runner.resumeSync(r.id, ALICE);
    expect((await ownerJson(ref)).spec).not.toHaveProperty('suspend');
  });
});
