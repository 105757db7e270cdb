import { describe, expect, it } from 'vitest';
import type { DeploymentSnapshot } from '../../../src/rollback/kube-types.js';
import { rolloutStatus } from '../../../src/rollback/rollout-status.js';

function d(
  status: Partial<DeploymentSnapshot['status']>,
  o: Partial<DeploymentSnapshot> = {},
): DeploymentSnapshot {
  return {
    kind: 'Deployment',
    labels: {},
    strategy: { type: 'RollingUpdate', rollingUpdate: true },
    namespace: 'ns',
    name: 'web',
    uid: 'u',
    resourceVersion: '1',
    generation: 2,
    annotations: {},
    selector: '',
    paused: false,
    replicas: 3,
    template: {},
    status: {
      observedGeneration: 2,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      unavailableReplicas: 0,
      conditions: [],
      ...status,
    },
    ...o,
  };
}

describe('rolloutStatus (kubectl rollout status)', () => {
  it('waits for the spec to be observed first', () => {
    expect(rolloutStatus(d({ observedGeneration: 1 }))).toEqual({
      state: 'waiting',
      message: 'Waiting for deployment spec update to be observed...',
    });
  });
  it("reports kubectl's three waiting messages in order", () => {
    expect(rolloutStatus(d({ updatedReplicas: 1 })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    );
    expect(rolloutStatus(d({ replicas: 4 })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
    );
    expect(rolloutStatus(d({ availableReplicas: 2 })).message).toBe(
      'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
    );
  });
  it('is done when all replicas are updated and available', () => {
    expect(rolloutStatus(d({}))).toEqual({
      state: 'done',
      message: 'deployment "web" successfully rolled out',
    });
  });
  const pde = {
    type: 'Progressing',
    status: 'False',
    reason: 'ProgressDeadlineExceeded',
    lastUpdateTime: '2026-01-01T10:00:00Z',
  };
  it('fails on ProgressDeadlineExceeded', () => {
    expect(rolloutStatus(d({ conditions: [pde], availableReplicas: 1 }))).toMatchObject({
      state: 'failed',
      message: 'deployment "web" exceeded its progress deadline',
    });
  });
  it('treats a deadline condition older than our undo as stale (documented deviation)', () => {
    const s = rolloutStatus(d({ conditions: [pde], availableReplicas: 1 }), {
      staleDeadlineBefore: new Date('2026-01-01T10:05:00Z'),
    });
    expect(s.state).toBe('waiting');
    const fresh = rolloutStatus(d({ conditions: [pde] }), {
      staleDeadlineBefore: new Date('2026-01-01T09:55:00Z'),
    });
    expect(fresh.state).toBe('failed');
  });
});
