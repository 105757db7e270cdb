import { execFile } from 'node:child_process';
import type { WorldInfo } from './world/world.js';

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs the world's own kubectl (built from the pinned k8s module) against the test cluster. */
export function kubectl(
  world: WorldInfo,
  args: string[],
  input?: string,
  opts: { kubeconfig?: string } = {},
): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      world.kubectl,
      ['--kubeconfig', opts.kubeconfig ?? world.kubeconfig, ...args],
      { maxBuffer: 16 << 20, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ stdout, stderr, code });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Like kubectl() but throws with stderr when the command fails. */
export async function kubectlOk(world: WorldInfo, args: string[], input?: string): Promise<string> {
  const r = await kubectl(world, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What every workload helper takes: the workload, the one container of its pods, and marks on it. */
export interface WorkloadYamlOptions {
  namespace: string;
  name: string;
  /** The `app` label: the selector, the pods' label and the workload's own. */
  app: string;
  image: string;
  /** `kubernetes.io/change-cause` on the workload (default `deploy <image>`). */
  changeCause?: string;
  /** Pod template annotations, e.g. releases.ts HEAD_ANNOTATION (the migration head the image ships). */
  templateAnnotations?: Record<string, string>;
  /** More labels on the workload itself (not its pods), e.g. a Flux owner's (gitops-standin.ts ownerMarks). */
  labels?: Record<string, string>;
  /** More annotations on the workload itself, e.g. Argo CD's tracking id (gitops-standin.ts ownerMarks). */
  annotations?: Record<string, string>;
  minReadySeconds?: number;
}

/** A YAML block mapping at `indent` spaces; keys and values are JSON strings, which YAML reads as they are. */
function blockMap(entries: Record<string, string>, indent: number): string {
  const pad = ' '.repeat(indent);
  return Object.entries(entries)
    .map(([k, v]) => `\n${pad}${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join('');
}

/** apiVersion, kind and metadata of a workload, with the change-cause and any extra marks. */
function workloadHead(kind: string, o: WorkloadYamlOptions): string {
  return `apiVersion: apps/v1
kind: ${kind}
metadata:
  name: ${o.name}
  namespace: ${o.namespace}
  labels:${blockMap({ app: o.app, ...o.labels }, 4)}
  annotations:${blockMap({ 'kubernetes.io/change-cause': o.changeCause ?? `deploy ${o.image}`, ...o.annotations }, 4)}
`;
}

/** The selector and pod template every workload helper shares (under `spec:`). */
function selectorAndTemplate(o: WorkloadYamlOptions): string {
  const tplAnnotations = o.templateAnnotations
    ? `\n      annotations:${blockMap(o.templateAnnotations, 8)}`
    : '';
  return `  selector:
    matchLabels: {app: ${o.app}}
  template:
    metadata:
      labels: {app: ${o.app}}${tplAnnotations}
    spec:
      containers:
      - name: app
        image: ${o.image}
        ports: [{containerPort: 8080}]
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          periodSeconds: 10
          failureThreshold: 3
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 5
          failureThreshold: 2
`;
}

export function deploymentYaml(
  o: WorkloadYamlOptions & { replicas?: number; progressDeadlineSeconds?: number; paused?: boolean },
): string {
  return `${workloadHead('Deployment', o)}spec:
  replicas: ${o.replicas ?? 3}
  progressDeadlineSeconds: ${o.progressDeadlineSeconds ?? 15}
  revisionHistoryLimit: 10${o.paused ? '\n  paused: true' : ''}${o.minReadySeconds ? `\n  minReadySeconds: ${o.minReadySeconds}` : ''}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
${selectorAndTemplate(o)}`;
}

/**
 * A StatefulSet whose pods KWOK runs like a Deployment's (the image's tag decides: bad, -slow,
 * -restarted, see releases.ts). No governing Service is created: nothing in the world resolves pod DNS.
 */
export function statefulSetYaml(
  o: WorkloadYamlOptions & {
    replicas?: number;
    /** RollingUpdate or OnDelete (pods are replaced only when deleted); default: left to the API. */
    updateStrategy?: 'RollingUpdate' | 'OnDelete';
    /** Ordinals below this keep the old revision (RollingUpdate only). */
    partition?: number;
    /** Parallel starts and replaces pods without waiting for lower ordinals: fast tests. */
    podManagementPolicy?: 'OrderedReady' | 'Parallel';
  },
): string {
  const type = o.updateStrategy ?? 'RollingUpdate';
  if (o.partition !== undefined && type !== 'RollingUpdate')
    throw new Error(`statefulSetYaml: partition needs updateStrategy RollingUpdate, not ${type}`);
  const rolling = o.partition !== undefined ? `\n    rollingUpdate: {partition: ${o.partition}}` : '';
  // Neither given: no updateStrategy at all, the commonest manifest. The API then defaults it to
  // RollingUpdate with rollingUpdate.partition 0; a type given without a partition gets no rollingUpdate,
  // and kubectl's rollout status tells the two apart ("partitioned roll out complete" or not).
  const strategy =
    o.updateStrategy === undefined && o.partition === undefined
      ? ''
      : `\n  updateStrategy:\n    type: ${type}${rolling}`;
  return `${workloadHead('StatefulSet', o)}spec:
  replicas: ${o.replicas ?? 3}
  serviceName: ${o.name}
  podManagementPolicy: ${o.podManagementPolicy ?? 'OrderedReady'}
  revisionHistoryLimit: 10${o.minReadySeconds ? `\n  minReadySeconds: ${o.minReadySeconds}` : ''}${strategy}
${selectorAndTemplate(o)}`;
}

/** A DaemonSet: one pod on each KWOK node (the world has one; kwok-nodes.ts addKwokNode adds more). */
export function daemonSetYaml(
  o: WorkloadYamlOptions & {
    /** RollingUpdate (default) or OnDelete: pods are replaced only when deleted. */
    updateStrategy?: 'RollingUpdate' | 'OnDelete';
    /** RollingUpdate only: default 1 (the API's default). */
    maxUnavailable?: number | string;
    /** RollingUpdate only: default 0; with it set, maxUnavailable must be 0. */
    maxSurge?: number | string;
  },
): string {
  const type = o.updateStrategy ?? 'RollingUpdate';
  if ((o.maxUnavailable !== undefined || o.maxSurge !== undefined) && type !== 'RollingUpdate')
    throw new Error(`daemonSetYaml: maxUnavailable/maxSurge need updateStrategy RollingUpdate, not ${type}`);
  const rolling =
    type === 'RollingUpdate'
      ? `\n    rollingUpdate: {maxUnavailable: ${JSON.stringify(o.maxUnavailable ?? 1)}, maxSurge: ${JSON.stringify(o.maxSurge ?? 0)}}`
      : '';
  return `${workloadHead('DaemonSet', o)}spec:
  revisionHistoryLimit: 10${o.minReadySeconds ? `\n  minReadySeconds: ${o.minReadySeconds}` : ''}
  updateStrategy:
    type: ${type}${rolling}
${selectorAndTemplate(o)}`;
}
