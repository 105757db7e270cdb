// The stand-in release-manager and the world's agent, one small process:
// - serves /health, /ready and /metrics for production/release-manager-prod (and /d/<ns>/<name>/... for
//   any other Deployment, /sts/<ns>/<name>/... for a StatefulSet, /ds/<ns>/<name>/... for a DaemonSet),
//   healthy or not according to the image the workload's template names;
// - sends itself traffic for every such workload (5 req/s each) so request/error/latency series are real,
//   labelled like kube-state-metrics labels workloads: `deployment`, `statefulset` or `daemonset`;
// - exports the kube-state-metrics series the alert rules use (KSM itself is not on the module proxy),
//   and the kubelet's cAdvisor CPU and memory series for every pod, by its image (bad-image.ts);
// - gives every pod a KWOK `Logs` object pointing at good or bad CRI log files, by the pod's image
//   (a Job pod's: the output of its command);
// - gives every pod a KWOK `Exec` object with its identity and its image's migrations (pod-exec.ts);
// - is the Node's kubelet endpoint, refusing exec into containers that are not running (kubelet-front.ts);
// - runs Job pods' commands and sets their final phase (job-runner.ts);
// - for a `-slow` image, answers /ready 503 until its pods are Ready (KWOK's pod-slow-ready stage).
// Configured by env: KUBECONFIG, STANDIN_PORT, STANDIN_DIR, STANDIN_KUBELET_PORT, STANDIN_KWOK_SERVER,
// STANDIN_TLS_CERT, STANDIN_TLS_KEY, STANDIN_EXEC_BIN, STANDIN_DATABASE_URL.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  type V1DaemonSet,
  type V1Deployment,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { isBadImage, isDegradedImage, isFlakyImage, isSlowReadyImage, resourcesOf } from './bad-image.js';
import { createJobRunner, isJobPod } from './job-runner.js';
import { startKubeletFront } from './kubelet-front.js';
import { writeLogFiles } from './log-files.js';
import { Histogram, renderSeries, type Series } from './metrics.js';
import { createPodExec, type ExecSettings } from './pod-exec.js';

const port = Number(process.env.STANDIN_PORT);
const dir = process.env.STANDIN_DIR ?? '.';
const kc = new KubeConfig();
kc.loadFromDefault();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const logFiles = writeLogFiles(dir);
/** The kinds the stand-in serves, by route prefix; the kind is also the workload's metric label. */
const KINDS = { d: 'deployment', sts: 'statefulset', ds: 'daemonset' } as const;
type Kind = (typeof KINDS)[keyof typeof KINDS];
/** `<kind>/<namespace>/<name>`: one workload's traffic and health. */
const PRIMARY = 'deployment/production/release-manager-prod';
const RPS = 5;
const execSettings: ExecSettings = { workDir: dir, databaseUrl: process.env.STANDIN_DATABASE_URL ?? '' };
const jobs = createJobRunner({
  ...execSettings,
  core,
  execBin: process.env.STANDIN_EXEC_BIN ?? '',
  logDir: `${dir}/job-logs`,
});
/**
 * Per pod uid: when its Exec object was created. The kubelet front lets an exec through only once
 * KWOK's informer has surely seen it (EXEC_SETTLE_MS later); normally the pod's container starts long after.
 */
const execObjects = new Map<string, Promise<number>>();
const EXEC_SETTLE_MS = 500;
const execObjectFor = (p: V1Pod) => {
  const uid = p.metadata?.uid ?? '';
  let made = execObjects.get(uid);
  if (!made) {
    made = createPodExec(custom, p, execSettings).then(() => Date.now());
    execObjects.set(uid, made);
  }
  return made;
};

const deployments = makeInformer(kc, '/apis/apps/v1/deployments', () =>
  apps.listDeploymentForAllNamespaces(),
);
const statefulSets = makeInformer(kc, '/apis/apps/v1/statefulsets', () =>
  apps.listStatefulSetForAllNamespaces(),
);
const daemonSets = makeInformer(kc, '/apis/apps/v1/daemonsets', () => apps.listDaemonSetForAllNamespaces());
type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;
const informers = { deployment: deployments, statefulset: statefulSets, daemonset: daemonSets };
const pods = makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());

