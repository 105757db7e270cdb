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

export function deploymentYaml(o: {
  namespace: string;
  name: string;
  app: string;
  image: string;
  replicas?: number;
  progressDeadlineSeconds?: number;
  changeCause?: string;
  templateAnnotations?: Record<string, string>;
  paused?: boolean;
  minReadySeconds?: number;
}): string {
  const tplAnnotations = o.templateAnnotations
    ? `\n      annotations:\n${Object.entries(o.templateAnnotations)
        .map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`)
        .join('\n')}`
    : '';
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${o.name}
  namespace: ${o.namespace}
  labels: {app: ${o.app}}
  annotations:
    kubernetes.io/change-cause: ${JSON.stringify(o.changeCause ?? `deploy ${o.image}`)}
spec:
  replicas: ${o.replicas ?? 3}
  progressDeadlineSeconds: ${o.progressDeadlineSeconds ?? 15}
  revisionHistoryLimit: 10${o.paused ? '\n  paused: true' : ''}${o.minReadySeconds ? `\n  minReadySeconds: ${o.minReadySeconds}` : ''}
  selector:
    matchLabels: {app: ${o.app}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
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
