// The per-service thresholds reach Prometheus: the generated recording rules match the catalog, and
// the alert rules compare against them (with the procedure's values for uncatalogued Deployments).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildThresholdRules, ERROR_RATIO_SERIES, P99_SERIES } from '../../../src/alerts/threshold-rules.js';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { buildAlertRules, PRODUCTION_TIMINGS } from '../../support/world/prometheus-rules.js';

const manifest = (name: string) =>
  readFileSync(new URL(`../../../manifests/${name}`, import.meta.url), 'utf8');

describe('alert thresholds from the catalog', () => {
  it('keeps manifests/prometheusrule-thresholds.yaml generated from manifests/catalog.yaml', () => {
    const catalog = parseCatalog(manifest('catalog.yaml'));
    expect(manifest('prometheusrule-thresholds.yaml')).toBe(buildThresholdRules(catalog));
  });

  it('keeps manifests/prometheusrule.yaml equal to the rules the test world evaluates (production timings)', () => {
    const rule = parse(manifest('prometheusrule.yaml'));
    expect(rule.spec.groups).toEqual(parse(buildAlertRules(PRODUCTION_TIMINGS)).groups);
  });

  it('records each service threshold under its namespace and deployment', () => {
    const catalog = parseCatalog(manifest('catalog.yaml'));
    const svc = catalog.services.get('release-manager')!;
    svc.metrics.triggerErrorRatio = 0.02;
    svc.metrics.p99ThresholdSeconds = 0.8;
    const rules = parse(buildThresholdRules(catalog)).spec.groups[0].rules.filter(
      (r: { labels: { deployment: string } }) => r.labels.deployment === 'release-manager-prod',
    );
    expect(rules).toEqual([
      {
        record: ERROR_RATIO_SERIES,
        expr: 'vector(0.02)',
        labels: { namespace: 'production', deployment: 'release-manager-prod' },
      },
      {
        record: P99_SERIES,
        expr: 'vector(0.8)',
        labels: { namespace: 'production', deployment: 'release-manager-prod' },
      },
    ]);
  });

  it('has the error-ratio and p99 rules compare against those series, over the catalog default window', () => {
    const rules = parse(buildAlertRules(PRODUCTION_TIMINGS)).groups[0].rules as {
      alert: string;
      expr: string;
    }[];
    const expr = (name: string) => rules.find((r) => r.alert === name)?.expr ?? '';
    expect(expr('HighErrorRate')).toContain(`> on (namespace, deployment) (${ERROR_RATIO_SERIES} or`);
    expect(expr('HighErrorRate')).toContain('+ 0.05))');
    expect(expr('HighLatencyP99')).toContain(`> on (namespace, deployment) (${P99_SERIES} or`);
    expect(expr('HighLatencyP99')).toContain('+ 2))');
    // The assessment's default queries use the rules' window.
    const svc = parseCatalog(manifest('catalog.yaml')).services.get('release-manager')!;
    expect(svc.metrics.errorRatioQuery).toContain(`[${PRODUCTION_TIMINGS.rateWindow}]`);
    expect(svc.metrics.p99Query).toContain(`[${PRODUCTION_TIMINGS.rateWindow}]`);
    expect(expr('HighErrorRate')).toContain(`[${PRODUCTION_TIMINGS.rateWindow}]`);
  });
});
