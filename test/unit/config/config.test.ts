import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/env-schema.js';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { isCodedError } from '../../../src/errors.js';

const example = readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8');

function caught(fn: () => unknown): Error & { code?: string; details?: { problems?: string[] } } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('service catalog', () => {
  it("loads the worked example with the procedure's defaults filled in", () => {
    const svc = parseCatalog(example).services.get('release-manager')!;
    expect(svc).toMatchObject({
      namespace: 'production',
      deployment: 'release-manager-prod',
      podSelector: 'app=release-manager',
    });
    expect(svc.metrics.errorRatioQuery).toContain('errors_total');
    expect(svc.metrics.triggerErrorRatio).toBe(0.05);
    expect(svc.metrics.passErrorRatio).toBe(0.01);
    expect(svc.rollout.timeoutSeconds).toBe(300);
    expect(svc.logs.pattern).toBe('ERROR');
  });

  it('names the workload by kind and name; deployment: keeps working', () => {
    const services = parseCatalog(example).services;
    expect(services.get('release-manager')).toMatchObject({
      kind: 'Deployment',
      deployment: 'release-manager-prod',
    });
    expect(services.get('ledger')).toMatchObject({ kind: 'StatefulSet', deployment: 'ledger-prod' });
    const approvers = 'approvers: { users: [U1] }';
    const one = parseCatalog(`services:
  agent: { namespace: ops, daemonSet: node-agent, ${approvers} }
  db: { namespace: ops, workload: { kind: StatefulSet, name: pg }, ${approvers} }
`).services;
    expect(one.get('agent')).toMatchObject({ kind: 'DaemonSet', deployment: 'node-agent' });
    expect(one.get('db')).toMatchObject({ kind: 'StatefulSet', deployment: 'pg' });
    expect(one.get('db')).not.toHaveProperty('workload');
    // The default queries select a StatefulSet's or DaemonSet's series by its own label.
    expect(one.get('db')?.metrics.errorRatioQuery).toContain('statefulset="{{deployment}}"');
    expect(one.get('agent')?.metrics.p99Query).toContain('daemonset="{{deployment}}"');
    expect(one.get('agent')?.metrics.p99Query).not.toContain('deployment="');
  });

  it('refuses an entry naming no workload, two, an unknown kind, or one name twice under two kinds', () => {
    const approvers = 'approvers: { users: [U1] }';
    const problems = (yaml: string) => caught(() => parseCatalog(yaml, 'c')).details?.problems ?? [];
    expect(problems(`services:\n  a: { namespace: ops, ${approvers} }\n`)).toEqual([
      expect.stringMatching(/^c\.services\.a\.deployment: name the workload/),
    ]);
    expect(
      problems(`services:\n  a: { namespace: ops, deployment: x, statefulSet: y, ${approvers} }\n`),
    ).toEqual([expect.stringMatching(/name one workload, not 2 \(Deployment x, StatefulSet y\)/)]);
    expect(
      problems(`services:\n  a: { namespace: ops, workload: { kind: CronJob, name: x }, ${approvers} }\n`),
    ).toEqual([expect.stringMatching(/^c\.services\.a\.workload\.kind/)]);
    expect(
      problems(
        `services:\n  a: { namespace: ops, deployment: x, ${approvers} }\n  b: { namespace: ops, daemonSet: x, ${approvers} }\n`,
      ),
    ).toEqual([expect.stringMatching(/DaemonSet ops\/x is already catalogued as "a"/)]);
  });

  it('lists every problem with its path in one error', () => {
    const bad = `services:
  Release_Manager:
    namespace: Production
  web:
    namespace: prod
    deployment: web
    metrics: { triggerErrorRatio: 5 }
    smokeChecks:
      - name: both
        http: { url: "http://x/health" }
        exec: { command: [smoke.sh] }
`;
    const err = caught(() => parseCatalog(bad, 'catalog.yaml'));
    expect(isCodedError(err, 'catalog_invalid')).toBe(true);
    const problems = err.details?.problems ?? [];
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^catalog\.yaml\.services\.web\.metrics\.triggerErrorRatio/),
        expect.stringMatching(/^catalog\.yaml\.services\.web\.smokeChecks\[0\].*exactly one/),
        expect.stringMatching(
          /^catalog\.yaml\.services\.Release_Manager\.namespace: must be a Kubernetes name/,
        ),
        expect.stringMatching(/^catalog\.yaml\.services\.Release_Manager\.deployment: /),
        expect.stringMatching(/^catalog\.yaml\.services\.web\.approvers: give at least one approver/),
      ]),
    );
    expect(problems.length).toBe(7);
    expect(problems[0]).toMatch(/Release_Manager: service names are lower-case/);
  });

  it('rejects broken YAML and a Deployment catalogued twice', () => {
    expect(caught(() => parseCatalog('services: [oops', 'c.yaml')).message).toMatch(
      /c\.yaml is not valid YAML at line 1/,
    );
    const twice =
      'services:\n  a: {namespace: p, deployment: d, approvers: {users: [U1]}}\n  b: {namespace: p, deployment: d, approvers: {users: [U1]}}\n';
    expect(caught(() => parseCatalog(twice)).message).toMatch(/Deployment p\/d is already catalogued as "a"/);
  });
});

describe('environment', () => {
  it('names every missing or bad variable at once', () => {
    const err = caught(() =>
      loadEnv({ SLACK_BOT_TOKEN: 'xoxp-wrong', PROMETHEUS_URL: 'not a url' }, ['redis', 'slack']),
    );
    expect(isCodedError(err, 'config_invalid')).toBe(true);
    const text = err.message;
    expect(text).toMatch(/env\.SLACK_BOT_TOKEN: must be a bot token starting with xoxb-/);
    expect(text).toMatch(/env\.PROMETHEUS_URL/);
    expect(text).toMatch(/env\.REDIS_URL: required/);
    expect(text).toMatch(/SLACK_APP_TOKEN or env\.SLACK_SIGNING_SECRET/);
  });
  it('accepts a complete environment with defaults', () => {
    const env = loadEnv(
      { REDIS_URL: 'redis://127.0.0.1:6379', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' },
      ['redis', 'slack'],
    );
    expect(env.PORT).toBe(8080);
    expect(env.CATALOG_PATH).toBe('manifests/catalog.yaml');
  });
  it('pins the Slack team and app only when asked, and checks the ids', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    const unpinned = loadEnv({ ...base, SLACK_TEAM_ID: '', SLACK_APP_ID: '' });
    expect(unpinned.SLACK_TEAM_ID).toBeUndefined();
    expect(unpinned.SLACK_APP_ID).toBeUndefined();
    const pinned = loadEnv({ ...base, SLACK_TEAM_ID: 'T0EMULATED', SLACK_APP_ID: 'A0EMULATED' });
    expect(pinned).toMatchObject({ SLACK_TEAM_ID: 'T0EMULATED', SLACK_APP_ID: 'A0EMULATED' });
    expect(loadEnv({ ...base, SLACK_TEAM_ID: 'E0ORG' }).SLACK_TEAM_ID).toBe('E0ORG');
    const err = caught(() => loadEnv({ ...base, SLACK_TEAM_ID: 'workspace', SLACK_APP_ID: 'T0X' }));
    expect(err.message).toMatch(/env\.SLACK_TEAM_ID: must be a Slack team id/);
    expect(err.message).toMatch(/env\.SLACK_APP_ID: must be a Slack app id/);
  });
});