interface Traffic {
  requests: number;
  errors: number;
  latency: Histogram;
  seq: number;
}
const traffic = new Map<string, Traffic>();
const keyOf = (kind: Kind, w: Workload) => `${kind}/${w.metadata?.namespace}/${w.metadata?.name}`;

function findWorkload(key: string): Workload | undefined {
  const [kind, ns, name] = key.split('/');
  const informer = informers[kind as Kind] as { get(name: string, ns?: string): Workload | undefined };
  return informer?.get(name ?? '', ns);
}

function badImages(d: Workload | undefined): string[] {
  return (d?.spec?.template.spec?.containers ?? [])
    .map((c) => c.image ?? '')
    .filter((i) => isBadImage(i) || isDegradedImage(i));
}

/** A `-slow` release warms up: not ready until every one of its pods is Ready (and one exists). */
function warmingUp(d: Workload): string | undefined {
  const image = d.spec?.template.spec?.containers[0]?.image ?? '';
  if (!isSlowReadyImage(image)) return undefined;
  const mine = (pods.list(d.metadata?.namespace) as V1Pod[]).filter(
    (p) => !p.metadata?.deletionTimestamp && !isJobPod(p) && p.spec?.containers[0]?.image === image,
  );
  const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  return mine.length > 0 && mine.every(ready) ? undefined : `${image} is warming up`;
}

function health(key: string, probe: 'health' | 'ready' = 'health'): { status: number; body: object } {
  const d = findWorkload(key);
  if (!d) return { status: 503, body: { status: 'unavailable', reason: `${key} is not deployed` } };
  const bad = badImages(d);
  if (bad.length)
    return {
      status: 503,
      body: { status: 'unhealthy', reason: `dependency check failed (${bad.join(', ')})` },
    };
  const warming = probe === 'ready' ? warmingUp(d) : undefined;
  if (warming) return { status: 503, body: { status: 'not ready', reason: warming } };
  return {
    status: 200,
    body: { status: 'healthy', images: d.spec?.template.spec?.containers.map((c) => c.image) },
  };
}

function trafficFor(key: string): Traffic {
  let t = traffic.get(key);
  if (!t) {
    t = { requests: 0, errors: 0, latency: new Histogram(), seq: 0 };
    traffic.set(key, t);
  }
  return t;
}

// A bad release fails every 12th request (8.3%) and makes every 25th wait 2.5 s (4% > 2 s, so p99 > 2 s);
// a flaky one fails every 40th (2.5%) and is otherwise fast.
// Deterministic, so the error ratio does not wander around the 5% threshold. The latency recorded is the
// serving time each request was given, not the wall time this process took: on a loaded 2-core machine
// one late timer in a 15 s window (75 requests) is more than 1% of it, and would move the p99 a whole
// bucket, failing a healthy target's latency check on the world's load rather than the release's.
async function work(key: string, res: ServerResponse): Promise<void> {
  const t = trafficFor(key);
  const n = ++t.seq;
  const w = findWorkload(key);
  const bad = badImages(w).length > 0;
  const flaky = (w?.spec?.template.spec?.containers ?? []).some((c) => isFlakyImage(c.image ?? ''));
  const delay = bad && n % 25 === 0 ? 2500 : 20 + (n % 7) * 8;
  await new Promise((r) => setTimeout(r, delay));
  const failed = bad ? n % 12 === 0 : flaky && n % 40 === 0;
  t.requests += 1;
  if (failed) t.errors += 1;
  t.latency.observe(delay / 1000);
  res.writeHead(failed ? 500 : 200, { 'content-type': 'text/plain' }).end(failed ? 'internal error' : 'ok');
}

