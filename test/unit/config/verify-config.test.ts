// The verification's settings: the procedure's defaults, the kind-specific default queries, the
// ALERTMANAGER_URL variable, and the start-up warnings for what no verification will check.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogWarnings } from '../../../src/config/catalog-warnings.js';
import { loadEnv } from '../../../src/config/env-schema.js';
import { parseCatalog } from '../../../src/config/load-catalog.js';

const example = readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8');
const approvers = 'approvers: { users: [U1] }';

describe('verification settings', () => {
  it("defaults to the procedure's dashboard review and a 1.5× resource bar", () => {
    const svc = parseCatalog(example).services.get('release-manager')!;
    expect(svc.metrics.dashboardErrorRatio).toBe(0.001);
    expect(svc.verify.dashboardWindowSeconds).toBe(300);
    expect(svc.verify.resourceFactor).toBe(1.5);
    expect(svc.metrics.dashboardErrorRatioQuery).toContain('[{{window}}]');
    expect(svc.metrics.cpuQuery).toContain('container_cpu_usage_seconds_total');
    expect(svc.metrics.memoryQuery).toContain('container_memory_working_set_bytes');
    for (const q of [svc.metrics.cpuQuery, svc.metrics.memoryQuery])
      expect(q).toContain('pod=~"{{pods}}",container!="",container!="POD"');
  });

  it("selects a StatefulSet's dashboard series by its own label, and refuses a factor below 1", () => {
    const db = parseCatalog(
      `services:\n  db: { namespace: ops, statefulSet: pg, ${approvers} }\n`,
    ).services.get('db')!;
    expect(db.metrics.dashboardErrorRatioQuery).toContain('statefulset="{{deployment}}"');
    expect(db.metrics.dashboardErrorRatioQuery).not.toContain('deployment="');
    expect(() =>
      parseCatalog(
        `services:\n  db: { namespace: ops, statefulSet: pg, ${approvers}, verify: { resourceFactor: 0.5 } }\n`,
      ),
    ).toThrow(/verify\.resourceFactor/);
  });

  it('takes ALERTMANAGER_URL as a URL, empty as unset', () => {
    expect(loadEnv({ ALERTMANAGER_URL: 'http://am:9093' }).ALERTMANAGER_URL).toBe('http://am:9093');
    expect(loadEnv({ ALERTMANAGER_URL: '' }).ALERTMANAGER_URL).toBeUndefined();
    expect(() => loadEnv({ ALERTMANAGER_URL: 'alertmanager 9093' })).toThrow(/ALERTMANAGER_URL/);
  });
});

describe('start-up warnings', () => {
  it('names each service and what its verification will show as not configured', () => {
    const catalog = parseCatalog(`services:
  bare: { namespace: ops, deployment: bare, ${approvers} }
  full:
    namespace: ops
    deployment: full
    ${approvers}
    health: { url: "http://full/health", readyUrl: "http://full/ready" }
    migrations: { expectedHeadAnnotation: head }
    smokeChecks: [{ name: api, http: { url: "http://full/api" } }]
    integrityChecks: [{ name: rows, command: [./check.sh] }]
`);
    expect(catalogWarnings(catalog, { alertmanager: true, prometheus: true })).toEqual([
      'services.bare: verification shows as "not configured", neither passed nor failed: /health (health.url), /ready (health.readyUrl), smoke checks (smokeChecks), migrations (no migrations section: right if it has no database), data integrity checks (integrityChecks)',
    ]);
    const env = catalogWarnings(catalog, { alertmanager: false, prometheus: false });
    expect(env[0]).toMatch(/^PROMETHEUS_URL is not set: .* no verification can pass/);
    expect(env[1]).toMatch(/^ALERTMANAGER_URL is not set: "no new alerts firing" is not configured/);
  });

  it('has a warning for the worked example only where it really has nothing (ledger: no smoke checks)', () => {
    const w = catalogWarnings(parseCatalog(example), { alertmanager: true, prometheus: true });
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^services\.ledger: .*\/ready.*smoke checks.*migrations.*integrityChecks/);
  });
});
