// The test Kubernetes: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK as plain
// processes on loopback (the layout of kwokctl's "binary" runtime), plus one fake Node.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { adminGet } from './https-get.js';
import { writeKwokConfig } from './kwok-config.js';
import { createPki, type Pki, writeKubeconfig } from './pki.js';
import { freePorts } from './ports.js';
import { type ManagedProcess, startProcess, WorldError, waitFor } from './proc.js';

const clusterDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cluster');

export interface ClusterInfo {
  kubeconfig: string;
  server: string;
  binDir: string;
  kubectl: string;
  nodeName: string;
  kwokDir: string;
  /** KWOK's own kubelet-like server; the Node advertises `kubeletPort` instead (the stand-in's front). */
  kwokServer: string;
  /** kube-controller-manager's secure port (served with the world's certificate; /metrics needs no auth). */
  controllerManager: string;
  pki: Pki;
}

export interface StartedCluster {
  info: ClusterInfo;
  processes: ManagedProcess[];
}

/**
 * Runs test/cluster/build.sh (instant when the version-keyed cache exists); returns the bin directory.
 * A first build is minutes of silence from `go build`, so it is announced with the time so far.
 */
export async function buildBinaries(log: (line: string) => void): Promise<string> {
  const started = Date.now();
  const child = spawn('bash', [join(clusterDir, 'build.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const ticker = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    log(`[build] still building the control plane: ${s} s so far (measured ≈ 420 s on 2 cores)`);
  }, 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(ticker);
  if (code !== 0) {
    throw new WorldError(
      'control-plane build',
      `test/cluster/build.sh failed (exit ${code}); see output above`,
    );
  }
  const bin = stdout.trim().split('\n').pop() ?? '';
  log(`[world] control plane binaries: ${bin}`);
  return bin;
}

function kwokModuleDir(): string {
  return execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', 'sigs.k8s.io/kwok'], {
    cwd: join(clusterDir, 'kwok'),
    encoding: 'utf8',
  }).trim();
}

export interface ClusterOptions {
  root: string;
  logDir: string;
  binDir: string;
  /** Directory put first on KWOK's PATH, so `kubectl exec` finds our fake tools. */
  execBinDir: string;
  /**
   * The port the Node advertises as its kubelet's (daemonEndpoints): the stand-in's kubelet front
   * listens there and forwards to KWOK's server, refusing exec into containers that are not running.
   */
  kubeletPort: number;
  detach: boolean;
  log: (line: string) => void;
}