function metrics(): string {
  const reqs: Series = { name: 'requests_total', help: 'Requests served.', type: 'counter', samples: [] };
  const errs: Series = { name: 'errors_total', help: 'Requests that failed.', type: 'counter', samples: [] };
  const lat: Series = {
    name: 'request_duration_seconds',
    help: 'Request latency.',
    type: 'histogram',
    samples: [],
  };
  for (const [key, t] of traffic) {
    const [kind = '', namespace = '', name = ''] = key.split('/');
    const labels = { namespace, [kind]: name };
    reqs.samples.push({ labels, value: t.requests });
    errs.samples.push({ labels, value: t.errors });
    lat.samples.push(...t.latency.samples(labels));
  }
  const waiting: Series = {
    name: 'kube_pod_container_status_waiting_reason',
    help: 'Describes the reason the container is currently in waiting state.',
    type: 'gauge',
    samples: [],
  };
  const restarts: Series = {
    name: 'kube_pod_container_status_restarts_total',
    help: 'The number of container restarts per container.',
    type: 'counter',
    samples: [],
  };
  const ready: Series = {
    name: 'kube_pod_status_ready',
    help: 'Describes whether the pod is ready.',
    type: 'gauge',
    samples: [],
  };
  for (const p of pods.list() as V1Pod[]) {
    const namespace = p.metadata?.namespace ?? '';
    const pod = p.metadata?.name ?? '';
    for (const c of p.status?.containerStatuses ?? []) {
      restarts.samples.push({ labels: { namespace, pod, container: c.name }, value: c.restartCount });
      const reason = c.state?.waiting?.reason;
      if (reason) waiting.samples.push({ labels: { namespace, pod, container: c.name, reason }, value: 1 });
    }
    const isReady = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    ready.samples.push({ labels: { namespace, pod, condition: String(isReady) }, value: 1 });
  }
  const cond: Series = {
    name: 'kube_deployment_status_condition',
    help: 'The current status conditions of a deployment.',
    type: 'gauge',
    samples: [],
  };
  const available: Series = {
    name: 'kube_deployment_status_replicas_available',
    help: 'The number of available replicas per deployment.',
    type: 'gauge',
    samples: [],
  };
  for (const d of deployments.list() as V1Deployment[]) {
    const namespace = d.metadata?.namespace ?? '';
    const deployment = d.metadata?.name ?? '';
    for (const c of d.status?.conditions ?? []) {
      cond.samples.push({
        labels: {
          namespace,
          deployment,
          condition: c.type,
          status: c.status.toLowerCase(),
          reason: c.reason ?? '',
        },
        value: 1,
      });
    }
    available.samples.push({ labels: { namespace, deployment }, value: d.status?.availableReplicas ?? 0 });
  }
  return renderSeries([reqs, errs, lat, waiting, restarts, ready, cond, available, ...cadvisorSeries()]);
}

/**
 * The kubelet's cAdvisor series for every pod on the node, as /metrics/cadvisor names and labels them:
 * per container, plus the pod's own cgroup (`container=""`) and the pause container (`POD`), which a
 * per-pod sum must leave out. The CPU counter grows at the image's rate since the pod was created
 * (resourcesOf), so `rate()` gives the image's use; a pod gone from the informer is gone from here.
 */
function cadvisorSeries(): Series[] {
  const cpu: Series = {
    name: 'container_cpu_usage_seconds_total',
    help: 'Cumulative cpu time consumed in seconds.',
    type: 'counter',
    samples: [],
  };
  const mem: Series = {
    name: 'container_memory_working_set_bytes',
    help: 'Current working set in bytes.',
    type: 'gauge',
    samples: [],
  };
  const now = Date.now();
  for (const p of pods.list() as V1Pod[]) {
    const namespace = p.metadata?.namespace ?? '';
    const pod = p.metadata?.name ?? '';
    if (namespace === 'kube-system' || !p.spec?.nodeName || isJobPod(p)) continue;
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    const created = p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).getTime() : now;
    const seconds = Math.max(0, (now - created) / 1000);
    let podCpu = 0;
    let podMem = 0;
    const containers = [
      ...(p.spec.containers ?? []).map((c) => ({ name: c.name, use: resourcesOf(c.image ?? '') })),
      { name: 'POD', use: { cpuCores: 0.001, memoryBytes: 2 ** 20 } },
    ];
    for (const c of containers) {
      const labels = { namespace, pod, container: c.name };
      cpu.samples.push({ labels, value: c.use.cpuCores * seconds });
      mem.samples.push({ labels, value: c.use.memoryBytes });
      podCpu += c.use.cpuCores * seconds;
      podMem += c.use.memoryBytes;
    }
    cpu.samples.push({ labels: { namespace, pod, container: '' }, value: podCpu });
    mem.samples.push({ labels: { namespace, pod, container: '' }, value: podMem });
  }
  return [cpu, mem];
}

