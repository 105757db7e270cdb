import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { CodedError } from '../errors.js';
import type { WorkloadKind } from '../rollback/kube-types.js';
import {
  type Catalog,
  type CatalogEntry,
  catalogSchema,
  SERVICE_NAME,
  serviceSchema,
  workloadOf,
} from './catalog-schema.js';
import { formatIssues } from './format-issues.js';

/** Parses and validates catalog YAML; throws one catalog_invalid error listing every problem. */
export function parseCatalog(text: string, source = 'catalog'): Catalog {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new CodedError(
      'catalog_invalid',
      `${source} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`,
      {
        remedy: 'Fix the YAML syntax and reload.',
      },
    );
  }
  const parsed = catalogSchema.safeParse(raw);
  // Names are checked apart from the schema so a bad name does not hide its entry's own problems.
  const rawServices = (raw as { services?: unknown } | null)?.services;
  const names = rawServices && typeof rawServices === 'object' ? Object.keys(rawServices) : [];
  const nameProblems = names
    .filter((n) => !SERVICE_NAME.test(n))
    .map(
      (n) =>
        `${source}.services.${n}: service names are lower-case letters, digits and "-" (typed after /rollback)`,
    );
  if (!parsed.success || nameProblems.length) {
    const lines = [...nameProblems, ...(parsed.success ? [] : formatIssues(parsed.error.issues, source))];
    throw new CodedError(
      'catalog_invalid',
      `${source} has ${lines.length} problem(s):\n${lines.map((l) => `  - ${l}`).join('\n')}`,
      {
        remedy: 'Fix each listed field (see README, "Service catalog").',
        details: { problems: lines },
      },
    );
  }
  if (!parsed.success) throw new Error('unreachable');
  const services = new Map<string, CatalogEntry>();
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(parsed.data.services)) {
    const workload = workloadOf(svc);
    if (typeof workload === 'string') {
      problems.push(`${source}.services.${name}: ${workload}`);
      continue;
    }
    const { deployment: _d, statefulSet: _s, daemonSet: _ds, workload: _w, ...rest } = svc;
    // One lock per namespace/name whatever the kind (the store's lock key), so two kinds of one name
    // are refused rather than rolled back at once.
    const key = `${svc.namespace}/${workload.name}`;
    const other = seen.get(key);
    if (other)
      problems.push(
        `${source}.services.${name}: ${workload.kind} ${key} is already catalogued as "${other}" (one workload per namespace and name)`,
      );
    seen.set(key, name);
    services.set(name, {
      ...rest,
      metrics: defaultQueriesFor(workload.kind, rest.metrics),
      name,
      kind: workload.kind,
      deployment: workload.name,
    });
  }
  if (problems.length) {
    throw new CodedError(
      'catalog_invalid',
      `${source} has ${problems.length} problem(s):\n${problems.map((l) => `  - ${l}`).join('\n')}`,
      {
        remedy: 'Each workload may be catalogued once, by one kind and name.',
        details: { problems },
      },
    );
  }
  return { services };
}

const DEFAULTS = serviceSchema.shape.metrics.parse({});
const WORKLOAD_LABEL = {
  Deployment: 'deployment',
  StatefulSet: 'statefulset',
  DaemonSet: 'daemonset',
} as const;

/**
 * The default queries select by a `deployment` label; for a StatefulSet or DaemonSet they select by
 * `statefulset` / `daemonset`, as kube-state-metrics and most exporters label them. A query the
 * catalog gives is left as it is.
 */
function defaultQueriesFor(kind: WorkloadKind, m: CatalogEntry['metrics']): CatalogEntry['metrics'] {
  if (kind === 'Deployment') return m;
  const swap = (q: string, d: string) =>
    q === d ? q.replaceAll('deployment="{{deployment}}"', `${WORKLOAD_LABEL[kind]}="{{deployment}}"`) : q;
  return {
    ...m,
    errorRatioQuery: swap(m.errorRatioQuery, DEFAULTS.errorRatioQuery),
    p99Query: swap(m.p99Query, DEFAULTS.p99Query),
    dashboardErrorRatioQuery: swap(m.dashboardErrorRatioQuery, DEFAULTS.dashboardErrorRatioQuery),
  };
}

export function loadCatalog(path: string): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CodedError(
      'catalog_unreadable',
      `cannot read the service catalog ${path}: ${(err as Error).message}`,
      {
        remedy: 'Set CATALOG_PATH to the catalog YAML file (in the cluster: the mounted ConfigMap).',
      },
    );
  }
  return parseCatalog(text, path);
}
