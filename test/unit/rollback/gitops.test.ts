// GitOps owners: who applies a workload from Git, whether it would undo the rollback, and what the
// policy makes of it (fail closed), with the patches that suspend and exactly restore its sync.
import { describe, expect, it } from 'vitest';
import {
  detectOwner,
  type GitOpsConfig,
  type GitOpsOwner,
  gitopsPlan,
  isSuspendedByUs,
  ownerSync,
  restorePatch,
  suspendPatch,
} from '../../../src/rollback/gitops.js';
import type { JsonObject, WorkloadSnapshot } from '../../../src/rollback/kube-types.js';

const cfg: GitOpsConfig = { argocd: { namespace: 'argocd' } };

function workload(
  annotations: Record<string, string> = {},
  labels: Record<string, string> = {},
): WorkloadSnapshot {
  return {
    kind: 'StatefulSet',
    namespace: 'production',
    name: 'ledger-prod',
    uid: 'u',
    resourceVersion: '1',
    generation: 1,
    annotations,
    labels,
    selector: 'app=ledger',
    paused: false,
    replicas: 2,
    template: {},
    strategy: { type: 'RollingUpdate', rollingUpdate: true },
    status: {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      unavailableReplicas: 0,
      conditions: [],
    },
  };
}

const app: GitOpsOwner = {
  tool: 'Argo CD',
  kind: 'Application',
  namespace: 'argocd',
  name: 'ledger',
  via: '',
};
const ks: GitOpsOwner = {
  tool: 'Flux',
  kind: 'Kustomization',
  namespace: 'flux-system',
  name: 'apps',
  via: '',
};
const hr: GitOpsOwner = {
  tool: 'Flux',
  kind: 'HelmRelease',
  namespace: 'flux-system',
  name: 'ledger',
  via: '',
};

