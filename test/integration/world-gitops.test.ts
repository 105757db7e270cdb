// Proof that the world's GitOps owners are real enough to show a rollback being undone behind the bot's
// back: Argo CD's and Flux's own CRDs validate the owners, and the stand-in reconciler
// (test/support/gitops-standin.ts) puts Git's template back after a `kubectl rollout undo` exactly
// while the owner's settings say its controller would, and never otherwise.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  applyOwner,
  argoApplication,
  argoApplicationSet,
  argoInstanceName,
  fluxHelmRelease,
  fluxKustomization,
  type GitOpsStandIn,
  markOwned,
  OWNER_RESOURCE,
  type OwnerRef,
  ownerMarks,
  startGitOpsStandIn,
  templateOf,
  type WorkloadRef,
} from '../support/gitops-standin.js';
import {
  daemonSetYaml,
  deploymentYaml,
  eventually,
  kubectl,
  kubectlOk,
  statefulSetYaml,
} from '../support/kubectl.js';
import { deleteNamespaces, freshNamespace } from '../support/namespaces.js';
import { IMAGES } from '../support/releases.js';

const world = inject('world');
/** Passes the stand-in must have made, having seen the drift, before "not reverted" means anything. */
const QUIET_PASSES = 3;

describe('GitOps owners in the test world', () => {
  let ns: string;
  let gitops: GitOpsStandIn;

  /** A workload shipped twice (v1 then v2, Git's current commit), marked as the owner's; Git's template. */
  async function shipTwice(
    workload: WorkloadRef,
    owner: OwnerRef,
  ): Promise<{ gitTemplate: Record<string, unknown> }> {
    const manifest = (image: string) => {
      const o = { namespace: workload.namespace, name: workload.name, app: workload.name, image };
      const marks = ownerMarks(owner, workload);
      switch (workload.kind) {
        case 'Deployment':
          return deploymentYaml({ ...o, replicas: 2, ...marks });
        case 'StatefulSet':
          return statefulSetYaml({ ...o, replicas: 2, podManagementPolicy: 'Parallel', ...marks });
        case 'DaemonSet':
          return daemonSetYaml({ ...o, ...marks });
      }
    };
    await kubectlOk(world, ['apply', '-f', '-'], manifest(IMAGES.good));
    await kubectlOk(world, [
      'rollout',
      'status',
      `${workload.kind.toLowerCase()}/${workload.name}`,
      '-n',
      ns,
      '--timeout=60s',
    ]);
    const git = manifest(IMAGES.next);
    await kubectlOk(world, ['apply', '-f', '-'], git);
    await kubectlOk(world, [
      'rollout',
      'status',
      `${workload.kind.toLowerCase()}/${workload.name}`,
      '-n',
      ns,
      '--timeout=60s',
    ]);
    return { gitTemplate: templateOf(git) };
  }

  async function liveImage(w: WorkloadRef): Promise<string> {
    return kubectlOk(world, [
      'get',
      w.kind.toLowerCase(),
      w.name,
      '-n',
      w.namespace,
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
  }

  /** `kubectl rollout undo`, as an operator (or the bot) would run it. */
  async function undo(w: WorkloadRef): Promise<void> {
    const r = await kubectl(world, [
      'rollout',
      'undo',
      `${w.kind.toLowerCase()}/${w.name}`,
      '-n',
      w.namespace,
    ]);
    expect(r.code, r.stderr).toBe(0);
  }

  /** Undoes and waits for the stand-in to put Git back; returns how long that took. */
  async function undoIsReverted(w: WorkloadRef): Promise<number> {
    const before = gitops.reverts(w);
    const started = Date.now();
    await undo(w);
    await eventually(`${w.kind} ${w.name} reverted to Git`, async () => gitops.reverts(w) > before, 15_000);
    const ms = Date.now() - started;
    expect(await liveImage(w)).toBe(IMAGES.next);
    expect(gitops.state(w)).toMatchObject({ correcting: true, lastError: undefined });
    return ms;
  }

  /** The undo stays: passes that saw the drift went by and none re-applied Git. */
  async function undoStays(w: WorkloadRef, why: RegExp): Promise<void> {
    // A pass that read the owner before its new settings were applied must not meet the undo.
    await gitops.passes(1);
    const before = gitops.reverts(w);
    if ((await liveImage(w)) === IMAGES.next) await undo(w);
    expect(await liveImage(w)).toBe(IMAGES.good);
    await gitops.passes(QUIET_PASSES);
    expect(gitops.state(w)).toMatchObject({ drifted: true, correcting: false, lastError: undefined });
    expect(gitops.state(w).why).toMatch(why);
    expect(gitops.reverts(w)).toBe(before);
    expect(await liveImage(w)).toBe(IMAGES.good);
  }

  async function appSyncStatus(app: OwnerRef): Promise<string> {
    return kubectlOk(world, [
      'get',
      OWNER_RESOURCE.Application,
      app.name,
      '-n',
      app.namespace,
      '-o',
      'jsonpath={.status.sync.status}',
    ]);
  }

  beforeAll(async () => {
    ns = await freshNamespace(world, 'gitops');
    gitops = startGitOpsStandIn(world, { periodMs: 500 });
  });
  afterAll(async () => {
    await gitops?.stop();
    await deleteNamespaces(world);
  });

  describe("the owners' CRDs", () => {
    it('accept what the helpers build and refuse what the real schemas forbid', async () => {
      const valid = [
        argoApplication({ name: 'valid-app', namespace: ns, automated: { selfHeal: true, prune: true } }),
        argoApplicationSet({ name: 'valid-set', namespace: ns, automated: { selfHeal: true } }),
        fluxKustomization({ name: 'valid-ks', namespace: ns, suspend: false }),
        fluxHelmRelease({ name: 'valid-hr', namespace: ns, driftDetection: 'enabled' }),
      ];
      for (const manifest of valid) {
        const r = await kubectl(
          world,
          ['apply', '--dry-run=server', '--validate=strict', '-f', '-'],
          manifest,
        );
        expect(r.code, `${manifest}\n${r.stderr}`).toBe(0);
      }

      const refused = async (manifest: object, message: RegExp) => {
        const r = await kubectl(
          world,
          ['apply', '--dry-run=server', '--validate=strict', '-f', '-'],
          JSON.stringify(manifest),
        );
        expect(r.code, JSON.stringify(manifest)).not.toBe(0);
        expect(r.stderr).toMatch(message);
      };
      const app = JSON.parse(valid[0] as string);
      const ks = JSON.parse(valid[2] as string);
      const hr = JSON.parse(valid[3] as string);
      await refused({ ...app, spec: { ...app.spec, project: undefined } }, /spec\.project: Required value/);
      await refused(
        { ...app, spec: { ...app.spec, syncPolicy: { automated: { selfHeal: 'yes' } } } },
        /spec\.syncPolicy\.automated\.selfHeal: Invalid value: "string": .*must be of type boolean/,
      );
      await refused({ ...app, spec: { ...app.spec, bogus: true } }, /unknown field "spec\.bogus"/);
      await refused({ ...ks, spec: { ...ks.spec, sourceRef: undefined } }, /spec\.sourceRef: Required value/);
      await refused(
        { ...ks, spec: { ...ks.spec, sourceRef: { kind: 'HelmRepository', name: 'x' } } },
        /spec\.sourceRef\.kind: Unsupported value: "HelmRepository"/,
      );
      await refused(
        { ...hr, spec: { ...hr.spec, driftDetection: { mode: 'on' } } },
        /spec\.driftDetection\.mode: Unsupported value: "on"/,
      );
      // A CEL rule of helm-controller's own schema: a stand-in CRD would not have it.
      await refused(
        { ...hr, spec: { ...hr.spec, chartRef: { kind: 'OCIRepository', name: 'x' } } },
        /either chart or chartRef must be set/,
      );
    });

    it('mark owned workloads the way the controllers do', () => {
      const sts: WorkloadRef = { kind: 'StatefulSet', namespace: 'payments', name: 'ledger' };
      expect(
        ownerMarks({ kind: 'Application', namespace: 'argocd', name: 'ledger' }, sts).annotations,
      ).toEqual({
        'argocd.argoproj.io/tracking-id': 'ledger:apps/StatefulSet:payments/ledger',
      });
      // An Application outside Argo CD's namespace is tracked by <namespace>_<name> (Application.InstanceName).
      expect(argoInstanceName({ namespace: 'team-a', name: 'ledger' })).toBe('team-a_ledger');
      expect(
        ownerMarks({ kind: 'Application', namespace: 'argocd', name: 'ledger' }, sts, { tracking: 'label' }),
      ).toEqual({ labels: { 'app.kubernetes.io/instance': 'ledger' }, annotations: {} });
      expect(
        ownerMarks({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, sts).labels,
      ).toEqual({
        'kustomize.toolkit.fluxcd.io/name': 'apps',
        'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
      });
      expect(
        ownerMarks({ kind: 'HelmRelease', namespace: 'flux-system', name: 'ledger' }, sts).labels,
      ).toMatchObject({
        'helm.toolkit.fluxcd.io/name': 'ledger',
        'helm.toolkit.fluxcd.io/namespace': 'flux-system',
      });
    });
  });

  describe('Argo CD, a StatefulSet of an Application', () => {
    const app = (): OwnerRef => ({ kind: 'Application', namespace: ns, name: 'ledger-app' });
    const sts = (): WorkloadRef => ({ kind: 'StatefulSet', namespace: ns, name: 'ledger' });
    const applyApp = (automated?: { selfHeal?: boolean; enabled?: boolean }) =>
      applyOwner(world, argoApplication({ ...app(), automated }));

    beforeAll(async () => {
      const { gitTemplate } = await shipTwice(sts(), app());
      await applyApp({ selfHeal: true });
      gitops.track({ owner: app(), workload: sts(), gitTemplate });
      await gitops.passes(1);
    });
    afterAll(() => gitops.untrack(sts()));

    it('sees Git and the live template agree, and says Synced', async () => {
      expect(gitops.state(sts())).toMatchObject({
        drifted: false,
        correcting: true,
        reverts: 0,
        lastError: undefined,
      });
      expect(await eventually('Synced', async () => (await appSyncStatus(app())) === 'Synced')).toBe(true);
      const live = JSON.parse(
        await kubectlOk(world, ['get', 'statefulset', 'ledger', '-n', ns, '-o', 'json']),
      ) as {
        metadata: { annotations: Record<string, string> };
      };
      expect(live.metadata.annotations['argocd.argoproj.io/tracking-id']).toBe(
        `${ns}_ledger-app:apps/StatefulSet:${ns}/ledger`,
      );
    });

    it('with automated sync and selfHeal, syncs an undo back to Git within seconds', async () => {
      const ms = await undoIsReverted(sts());
      console.log(`[world-gitops] undo of a StatefulSet reverted by the Argo CD stand-in in ${ms} ms`);
      expect(ms).toBeLessThan(5000);
      // Git's template is live again as the newest revision: the StatefulSet controller re-numbers it
      // on its own next sync, after the spec the stand-in wrote, so that is waited for, not assumed.
      const newestImage = async () => {
        const revs = JSON.parse(
          await kubectlOk(world, ['get', 'controllerrevisions', '-n', ns, '-l', 'app=ledger', '-o', 'json']),
        ) as {
          items: {
            revision: number;
            data: { spec: { template: { spec: { containers: { image: string }[] } } } };
          }[];
        };
        const newest = revs.items.sort((a, b) => b.revision - a.revision)[0];
        return newest?.data.spec.template.spec.containers[0]?.image;
      };
      expect(
        await eventually(
          'the newest revision carries Git',
          async () => (await newestImage()) === IMAGES.next,
        ),
      ).toBe(true);
      expect(await eventually('Synced again', async () => (await appSyncStatus(app())) === 'Synced')).toBe(
        true,
      );
    });

    it('leaves the undo alone without automated sync, without selfHeal, or with enabled: false; and says OutOfSync', async () => {
      await applyApp(undefined);
      await undoStays(sts(), /automated is not set/);
      expect(await eventually('OutOfSync', async () => (await appSyncStatus(app())) === 'OutOfSync')).toBe(
        true,
      );
      await applyApp({ selfHeal: false });
      await undoStays(sts(), /without selfHeal/);
      await applyApp({ selfHeal: true, enabled: false });
      await undoStays(sts(), /enabled is false/);
    });

    it('reverts again once automated sync with selfHeal is back', async () => {
      const before = gitops.reverts(sts());
      expect(await liveImage(sts())).toBe(IMAGES.good);
      await applyApp({ selfHeal: true });
      await eventually('reverted', async () => gitops.reverts(sts()) > before, 15_000);
      expect(await liveImage(sts())).toBe(IMAGES.next);
      expect(await eventually('Synced', async () => (await appSyncStatus(app())) === 'Synced')).toBe(true);
    });
  });

  describe('Argo CD, an Application generated by an ApplicationSet', () => {
    const app = (): OwnerRef => ({ kind: 'Application', namespace: ns, name: 'queue-app' });
    const sts = (): WorkloadRef => ({ kind: 'StatefulSet', namespace: ns, name: 'queue' });
    let setUid: string;
    const applySet = (ignoreSyncPolicyPointers?: string[]) =>
      applyOwner(
        world,
        argoApplicationSet({
          name: 'queues',
          namespace: ns,
          automated: { selfHeal: true },
          ignoreSyncPolicyPointers,
        }),
      );
    const switchOffOnApp = () =>
      kubectlOk(world, [
        'patch',
        OWNER_RESOURCE.Application,
        app().name,
        '-n',
        ns,
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/spec/syncPolicy"}]',
      ]);
    const appAutomated = async () =>
      kubectlOk(world, [
        'get',
        OWNER_RESOURCE.Application,
        app().name,
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.syncPolicy.automated}',
      ]);

    beforeAll(async () => {
      const { gitTemplate } = await shipTwice(sts(), app());
      setUid = await applySet();
      await applyOwner(
        world,
        argoApplication({
          ...app(),
          automated: { selfHeal: true },
          ownedByApplicationSet: { name: 'queues', uid: setUid },
        }),
      );
      gitops.track({ owner: app(), workload: sts(), gitTemplate });
    });
    afterAll(() => gitops.untrack(sts()));

    it('gets its syncPolicy back from the set when it is switched off on the Application alone, and reverts the undo', async () => {
      const restores = gitops.state(sts()).syncPolicyRestores;
      await switchOffOnApp();
      await eventually(
        'syncPolicy restored from the set',
        async () => gitops.state(sts()).syncPolicyRestores > restores,
      );
      expect(JSON.parse(await appAutomated())).toEqual({ selfHeal: true });
      await undoIsReverted(sts());
      // Its owner is real: the garbage collector left it alone.
      const owners = await kubectlOk(world, [
        'get',
        OWNER_RESOURCE.Application,
        app().name,
        '-n',
        ns,
        '-o',
        'jsonpath={.metadata.ownerReferences[0].uid}',
      ]);
      expect(owners).toBe(setUid);
    });

    it("keeps the Application's own syncPolicy when the set ignores that difference", async () => {
      await applySet(['/spec/syncPolicy']);
      await switchOffOnApp();
      const restores = gitops.state(sts()).syncPolicyRestores;
      await undoStays(sts(), /automated is not set/);
      expect(gitops.state(sts()).syncPolicyRestores).toBe(restores);
      expect(await appAutomated()).toBe('');
    });
  });

  describe('Flux, a Deployment of a Kustomization', () => {
    const ks = (): OwnerRef => ({ kind: 'Kustomization', namespace: ns, name: 'apps' });
    const deploy = (): WorkloadRef => ({ kind: 'Deployment', namespace: ns, name: 'api' });
    const applyKs = (suspend?: boolean) => applyOwner(world, fluxKustomization({ ...ks(), suspend }));

    beforeAll(async () => {
      const { gitTemplate } = await shipTwice(deploy(), ks());
      await applyKs();
      gitops.track({ owner: ks(), workload: deploy(), gitTemplate });
    });
    afterAll(() => gitops.untrack(deploy()));

    it('corrects the undo while not suspended', async () => {
      const ms = await undoIsReverted(deploy());
      console.log(
        `[world-gitops] undo of a Deployment reverted by the Flux Kustomization stand-in in ${ms} ms`,
      );
    });

    it('leaves it while suspended, and corrects it once resumed', async () => {
      await applyKs(true);
      await undoStays(deploy(), /spec\.suspend is true/);
      await applyKs(false);
      await eventually(
        'reverted after resume',
        async () => (await liveImage(deploy())) === IMAGES.next,
        15_000,
      );
    });

    it('leaves it while the Deployment is labelled reconcile: disabled; corrects it once the label is gone', async () => {
      await kubectlOk(world, [
        'label',
        'deployment/api',
        '-n',
        ns,
        'kustomize.toolkit.fluxcd.io/reconcile=disabled',
      ]);
      await undoStays(deploy(), /reconcile: disabled/);
      await kubectlOk(world, ['label', 'deployment/api', '-n', ns, 'kustomize.toolkit.fluxcd.io/reconcile-']);
      await eventually(
        'reverted once the mark is gone',
        async () => (await liveImage(deploy())) === IMAGES.next,
        15_000,
      );
    });

    it("loses an annotation reconcile: disabled to kubectl's Deployment undo, which copies the ReplicaSet's annotations: reverted anyway", async () => {
      await kubectlOk(world, [
        'annotate',
        'deployment/api',
        '-n',
        ns,
        'kustomize.toolkit.fluxcd.io/reconcile=disabled',
      ]);
      await gitops.passes(1);
      expect(gitops.state(deploy()).correcting).toBe(false);
      await undoIsReverted(deploy());
      const annotations = JSON.parse(
        await kubectlOk(world, [
          'get',
          'deployment',
          'api',
          '-n',
          ns,
          '-o',
          'jsonpath={.metadata.annotations}',
        ]),
      ) as Record<string, string>;
      expect(annotations['kustomize.toolkit.fluxcd.io/reconcile']).toBeUndefined();
    });
  });

  describe('Flux, a DaemonSet of a HelmRelease', () => {
    const hr = (): OwnerRef => ({ kind: 'HelmRelease', namespace: ns, name: 'agent' });
    const ds = (): WorkloadRef => ({ kind: 'DaemonSet', namespace: ns, name: 'agent' });
    const applyHr = (o: { suspend?: boolean; driftDetection?: 'enabled' | 'warn' | 'disabled' }) =>
      applyOwner(world, fluxHelmRelease({ ...hr(), ...o }));

    beforeAll(async () => {
      const { gitTemplate } = await shipTwice(ds(), hr());
      await applyHr({});
      gitops.track({ owner: hr(), workload: ds(), gitTemplate });
    });
    afterAll(() => gitops.untrack(ds()));

    it('leaves the undo alone unless driftDetection.mode is enabled', async () => {
      await undoStays(ds(), /driftDetection\.mode is not set/);
      await applyHr({ driftDetection: 'warn' });
      await undoStays(ds(), /driftDetection\.mode is warn/);
      await applyHr({ driftDetection: 'disabled' });
      await undoStays(ds(), /driftDetection\.mode is disabled/);
    });

    it('corrects it with drift detection enabled, not while suspended, and again once resumed', async () => {
      await applyHr({ driftDetection: 'enabled' });
      await eventually('reverted', async () => (await liveImage(ds())) === IMAGES.next, 15_000);
      const ms = await undoIsReverted(ds());
      console.log(`[world-gitops] undo of a DaemonSet reverted by the Flux HelmRelease stand-in in ${ms} ms`);
      await applyHr({ driftDetection: 'enabled', suspend: true });
      await undoStays(ds(), /spec\.suspend is true/);
      await applyHr({ driftDetection: 'enabled', suspend: false });
      await eventually('reverted after resume', async () => (await liveImage(ds())) === IMAGES.next, 15_000);
    });

    it('marks a live workload as owned with markOwned', async () => {
      await markOwned(world, hr(), ds());
      const labels = JSON.parse(
        await kubectlOk(world, ['get', 'daemonset', 'agent', '-n', ns, '-o', 'jsonpath={.metadata.labels}']),
      ) as Record<string, string>;
      expect(labels).toMatchObject({
        'helm.toolkit.fluxcd.io/name': 'agent',
        'helm.toolkit.fluxcd.io/namespace': ns,
      });
    });
  });
});

describe('the GitOps stand-in', () => {
  it('stops cleanly: once stopped, nothing keeps a process that ran it alive (it exits by itself)', async () => {
    // In its own process: the test runner's own timers and sockets make counting handles here meaningless.
    const script = `
      import { startGitOpsStandIn } from ${JSON.stringify(new URL('../support/gitops-standin.ts', import.meta.url).href)};
      const world = JSON.parse(process.env.WORLD_INFO);
      const gitops = startGitOpsStandIn(world, { periodMs: 50 });
      const workload = { kind: 'Deployment', namespace: 'default', name: 'absent' };
      gitops.track({ owner: { kind: 'Kustomization', namespace: 'default', name: 'absent' }, workload, gitTemplate: {} });
      await gitops.passes(3);
      console.log(gitops.state(workload).why);
      await gitops.stop();
      await gitops.passes(1).catch((err) => console.log(err.message));
      console.log('stopped at', Date.now());
    `;
    const started = Date.now();
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { env: { ...process.env, WORLD_INFO: JSON.stringify(world) }, timeout: 60_000 },
        (err, out, errOut) =>
          resolve({ code: err ? (err.code as number | null) : 0, stdout: out, stderr: errOut }),
      );
      child.stdin?.end();
    });
    const exitedAt = Date.now();
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/Kustomization\/default\/absent does not exist/);
    expect(stdout).toMatch(/stopped/);
    const stoppedAt = Number(/stopped at (\d+)/.exec(stdout)?.[1]);
    // Exited on its own right after stop(): nothing kept its event loop alive (a timer would, forever).
    expect(exitedAt - stoppedAt).toBeLessThan(5000);
    expect(exitedAt - started).toBeLessThan(60_000);
  });
});
