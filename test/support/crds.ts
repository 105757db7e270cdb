// Third-party CRDs our manifests and tests use, fetched at a pinned version through the Go module proxy
// (the only route to upstream sources on this machine), so the apiserver validates our objects against
// the real schemas rather than against a stand-in we wrote.
//
// Pins, and why these versions:
// - prometheus-operator v0.85.0: the PrometheusRule and ServiceMonitor our manifests ship.
// - Argo CD v3.5.7: the newest release this machine's Go can read. v3.6.x's go.mod says `go 1.27`, and
//   with GOTOOLCHAIN=local Go 1.26 refuses to download it ("requires go >= 1.27.0").
// - Flux: kustomize-controller v1.9.5 and helm-controller v1.6.4 are the pair one Flux release ships
//   (flux2 v2.9.5's go.mod requires exactly their api modules). helm-controller's version list is
//   refused by the proxy (403), so its version was taken from flux2's go.mod, not from `go list`.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const PROMETHEUS_OPERATOR = 'github.com/prometheus-operator/prometheus-operator@v0.85.0';
export const ARGO_CD = 'github.com/argoproj/argo-cd/v3@v3.5.7';
export const KUSTOMIZE_CONTROLLER = 'github.com/fluxcd/kustomize-controller@v1.9.5';
export const HELM_CONTROLLER = 'github.com/fluxcd/helm-controller@v1.6.4';

/** One CRD: its name (what `kubectl wait crd/<name>` takes), the module it comes from and its file there. */
export interface CrdSource {
  name: string;
  module: string;
  path: string;
}

/** The GitOps owners the world knows: Argo CD's Application and ApplicationSet, Flux's Kustomization and HelmRelease. */
export const GITOPS_CRDS: readonly CrdSource[] = [
  { name: 'applications.argoproj.io', module: ARGO_CD, path: 'manifests/crds/application-crd.yaml' },
  { name: 'applicationsets.argoproj.io', module: ARGO_CD, path: 'manifests/crds/applicationset-crd.yaml' },
  {
    name: 'kustomizations.kustomize.toolkit.fluxcd.io',
    module: KUSTOMIZE_CONTROLLER,
    path: 'config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml',
  },
  {
    name: 'helmreleases.helm.toolkit.fluxcd.io',
    module: HELM_CONTROLLER,
    path: 'config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml',
  },
];

/**
 * The module's directory in the module cache, downloading it first if needed. A failure says why in
 * Go's own words (the `Error` of `go mod download -json`: 403 from the proxy, a Go version too old…),
 * never just "exit 1", so a world that cannot start tells the reader what to fix.
 */
function moduleDir(module: string): string {
  let out: string;
  try {
    out = execFileSync('go', ['mod', 'download', '-json', module], {
      cwd: tmpdir(),
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=mod' },
      timeout: 180_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string; signal?: string };
    let why: string;
    if (e.code === 'ENOENT') why = 'the `go` command is not installed (Go ≥ 1.26 is needed)';
    else if (e.signal) why = `go mod download was killed (${e.signal}) after the 180 s timeout`;
    else {
      let reported: string | undefined;
      try {
        reported = (JSON.parse(e.stdout ?? '') as { Error?: string }).Error;
      } catch {
        // Not JSON: go failed before it could report on the module; its stderr says why.
      }
      why = reported ?? (e.stderr?.trim() || e.message);
    }
    throw new Error(`cannot fetch ${module} from the Go module proxy (${goProxy()}): ${why}`);
  }
  return (JSON.parse(out) as { Dir: string }).Dir;
}

function goProxy(): string {
  try {
    return execFileSync('go', ['env', 'GOPROXY'], { encoding: 'utf8' }).trim();
  } catch {
    return 'GOPROXY unknown: `go env` failed too';
  }
}

/** Module directories already looked up in this process (the Argo CD module holds two CRDs). */
const dirs = new Map<string, string>();

/** The YAML of one CRD, checked to be the CRD it claims to be (a moved file fails here, not at apply). */
export function readCrd(source: CrdSource): string {
  let dir = dirs.get(source.module);
  if (!dir) {
    dir = moduleDir(source.module);
    dirs.set(source.module, dir);
  }
  const file = join(dir, source.path);
  if (!existsSync(file)) throw new Error(`${source.module} has no ${source.name} CRD at ${source.path}`);
  const text = readFileSync(file, 'utf8');
  // A look at the head, not a YAML parse: parsing the 1.4 MB ApplicationSet CRD takes half a second.
  const kind = /^kind: (\S+)$/m.exec(text)?.[1];
  const name = /^metadata:\n(?: {2}.*\n)*? {2}name: (\S+)$/m.exec(text)?.[1];
  if (kind !== 'CustomResourceDefinition' || name !== source.name)
    throw new Error(`${source.module} ${source.path} is ${kind} ${name}, not the ${source.name} CRD`);
  return text;
}

/** The prometheus-operator CRDs our manifests use: PrometheusRule and ServiceMonitor. */
export const PROMETHEUS_OPERATOR_CRDS = ['prometheusrules', 'servicemonitors'].map((plural) => ({
  name: `${plural}.monitoring.coreos.com`,
  module: PROMETHEUS_OPERATOR,
  path: `example/prometheus-operator-crd/monitoring.coreos.com_${plural}.yaml`,
}));

export function prometheusOperatorCrds(): string {
  return PROMETHEUS_OPERATOR_CRDS.map(readCrd).join('\n---\n');
}

interface CrdStatus {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/** The GitOps CRDs' YAML, fetched (or found in the module cache) now; throws why when one cannot be. */
export function readGitOpsCrds(): string[] {
  return GITOPS_CRDS.map(readCrd);
}

/**
 * Applies CRDs read by readGitOpsCrds() and waits until each is Established. Server-side apply: the
 * ApplicationSet CRD (1.4 MB) is far over the 256 KiB a client-side apply's last-applied annotation may hold.
 * The wait polls rather than `kubectl wait`, which fails outright while a new CRD has no conditions yet.
 */
export async function installGitOpsCrds(kubectl: string, kubeconfig: string, crds: string[]): Promise<void> {
  const run = promisify(execFile);
  const apply = run(kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', '-'], {
    maxBuffer: 16 << 20,
  });
  apply.child.stdin?.end(crds.join('\n---\n'));
  await apply;
  const names = GITOPS_CRDS.map((c) => c.name);
  const deadline = Date.now() + 60_000;
  for (;;) {
    // JSON, not a jsonpath filter: kubectl's filter fails on a CRD whose conditions are not set yet.
    const args = ['--kubeconfig', kubeconfig, 'get', 'crd', ...names, '-o', 'json'];
    const { stdout } = await run(kubectl, args, { maxBuffer: 64 << 20 });
    const items = (JSON.parse(stdout) as { items: CrdStatus[] }).items;
    const established = new Set(
      items
        .filter((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
        .map((c) => c.metadata.name),
    );
    const waiting = names.filter((n) => !established.has(n));
    if (waiting.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not Established after 60 s: ${waiting.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
