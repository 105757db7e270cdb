import { describe, expect, it } from 'vitest';
import { evaluateConditions } from '../../../src/alerts/conditions.js';
import type { DeploymentSnapshot, PodSnapshot } from '../../../src/rollback/kube-types.js';

const d = (reason?: string): DeploymentSnapshot => ({
  namespace: 'p',
  name: 'd',
  uid: 'u',
  resourceVersion: '1',
  generation: 2,
  annotations: {},
  selector: 'app=x',
  paused: false,
  replicas: 3,
  template: {},
  status: {
    observedGeneration: 2,
    replicas: 4,
    updatedReplicas: 1,
    readyReplicas: 3,
    availableReplicas: 3,
    unavailableReplicas: 1,
    conditions: reason
      ? [
          {
            type: 'Progressing',
            status: 'False',
            reason,
            message: 'ReplicaSet "d-1" has timed out progressing.',
            lastUpdateTime: '2026-01-01T00:00:00Z',
          },
        ]
      : [],
  },
});

const pod = (
  name: string,
  o: { ready?: boolean; waiting?: string; restarts?: number } = {},
): PodSnapshot => ({
  name,
  phase: 'Running',
  ready: o.ready ?? false,
  nodeName: 'n',
  images: ['i'],
  podTemplateHash: 'h',
  deleting: false,
  containers: [
    {
      name: 'app',
      ready: o.ready ?? false,
      running: o.waiting === undefined,
      restartCount: o.restarts ?? 0,
      waitingReason: o.waiting,
      exitCode: undefined,
      terminatedReason: undefined,
      lastTerminatedReason: undefined,
    },
  ],
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const firing = (cs: ReturnType<typeof evaluateConditions>) => cs.filter((c) => c.firing).map((c) => c.name);

describe('automatic rollback conditions', () => {
  it('fires CrashLoopBackOff only when every pod of the revision crash-loops', () => {
    const base = {
      deployment: d(),
      now: at(0),
      readinessGraceSeconds: 10,
      restartThreshold: 3,
      notReadySince: new Map(),
    };
    expect(
      firing(
        evaluateConditions({
          ...base,
          pods: [pod('a', { waiting: 'CrashLoopBackOff' }), pod('b', { ready: true })],
        }),
      ),
    ).not.toContain('CrashLoopBackOff');
    expect(
      firing(
        evaluateConditions({
          ...base,
          pods: [pod('a', { waiting: 'CrashLoopBackOff' }), pod('b', { waiting: 'CrashLoopBackOff' })],
        }),
      ),
    ).toContain('CrashLoopBackOff');
    expect(firing(evaluateConditions({ ...base, pods: [] }))).not.toContain('CrashLoopBackOff');
  });
  it('fires ReadinessFailing once a pod stays unready past the grace period', () => {
    const seen = new Map<string, number>();
    const base = {
      deployment: d(),
      readinessGraceSeconds: 10,
      restartThreshold: 3,
      notReadySince: seen,
      pods: [pod('a')],
    };
    expect(firing(evaluateConditions({ ...base, now: at(0) }))).not.toContain('ReadinessFailing');
    expect(firing(evaluateConditions({ ...base, now: at(9) }))).not.toContain('ReadinessFailing');
    const c = evaluateConditions({ ...base, now: at(10) }).find((x) => x.name === 'ReadinessFailing');
    expect(c?.firing).toBe(true);
    expect(c?.since).toBe(at(0).toISOString());
    expect(
      firing(evaluateConditions({ ...base, pods: [pod('a', { ready: true })], now: at(11) })),
    ).not.toContain('ReadinessFailing');
  });
  it('fires RestartsClimbing at the liveness threshold and ProgressDeadlineExceeded when observed', () => {
    const base = { now: at(0), readinessGraceSeconds: 10, restartThreshold: 3, notReadySince: new Map() };
    expect(
      firing(evaluateConditions({ ...base, deployment: d(), pods: [pod('a', { restarts: 2 })] })),
    ).not.toContain('RestartsClimbing');
    expect(
      firing(evaluateConditions({ ...base, deployment: d(), pods: [pod('a', { restarts: 3 })] })),
    ).toContain('RestartsClimbing');
    expect(
      firing(evaluateConditions({ ...base, deployment: d('ProgressDeadlineExceeded'), pods: [] })),
    ).toContain('ProgressDeadlineExceeded');
    const stale = { ...d('ProgressDeadlineExceeded'), generation: 3 };
    expect(firing(evaluateConditions({ ...base, deployment: stale, pods: [] }))).not.toContain(
      'ProgressDeadlineExceeded',
    );
  });
});
