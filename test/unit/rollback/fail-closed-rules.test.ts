// The pure rules behind failing closed: which heads are known, what counts as a changed workload,
// the Job a downgrade runs in, and the gate's place in the state table.
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/rollback/kube-types.js';
import { headProblem, parseCurrentHead } from '../../../src/rollback/migration-heads.js';
import { buildMigrationJob, JOB_LABEL, migrationJobName } from '../../../src/rollback/migration-job.js';
import { canTransition, transition } from '../../../src/rollback/states.js';
import { describeWorkloadChange } from '../../../src/rollback/workload-change.js';

describe('migration heads', () => {
  it.each([
    ['9c2b3f1a4e5d', undefined],
    ['aaa111', undefined],
    ['', 'empty'],
    ['   ', 'empty'],
    [undefined, 'empty'],
    ['base', 'symbolic'],
    ['heads', 'symbolic'],
    ['-1', 'not a revision id'],
    ['ae10+2', 'not a revision id'],
    ['abc def', 'not a revision id'],
    ["x'; drop table alembic_version; --", 'not a revision id'],
  ])('%j → %s', (value, problem) => {
    const got = headProblem(value);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(problem);
  });

  it('reads `alembic current` output, log lines and "(head)" included, and refuses several heads or none', () => {
    expect(parseCurrentHead('9c2b3f1a4e5d (head)\n')).toEqual({ head: '9c2b3f1a4e5d' });
    expect(
      parseCurrentHead('INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\naaa111\n'),
    ).toEqual({ head: 'aaa111' });
    expect(parseCurrentHead('')).toEqual({ problem: expect.stringContaining('printed no revision') });
    expect(parseCurrentHead('aaa111 (head)\nbbb222 (head)\n')).toEqual({
      problem: expect.stringContaining('several heads'),
    });
    expect(parseCurrentHead('base\n')).toEqual({ problem: expect.stringContaining('symbolic') });
  });
});

const template = (image: string, extra: JsonObject = {}): JsonObject => ({
  metadata: { labels: { app: 'rm' }, annotations: { head: 'aaa111' } },
  spec: {
    containers: [
      {
        name: 'app',
        image,
        args: ['serve'],
        ports: [{ containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
        livenessProbe: { httpGet: { path: '/health', port: 8080 } },
        env: [{ name: 'DATABASE_URL', value: 'postgres://db' }],
      },
      { name: 'sidecar', image: 'proxy:1' },
    ],
    ...extra,
  },
});

describe('re-check before an irreversible step', () => {
  const before = { uid: 'u1', paused: false, template: template('rm:v2') };

  it('finds nothing when only replicas or status moved (they are not part of the shape)', () => {
    expect(describeWorkloadChange(before, { ...before, template: template('rm:v2') })).toEqual([]);
  });

  it('names the changed image, a pause and a re-created object', () => {
    expect(describeWorkloadChange(before, { ...before, template: template('rm:v3') })).toEqual([
      'pod template changed: template.spec.containers[0].image: rm:v2 → rm:v3',
    ]);
    expect(describeWorkloadChange(before, { ...before, paused: true })).toEqual(['it was paused']);
    expect(describeWorkloadChange(before, { ...before, uid: 'u2' })[0]).toMatch(/deleted and re-created/);
  });

  it('treats empty and missing as the same (apiserver defaulting), but not a new field', () => {
    expect(
      describeWorkloadChange(before, { ...before, template: template('rm:v2', { volumes: [] }) }),
    ).toEqual([]);
    expect(
      describeWorkloadChange(before, { ...before, template: template('rm:v2', { hostNetwork: true }) }),
    ).toEqual(['pod template changed: template.spec.hostNetwork: nothing → true']);
  });
});

describe('the migration Job', () => {
  const job = buildMigrationJob({
    name: migrationJobName('1a2b3c4d-0000-4000-8000-000000000000', 'downgrade'),
    rollbackId: '1a2b3c4d-0000-4000-8000-000000000000',
    purpose: 'downgrade',
    template: template('rm:v3-bad'),
    container: 'app',
    argv: ['alembic', 'downgrade', 'aaa111'],
    timeoutSeconds: 600,
  }) as { metadata: JsonObject; spec: { template: { metadata: JsonObject; spec: JsonObject } } & JsonObject };

  it('runs the argv with the current image, its env, no probes, never restarted, once', () => {
    const pod = job.spec.template.spec;
    const containers = pod.containers as JsonObject[];
    expect(containers).toHaveLength(1);
    expect(containers[0]).toEqual({
      name: 'app',
      image: 'rm:v3-bad',
      env: [{ name: 'DATABASE_URL', value: 'postgres://db' }],
      command: ['alembic', 'downgrade', 'aaa111'],
    });
    expect(pod.restartPolicy).toBe('Never');
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.activeDeadlineSeconds).toBe(600);
  });

  it('carries none of the workload labels, so it is never counted as one of its pods, but its annotations', () => {
    expect(job.spec.template.metadata.labels).not.toHaveProperty('app');
    expect(job.spec.template.metadata.annotations).toEqual({ head: 'aaa111' });
    expect((job.spec.template.metadata.labels as JsonObject)[JOB_LABEL]).toBe(
      '1a2b3c4d-0000-4000-8000-000000000000',
    );
    expect(job.metadata.name).toBe('rb-1a2b3c4d0000-downgrade');
  });

  it('refuses a container the template does not have', () => {
    expect(() =>
      buildMigrationJob({
        name: 'x',
        rollbackId: 'r',
        purpose: 'p',
        template: template('rm:v3'),
        container: 'migrator',
        argv: ['alembic'],
        timeoutSeconds: 1,
      }),
    ).toThrow(/no container migrator/);
  });
});

describe('the database gate in the state table', () => {
  it('lets a person skip the downgrade or cancel, and a failed downgrade go back to a person', () => {
    expect(transition('awaiting_migration_approval', 'skip_migration')).toBe('undoing');
    expect(transition('awaiting_migration_approval', 'cancel')).toBe('cancelled');
    expect(transition('migrating', 'migration_unknown')).toBe('awaiting_migration_approval');
    expect(canTransition('notifying', 'skip_migration')).toBe(false);
    expect(canTransition('awaiting_approval', 'skip_migration')).toBe(false);
  });
});
