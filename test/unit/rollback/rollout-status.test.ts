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

function sts(
  status: Partial<DeploymentSnapshot['status']>,
  o: Partial<DeploymentSnapshot> = {},
): DeploymentSnapshot {
  return d(
    { currentRevision: 'web-a', updateRevision: 'web-b', currentReplicas: 0, ...status },
    { kind: 'StatefulSet', strategy: { type: 'RollingUpdate', rollingUpdate: true, partition: 0 }, ...o },
  );
}

describe('rolloutStatus for a StatefulSet (kubectl StatefulSetStatusViewer)', () => {
  it('waits for the spec to be observed, observedGeneration 0 included', () => {
    for (const observedGeneration of [0, 1]) {
      expect(rolloutStatus(sts({ observedGeneration }))).toEqual({
        state: 'waiting',
        message: 'Waiting for statefulset spec update to be observed...',
      });
    }
    expect(rolloutStatus(sts({ observedGeneration: 0 }, { generation: 0 })).state).toBe('waiting');
  });
  it('waits for Ready pods (not Available) against spec.replicas', () => {
    expect(rolloutStatus(sts({ readyReplicas: 1, availableReplicas: 3 })).message).toBe(
      'Waiting for 2 pods to be ready...',
    );
    expect(rolloutStatus(sts({ availableReplicas: 0 })).state).toBe('done');
  });
  it('holds back the partition: done once replicas - partition pods are updated', () => {
    const p = { type: 'RollingUpdate', rollingUpdate: true, partition: 2 };
    expect(rolloutStatus(sts({ updatedReplicas: 0 }, { strategy: p }))).toEqual({
      state: 'waiting',
      message: 'Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated...',
    });
    expect(rolloutStatus(sts({ updatedReplicas: 1 }, { strategy: p }))).toEqual({
      state: 'done',
      message: 'partitioned roll out complete: 1 new pods have been updated...',
    });
    // With rollingUpdate set, kubectl never looks at the revisions (even with partition 0).
    expect(rolloutStatus(sts({ updatedReplicas: 3 })).state).toBe('done');
  });
  it('skips the partition check when kubectl would (partition or replicas unset)', () => {
    const noPartition = { type: 'RollingUpdate', rollingUpdate: true };
    expect(rolloutStatus(sts({ updatedReplicas: 0 }, { strategy: noPartition })).state).toBe('done');
    expect(rolloutStatus(sts({ updatedReplicas: 0, readyReplicas: 0 }, { replicas: undefined })).state).toBe(
      'done',
    );
  });
  it('without rollingUpdate, waits for updateRevision to become currentRevision', () => {
    const bare = { type: 'RollingUpdate', rollingUpdate: false };
    expect(rolloutStatus(sts({ updatedReplicas: 3 }, { strategy: bare }))).toEqual({
      state: 'waiting',
      message: 'waiting for statefulset rolling update to complete 3 pods at revision web-b...',
    });
    expect(rolloutStatus(sts({ currentRevision: 'web-b', currentReplicas: 3 }, { strategy: bare }))).toEqual({
      state: 'done',
      message: 'statefulset rolling update complete 3 pods at revision web-b...',
    });
  });
  it('OnDelete (kubectl refuses): waits until every pod is Ready on the update revision, saying to delete pods', () => {
    const onDelete = { type: 'OnDelete', rollingUpdate: false };
    const waiting = rolloutStatus(sts({ updatedReplicas: 1 }, { strategy: onDelete }));
    expect(waiting).toEqual({
      state: 'waiting',
      message:
        'Waiting for 2 of 3 pods to be re-created at revision web-b: the update strategy is OnDelete, so someone must delete the old pods (the bot does not)...',
    });
    expect(rolloutStatus(sts({ updatedReplicas: 3, readyReplicas: 2 }, { strategy: onDelete })).message).toBe(
      'Waiting for 1 pods to be ready...',
    );
    // The controller never advances currentRevision for OnDelete: done does not wait for it.
    expect(rolloutStatus(sts({ updatedReplicas: 3 }, { strategy: onDelete }))).toEqual({
      state: 'done',
      message: 'statefulset rolling update complete 3 pods at revision web-b...',
    });
  });
});

function ds(
  status: Partial<DeploymentSnapshot['status']>,
  o: Partial<DeploymentSnapshot> = {},
): DeploymentSnapshot {
  return d(
    {
      desiredNumberScheduled: 2,
      currentNumberScheduled: 2,
      updatedNumberScheduled: 2,
      numberAvailable: 2,
      numberReady: 2,
      ...status,
    },
    { kind: 'DaemonSet', name: 'agent', replicas: undefined, ...o },
  );
}

describe('rolloutStatus for a DaemonSet (kubectl DaemonSetStatusViewer)', () => {
  it('waits for the spec, then updated, then available pods', () => {
    expect(rolloutStatus(ds({ observedGeneration: 1 })).message).toBe(
      'Waiting for daemon set spec update to be observed...',
    );
    expect(rolloutStatus(ds({ updatedNumberScheduled: 1 })).message).toBe(
      'Waiting for daemon set "agent" rollout to finish: 1 out of 2 new pods have been updated...',
    );
    expect(rolloutStatus(ds({ numberAvailable: 1 })).message).toBe(
      'Waiting for daemon set "agent" rollout to finish: 1 of 2 updated pods are available...',
    );
    expect(rolloutStatus(ds({}))).toEqual({
      state: 'done',
      message: 'daemon set "agent" successfully rolled out',
    });
  });
  it('OnDelete (kubectl refuses): the same conditions, saying pods must be deleted', () => {
    const onDelete = { strategy: { type: 'OnDelete', rollingUpdate: false } };
    expect(rolloutStatus(ds({ updatedNumberScheduled: 0 }, onDelete)).message).toBe(
      'Waiting for daemon set "agent" rollout to finish: 0 out of 2 new pods have been updated; the update strategy is OnDelete, so someone must delete the old pods (the bot does not)...',
    );
    expect(rolloutStatus(ds({}, onDelete)).state).toBe('done');
  });
});
