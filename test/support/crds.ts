// Third-party CRDs our manifests use, fetched at a pinned version through the Go module proxy (the
// only route to upstream sources on this machine), so the apiserver validates our objects against
// the real schemas rather than against a stand-in we wrote.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROMETHEUS_OPERATOR = 'github.com/prometheus-operator/prometheus-operator@v0.85.0';

export function prometheusRuleCrd(): string {
  let dir: string;
  try {
    const out = execFileSync('go', ['mod', 'download', '-json', PROMETHEUS_OPERATOR], {
      cwd: tmpdir(),
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=mod' },
      timeout: 180_000,
    });
    dir = (JSON.parse(out) as { Dir: string }).Dir;
  } catch (err) {
    throw new Error(`cannot fetch ${PROMETHEUS_OPERATOR} from the Go module proxy: ${String(err)}`);
  }
  const file = join(dir, 'example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml');
  if (!existsSync(file)) throw new Error(`${PROMETHEUS_OPERATOR} has no PrometheusRule CRD at ${file}`);
  return readFileSync(file, 'utf8');
}