export async function startCluster(o: ClusterOptions): Promise<StartedCluster> {
  const pkiDir = join(o.root, 'pki');
  mkdirSync(pkiDir, { recursive: true });
  const pki = createPki(pkiDir);
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await freePorts(6);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(o.root, 'kubeconfig');
  writeKubeconfig(kubeconfig, server, pki);
  const bin = (n: string) => join(o.binDir, n);
  const common = { logDir: o.logDir, detach: o.detach };
  const processes: ManagedProcess[] = [];
  const started = Date.now();

  const etcd = startProcess({
    ...common,
    name: 'etcd',
    command: bin('etcd'),
    args: [
      '--name=node0',
      `--data-dir=${join(o.root, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=node0=http://127.0.0.1:${etcdPeer}`,
      '--auto-compaction-retention=1',
      '--quota-backend-bytes=2147483648',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
  });
  processes.push(etcd);
  await waitFor(
    'etcd /health',
    etcd,
    async () => {
      const res = await fetch(`http://127.0.0.1:${etcdClient}/health`);
      return res.ok ? true : undefined;
    },
    30_000,
  );

  const apiserver = startProcess({
    ...common,
    name: 'kube-apiserver',
    command: bin('kube-apiserver'),
    args: [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--etcd-prefix=/registry',
      '--allow-privileged=true',
      '--endpoint-reconciler-type=none',
      '--authorization-mode=Node,RBAC',
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki.adminCert}`,
      `--tls-private-key-file=${pki.adminKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.adminKey}`,
      `--service-account-signing-key-file=${pki.adminKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--proxy-client-cert-file=${pki.adminCert}`,
      `--proxy-client-key-file=${pki.adminKey}`,
      `--requestheader-client-ca-file=${pki.caCert}`,
      '--requestheader-allowed-names=kwok-admin',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      '--max-requests-inflight=0',
      '--max-mutating-requests-inflight=0',
      '--enable-priority-and-fairness=false',
    ],
  });
  processes.push(apiserver);
  await waitFor(
    'kube-apiserver /readyz',
    apiserver,
    async () => {
      const res = await adminGet(`${server}/readyz`, pki);
      return res.status === 200 ? true : undefined;
    },
    90_000,
  );
  o.log(`[world] apiserver ready after ${Date.now() - started} ms`);

  const componentArgs = (port: number) => [
    `--kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    // Served with the world's certificate (its SAN holds 127.0.0.1), so a reader of /metrics checks
    // it against the world's CA like any other world server instead of trusting a self-signed one.
    `--tls-cert-file=${pki.adminCert}`,
    `--tls-private-key-file=${pki.adminKey}`,
    '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
    '--leader-elect=false',
  ];
  processes.push(
    startProcess({
      ...common,
      name: 'kube-controller-manager',
      command: bin('kube-controller-manager'),
      args: [
        ...componentArgs(kcmPort as number),
        `--root-ca-file=${pki.caCert}`,
        `--service-account-private-key-file=${pki.adminKey}`,
        '--node-monitor-period=5s',
        '--node-monitor-grace-period=40s',
      ],
    }),
    startProcess({
      ...common,
      name: 'kube-scheduler',
      command: bin('kube-scheduler'),
      args: componentArgs(schedPort as number),
    }),
  );

  const kwokDir = kwokModuleDir();
  const kwokConfig = join(o.root, 'kwok.yaml');
  writeKwokConfig(kwokConfig);
  // The Logs and Exec CRDs must exist before KWOK starts watching them.
  const crd = (kind: string) => join(kwokDir, `kustomize/crd/bases/kwok.x-k8s.io_${kind}.yaml`);
  execFileSync(bin('kubectl'), ['--kubeconfig', kubeconfig, 'apply', '-f', crd('logs'), '-f', crd('execs')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const kwok = startProcess({
    ...common,
    name: 'kwok',
    command: bin('kwok'),
    env: { ...process.env, PATH: `${o.execBinDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: o.root },
    args: [
      `--kubeconfig=${kubeconfig}`,
      '--manage-all-nodes=true',
      '--node-ip=127.0.0.1',
      '--node-name=localhost',
      `--node-port=${o.kubeletPort}`,
      `--server-address=127.0.0.1:${kwokPort}`,
      `--tls-cert-file=${pki.adminCert}`,
      `--tls-private-key-file=${pki.adminKey}`,
      '--cidr=10.244.0.0/16',
      '--node-lease-duration-seconds=40',
      '--enable-crds=Logs,Exec',
      `--config=${join(kwokDir, 'kustomize/stage/node/fast')}`,
      `--config=${join(kwokDir, 'kustomize/stage/node/heartbeat-with-lease')}`,
      // The "fast" pod stages without pod-complete: a Job pod ends when its command does (the stand-in's
      // Job runner), not the moment it is Running.
      `--config=${join(kwokDir, 'kustomize/stage/pod/fast/pod-ready.yaml')}`,
      `--config=${join(kwokDir, 'kustomize/stage/pod/fast/pod-delete.yaml')}`,
      `--config=${kwokConfig}`,
    ],
  });
  processes.push(kwok);

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const nodeName = 'kwok-node-0';
  await core.createNode({
    body: {
      metadata: {
        name: nodeName,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { type: 'kwok', 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': nodeName },
      },
      status: {
        allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
        capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      },
    },
  });
  const watched = [...processes];
  await waitFor(
    'node Ready and untainted',
    undefined,
    async () => {
      for (const p of watched) {
        if (p.hasExited()) throw new WorldError(p.name, `exited (${await p.exited}) during start`, p.logFile);
      }
      const node = await core.readNode({ name: nodeName });
      const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      const tainted = (node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
      return ready && !tainted ? true : undefined;
    },
    60_000,
    'kwok/kube-controller-manager',
  );
  o.log(`[world] cluster ready after ${Date.now() - started} ms`);

  return {
    info: {
      kubeconfig,
      server,
      binDir: o.binDir,
      kubectl: bin('kubectl'),
      nodeName,
      kwokDir,
      kwokServer: `https://127.0.0.1:${kwokPort}`,
      controllerManager: `https://127.0.0.1:${kcmPort}`,
      pki,
    },
    processes,
  };
}

export type { Pki };