describe('detectOwner', () => {
  it('reads the Argo CD tracking id, in Argo CD’s namespace or the app’s own (<ns>_<app>)', () => {
    const id = 'argocd.argoproj.io/tracking-id';
    expect(
      detectOwner(workload({ [id]: 'ledger:apps/StatefulSet:production/ledger-prod' }), cfg),
    ).toMatchObject({
      tool: 'Argo CD',
      kind: 'Application',
      namespace: 'argocd',
      name: 'ledger',
    });
    expect(
      detectOwner(workload({ [id]: 'team-a_ledger:apps/StatefulSet:production/ledger-prod' }), cfg),
    ).toMatchObject({ namespace: 'team-a', name: 'ledger' });
  });

  it('uses a tracking label only when the catalog says the instance tracks with it (Helm sets it too)', () => {
    const w = workload({}, { 'app.kubernetes.io/instance': 'ledger' });
    expect(detectOwner(w, cfg)).toBeUndefined();
    expect(
      detectOwner(w, { argocd: { namespace: 'gitops', trackingLabel: 'app.kubernetes.io/instance' } }),
    ).toMatchObject({ tool: 'Argo CD', namespace: 'gitops', name: 'ledger' });
  });

  it('reads the Flux kustomize- and helm-controller labels, both name and namespace', () => {
    expect(
      detectOwner(
        workload(
          {},
          {
            'kustomize.toolkit.fluxcd.io/name': 'apps',
            'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
          },
        ),
        cfg,
      ),
    ).toMatchObject({ tool: 'Flux', kind: 'Kustomization', namespace: 'flux-system', name: 'apps' });
    expect(
      detectOwner(
        workload(
          {},
          { 'helm.toolkit.fluxcd.io/name': 'ledger', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' },
        ),
        cfg,
      ),
    ).toMatchObject({ kind: 'HelmRelease', name: 'ledger' });
    // Half a label pair names no object.
    expect(detectOwner(workload({}, { 'kustomize.toolkit.fluxcd.io/name': 'apps' }), cfg)).toBeUndefined();
  });
});

describe('ownerSync', () => {
  const application = (automated: JsonObject | undefined, extra: JsonObject = {}): JsonObject => ({
    metadata: { name: 'ledger', namespace: 'argocd', ...extra },
    spec: { syncPolicy: automated ? { automated } : {} },
  });

  it('Argo CD: selfHeal reverts now, automated without selfHeal on the next commit, no automation never', () => {
    expect(ownerSync(app, application({ selfHeal: true, prune: true })).reverts).toBe('now');
    expect(ownerSync(app, application({ prune: true })).reverts).toBe('later');
    expect(ownerSync(app, application(undefined)).reverts).toBe('no');
    expect(ownerSync(app, application({ enabled: false, selfHeal: true })).reverts).toBe('no');
    expect(ownerSync(app, application({ selfHeal: true, prune: true })).settings).toEqual({
      automated: { selfHeal: true, prune: true },
    });
  });

  it('Argo CD: names the ApplicationSet that would restore the sync policy', () => {
    const owned = application(
      { selfHeal: true },
      { ownerReferences: [{ kind: 'ApplicationSet', name: 'all' }] },
    );
    expect(ownerSync(app, owned).generatedBy).toBe('ApplicationSet argocd/all');
  });

  it('Flux: a Kustomization reverts unless suspended; a HelmRelease only with drift detection', () => {
    expect(ownerSync(ks, { spec: { interval: '5m' } }).reverts).toBe('now');
    expect(ownerSync(ks, { spec: { suspend: true } }).reverts).toBe('no');
    expect(ownerSync(hr, { spec: { driftDetection: { mode: 'enabled' } } }).reverts).toBe('now');
    expect(ownerSync(hr, { spec: { driftDetection: { mode: 'warn' } } }).reverts).toBe('later');
    expect(ownerSync(ks, { spec: {} }).settings).toEqual({ suspend: null });
  });
});

describe('gitopsPlan (fail closed)', () => {
  const reverting = { sync: ownerSync(app, { spec: { syncPolicy: { automated: { selfHeal: true } } } }) };

  it('defaults to suspend where the bot may patch, else refuses naming the missing right', () => {
    expect(gitopsPlan(app, cfg, reverting, true)).toMatchObject({ plan: 'suspend', defaulted: true });
    const refused = gitopsPlan(app, cfg, reverting, 'the ServiceAccount lacks `patch` on applications');
    expect(refused.plan).toBe('refuse');
    expect(refused.reason).toContain('lacks `patch` on applications');
  });

  it('refuses when the owner cannot be read, or an ApplicationSet would undo the suspension', () => {
    expect(gitopsPlan(app, cfg, { unreadable: 'forbidden' }, true).plan).toBe('refuse');
    const generated = { sync: { ...reverting.sync, generatedBy: 'ApplicationSet argocd/all' } };
    const r = gitopsPlan(app, { ...cfg, policy: 'suspend' }, generated, true);
    expect(r.plan).toBe('refuse');
    expect(r.reason).toContain('ApplicationSet argocd/all');
  });

  it('policy refuse changes nothing; ignore goes on even unread; an owner that would not revert needs nothing', () => {
    expect(gitopsPlan(app, { ...cfg, policy: 'refuse' }, reverting, true).plan).toBe('refuse');
    expect(gitopsPlan(app, { ...cfg, policy: 'ignore' }, { unreadable: 'forbidden' }, false).plan).toBe(
      'proceed',
    );
    const off = { sync: ownerSync(app, { spec: {} }) };
    expect(gitopsPlan(app, cfg, off, false).plan).toBe('proceed');
  });

  it('policy suspend without the right refuses rather than rolling back into a revert', () => {
    expect(gitopsPlan(app, { ...cfg, policy: 'suspend' }, reverting, 'no right').plan).toBe('refuse');
  });
});

describe('suspend and restore patches', () => {
  it('Argo CD: removes spec.syncPolicy.automated, then puts the very same object back', () => {
    const before = { automated: { selfHeal: true, prune: false, allowEmpty: true } };
    expect(suspendPatch(app)).toEqual({ spec: { syncPolicy: { automated: null } } });
    expect(restorePatch(app, before)).toEqual({ spec: { syncPolicy: { automated: before.automated } } });
    expect(isSuspendedByUs(app, { spec: { syncPolicy: {} } })).toBe(true);
    expect(isSuspendedByUs(app, { spec: { syncPolicy: { automated: { selfHeal: true } } } })).toBe(false);
  });

  it('Flux: sets spec.suspend, then restores the old value or removes the field it did not have', () => {
    expect(suspendPatch(ks)).toEqual({ spec: { suspend: true } });
    expect(restorePatch(ks, { suspend: null })).toEqual({ spec: { suspend: null } });
    expect(restorePatch(ks, { suspend: false })).toEqual({ spec: { suspend: false } });
    expect(isSuspendedByUs(hr, { spec: { suspend: true } })).toBe(true);
    expect(isSuspendedByUs(hr, { spec: {} })).toBe(false);
  });
});
