// GitOps owners (workloads-gitops.md): a workload that Argo CD or Flux applies from Git is put back
// to Git's template by its controller, so an undo would be reverted and the bot would report a
// rollback that does not last. Pure rules here: who owns the workload, whether that owner would undo
// our undo, what the policy does about it, and the exact patches that suspend and restore its sync.
import type { JsonObject, WorkloadSnapshot } from './kube-types.js';

export const ARGOCD_TRACKING_ANNOTATION = 'argocd.argoproj.io/tracking-id';
export const FLUX_KUSTOMIZE_LABELS = [
  'kustomize.toolkit.fluxcd.io/name',
  'kustomize.toolkit.fluxcd.io/namespace',
];
export const FLUX_HELM_LABELS = ['helm.toolkit.fluxcd.io/name', 'helm.toolkit.fluxcd.io/namespace'];

export type OwnerKind = 'Application' | 'Kustomization' | 'HelmRelease';

export interface GitOpsOwner {
  tool: 'Argo CD' | 'Flux';
  kind: OwnerKind;
  namespace: string;
  name: string;
  /** How the owner was recognised (annotation or label, and its value). */
  via: string;
}

/** The API coordinates of each owner kind, for the Kubernetes adapter. */
export const OWNER_API: Record<OwnerKind, { group: string; version: string; plural: string }> = {
  Application: { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' },
  Kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
  HelmRelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
};

export const ownerText = (o: GitOpsOwner) => `${o.tool} ${o.kind} ${o.namespace}/${o.name}`;

export interface GitOpsConfig {
  policy?: 'suspend' | 'refuse' | 'ignore' | undefined;
  argocd: { namespace: string; trackingLabel?: string | undefined };
}

/**
 * Who applies the workload from Git, if anyone. Argo CD: the tracking-id annotation
 * (`<app>:<group>/<kind>:<namespace>/<name>`, the app written `<namespace>_<name>` when it lives
 * outside Argo CD's own namespace), or the tracking label the catalog names (label tracking: its value
 * is the app's name). Flux: the kustomize- or helm-controller's name + namespace labels.
 */
export function detectOwner(w: WorkloadSnapshot, cfg: GitOpsConfig): GitOpsOwner | undefined {
  const tracking = w.annotations[ARGOCD_TRACKING_ANNOTATION];
  if (tracking) {
    const app = tracking.split(':')[0] ?? '';
    const [ns, name] = app.includes('_') ? app.split('_', 2) : [cfg.argocd.namespace, app];
    return {
      tool: 'Argo CD',
      kind: 'Application',
      namespace: ns || cfg.argocd.namespace,
      name: name || app,
      via: `annotation ${ARGOCD_TRACKING_ANNOTATION}=${tracking}`,
    };
  }
  const label = cfg.argocd.trackingLabel;
  if (label && w.labels[label]) {
    return {
      tool: 'Argo CD',
      kind: 'Application',
      namespace: cfg.argocd.namespace,
      name: w.labels[label],
      via: `label ${label}=${w.labels[label]}`,
    };
  }
  for (const [kind, [nameKey, nsKey]] of [
    ['Kustomization', FLUX_KUSTOMIZE_LABELS],
    ['HelmRelease', FLUX_HELM_LABELS],
  ] as const) {
    const name = w.labels[nameKey!];
    const ns = w.labels[nsKey!];
    if (name && ns)
      return { tool: 'Flux', kind, namespace: ns, name, via: `labels ${nameKey}=${name}, ${nsKey}=${ns}` };
  }
  return undefined;
}

/** What the owner would do to an undo, read from its spec. */
export interface OwnerSync {
  /** `now`: re-applies Git within seconds or minutes; `later`: on the next change in Git; `no`: never by itself. */
  reverts: 'now' | 'later' | 'no';
  detail: string;
  /** The owner's settings the suspension changes, as they are: what Resume sync puts back. */
  settings: JsonObject;
  /** An ApplicationSet that regenerates the Application (its sync policy would come back). */
  generatedBy?: string;
}

const obj = (v: unknown): JsonObject | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined;

export function ownerSync(owner: GitOpsOwner, o: JsonObject): OwnerSync {
  const spec = obj(o.spec) ?? {};
  const meta = obj(o.metadata) ?? {};
  if (owner.kind === 'Application') {
    const automated = obj(obj(spec.syncPolicy)?.automated);
    const set = ((meta.ownerReferences as JsonObject[] | undefined) ?? []).find(
      (r) => r.kind === 'ApplicationSet',
    );
    const generatedBy = set
      ? { generatedBy: `ApplicationSet ${String(meta.namespace)}/${String(set.name)}` }
      : {};
    const settings: JsonObject = { automated: automated ?? null };
    if (!automated || automated.enabled === false)
      return { reverts: 'no', detail: 'automated sync is off', settings, ...generatedBy };
    if (automated.selfHeal === true)
      return {
        reverts: 'now',
        detail: 'automated sync with selfHeal: it re-applies Git within seconds of the undo',
        settings,
        ...generatedBy,
      };
    return {
      reverts: 'later',
      detail: 'automated sync without selfHeal: the next commit to Git re-applies the bad release',
      settings,
      ...generatedBy,
    };
  }
  const suspend = spec.suspend ?? null;
  const settings: JsonObject = { suspend };
  if (suspend === true) return { reverts: 'no', detail: 'reconciliation is suspended', settings };
  if (owner.kind === 'Kustomization')
    return {
      reverts: 'now',
      detail: `reconciles every ${String(spec.interval ?? '?')} and corrects drift: it re-applies Git`,
      settings,
    };
  const drift = obj(spec.driftDetection)?.mode;
  return drift === 'enabled'
    ? { reverts: 'now', detail: 'drift detection is enabled: it re-applies the chart', settings }
    : {
        reverts: 'later',
        detail: 'no drift detection: the next upgrade re-applies the bad release',
        settings,
      };
}

/** The JSON merge patch that stops the owner from syncing (Argo CD's UI does the same for its rollback). */
export function suspendPatch(owner: GitOpsOwner): JsonObject {
  return owner.kind === 'Application'
    ? { spec: { syncPolicy: { automated: null } } }
    : { spec: { suspend: true } };
}

/** The JSON merge patch that puts the owner's settings back exactly as they were (null removes a field). */
export function restorePatch(owner: GitOpsOwner, settings: JsonObject): JsonObject {
  return owner.kind === 'Application'
    ? { spec: { syncPolicy: { automated: settings.automated ?? null } } }
    : { spec: { suspend: settings.suspend ?? null } };
}

/** Whether the owner is as our suspension left it (nobody resumed or changed it since). */
export function isSuspendedByUs(owner: GitOpsOwner, o: JsonObject): boolean {
  const spec = obj(o.spec) ?? {};
  return owner.kind === 'Application' ? !obj(obj(spec.syncPolicy)?.automated) : spec.suspend === true;
}

/** What the assessment found and what the policy makes of it. */
export interface GitOpsAssessment {
  owner: GitOpsOwner;
  policy: 'suspend' | 'refuse' | 'ignore';
  /** Was the policy the default (suspend where the bot may, else refuse)? */
  defaulted: boolean;
  sync?: OwnerSync;
  /** Why the owner could not be read (then nothing is known about its sync). */
  unreadable?: string;
  /** What the bot will do: suspend the sync before the undo, refuse the rollback, or go on. */
  plan: 'suspend' | 'refuse' | 'proceed';
  /** For people: why this plan. */
  reason: string;
}

/**
 * The decision, fail closed: an owner that cannot be read, or whose suspension would not stick (an
 * ApplicationSet), refuses unless the policy is `ignore`. Without an explicit policy the bot
 * suspends where it has the right, else refuses naming the missing right.
 */
export function gitopsPlan(
  owner: GitOpsOwner,
  cfg: GitOpsConfig,
  read: { sync: OwnerSync } | { unreadable: string },
  mayPatch: boolean | string,
): GitOpsAssessment {
  const defaulted = cfg.policy === undefined;
  const policy = cfg.policy ?? (mayPatch === true ? 'suspend' : 'refuse');
  const base = { owner, policy, defaulted, ...read };
  const who = ownerText(owner);
  if (policy === 'ignore')
    return {
      ...base,
      plan: 'proceed',
      reason: `gitops policy ignore: ${who} is not touched; it may revert the rollback`,
    };
  if ('unreadable' in read)
    return {
      ...base,
      plan: 'refuse',
      reason: `${who} could not be read (${read.unreadable}), so whether it would revert the rollback is unknown`,
    };
  const { sync } = read;
  if (sync.reverts === 'no')
    return { ...base, plan: 'proceed', reason: `${who}: ${sync.detail}, so the rollback stays` };
  const reverts = `${who} would revert the rollback (${sync.detail})`;
  if (sync.generatedBy)
    return {
      ...base,
      plan: 'refuse',
      reason: `${reverts}, and it is generated by ${sync.generatedBy}, which would restore its sync policy: revert the release in Git instead`,
    };
  if (policy === 'refuse')
    return {
      ...base,
      plan: 'refuse',
      reason: defaulted
        ? `${reverts}, and the bot may not suspend it: ${typeof mayPatch === 'string' ? mayPatch : 'no patch right'}. Revert the release in Git, or grant the right`
        : `${reverts}; gitops policy refuse: revert the release in Git`,
    };
  if (mayPatch !== true)
    return {
      ...base,
      plan: 'refuse',
      reason: `${reverts}, and the bot may not suspend it: ${typeof mayPatch === 'string' ? mayPatch : 'no patch right'}`,
    };
  return {
    ...base,
    plan: 'suspend',
    reason: `${reverts}: its sync is suspended right before the undo; Git still holds the bad release`,
  };
}