function send(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics());
    return;
  }
  const m = /^\/(d|sts|ds)\/([^/]+)\/([^/]+)(\/.*)$/.exec(path);
  const key = m ? `${KINDS[m[1] as keyof typeof KINDS]}/${m[2]}/${m[3]}` : PRIMARY;
  const sub = m ? m[4] : path;
  if (sub === '/health' || sub === '/ready') {
    const h = health(key, sub === '/ready' ? 'ready' : 'health');
    send(res, h.status, h.body);
  } else if (sub === '/work') {
    void work(key, res);
  } else if (sub === '/state') {
    send(res, 200, {
      key,
      badImages: badImages(findWorkload(key)),
      deployed: Boolean(findWorkload(key)),
    });
  } else {
    send(res, 404, { error: `no route ${path}` });
  }
}

// Per-pod Logs objects: KWOK selects logs by namespace/name only, so each pod gets its own.
async function provideLogs(p: V1Pod): Promise<void> {
  const namespace = p.metadata?.namespace;
  const name = p.metadata?.name;
  if (!namespace || !name || p.metadata?.deletionTimestamp) return;
  const bad = (p.spec?.containers ?? []).some((c) => isBadImage(c.image ?? ''));
  const logs = isJobPod(p)
    ? jobs.logFiles(p).map((f) => ({ containers: [f.container], logsFile: f.file, previousLogsFile: f.file }))
    : [
        bad
          ? { logsFile: logFiles.bad, previousLogsFile: logFiles.badPrevious }
          : { logsFile: logFiles.good, previousLogsFile: logFiles.good },
      ];
  const body = {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Logs',
    metadata: {
      name,
      namespace,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid: p.metadata?.uid ?? '' }],
    },
    spec: { logs },
  };
  try {
    await custom.createNamespacedCustomObject({
      group: 'kwok.x-k8s.io',
      version: 'v1alpha1',
      namespace,
      plural: 'logs',
      body,
    });
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code !== 409 && code !== 404)
      console.error(`logs for ${namespace}/${name}: ${(err as Error).message}`);
  }
}

function keepRunning(
  name: string,
  inf: { start(): Promise<void>; on(e: 'error', cb: (err?: unknown) => void): void },
) {
  inf.on('error', (err) => {
    console.error(`${name} informer error, restarting: ${String(err)}`);
    setTimeout(() => void inf.start(), 1000);
  });
}

async function main(): Promise<void> {
  keepRunning('deployments', deployments);
  keepRunning('statefulsets', statefulSets);
  keepRunning('daemonsets', daemonSets);
  keepRunning('pods', pods);
  const onPod = (p: V1Pod) => {
    const uid = p.metadata?.uid;
    if (uid && !execObjects.has(uid)) {
      void provideLogs(p);
      void execObjectFor(p);
    }
    if (p.metadata?.deletionTimestamp) jobs.onDelete(p);
    else jobs.onPod(p);
  };
  pods.on('add', onPod);
  pods.on('update', onPod);
  pods.on('delete', (p) => {
    jobs.onDelete(p);
    execObjects.delete(p.metadata?.uid ?? '');
  });
  await Promise.all([deployments.start(), statefulSets.start(), daemonSets.start(), pods.start()]);
  for (const p of pods.list()) onPod(p);
  await startKubeletFront({
    port: Number(process.env.STANDIN_KUBELET_PORT),
    kwokServer: process.env.STANDIN_KWOK_SERVER ?? '',
    certFile: process.env.STANDIN_TLS_CERT ?? '',
    keyFile: process.env.STANDIN_TLS_KEY ?? '',
    readPod: async (namespace, name) => {
      try {
        return await core.readNamespacedPod({ namespace, name });
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    execReady: async (p) => {
      const settled = (await execObjectFor(p)) + EXEC_SETTLE_MS - Date.now();
      if (settled > 0) await new Promise((r) => setTimeout(r, settled));
    },
  });
  const server = createServer(route);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  setInterval(() => {
    for (const [prefix, kind] of Object.entries(KINDS)) {
      for (const w of informers[kind].list() as Workload[]) {
        if (w.metadata?.namespace === 'kube-system') continue;
        const path = keyOf(kind, w).replace(kind, prefix);
        fetch(`http://127.0.0.1:${port}/${path}/work`)
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
      }
    }
    for (const key of traffic.keys()) if (!findWorkload(key)) traffic.delete(key);
  }, 1000 / RPS).unref();
  console.log(`stand-in listening on 127.0.0.1:${port}`);
  const stop = () => {
    server.close();
    const all = [deployments, statefulSets, daemonSets, pods];
    void Promise.all(all.map((i) => i.stop())).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
