// StatefulSet and DaemonSet history, target and skip as kubectl's rollbackers and the controllers have
// them (kubectl pkg/polymorphichelpers/rollback.go, history.go; kubernetes pkg/controller/history,
// statefulset, daemon). The twin test against kubectl itself is test/integration/kube-undo-workloads.test.ts.
import { describe, expect, it } from 'vitest';
import { isCodedError } from '../../../src/errors.js';
import type {
  JsonObject,
  ReplicaSetSnapshot,
  WorkloadKind,
  WorkloadSnapshot,
} from '../../../src/rollback/kube-types.js';
import {
  atRevision,
  buildHistory,
  chooseTarget,
  findNewReplicaSet,
  jsonEqual,
  ownedReplicaSets,
  planUndo,
  podHashOf,
  revisionDataOf,
  templateAfterUndo,
} from '../../../src/rollback/revisions.js';

/** A template as the apiserver returns it: defaulted fields, keys in struct order. */
const tpl = (image: string, labels: Record<string, string> = { app: 'x' }): JsonObject => ({
  metadata: { labels },
  spec: {
    containers: [
      {
        name: 'app',
        image,
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    securityContext: {},
    schedulerName: 'default-scheduler',
  },
});

function workload(
  kind: WorkloadKind,
  template: JsonObject,
  o: Partial<WorkloadSnapshot> = {},
): WorkloadSnapshot {
  return {
    kind,
    namespace: 'ns',
    name: 'w',
    uid: 'uid-w',
    resourceVersion: '1',
    generation: 1,
    annotations: {},
    labels: {},
    selector: 'app=x',
    paused: false,
    replicas: kind === 'DaemonSet' ? undefined : 3,
    template,
    strategy: { type: 'RollingUpdate', rollingUpdate: true, partition: 0 },
    status: {
      observedGeneration: 1,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      unavailableReplicas: 0,
      conditions: [],
    },
    ...o,
  };
}

/** A ControllerRevision as toControllerRevision makes it; `data` defaults to the controller's encoding. */
function cr(
  name: string,
  revision: number,
  image: string,
  o: Partial<ReplicaSetSnapshot> = {},
): ReplicaSetSnapshot {
  const template = tpl(image);
  return {
    name,
    uid: `uid-${name}`,
    controllerUid: 'uid-w',
    creationTimestamp: '2026-01-01T00:00:00Z',
    annotations: { 'kubernetes.io/change-cause': image },
    template,
    replicas: 0,
    readyReplicas: 0,
    availableReplicas: 0,
    revision,
    data: revisionDataOf(template),
    podHash: name,
    ...o,
  };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const history = [cr('w-c', 3, 'v3'), cr('w-a', 1, 'v1'), cr('w-b', 2, 'v2')];

describe.each(['StatefulSet', 'DaemonSet'] as const)('%s history (kubectl findHistory)', (kind) => {
  const w = workload(kind, tpl('v3'));

  it('is the controlled revisions by number, ties in name order; a foreign controller is not ours', () => {
    const foreign = cr('other-z', 9, 'v9', { controllerUid: 'uid-other' });
    const tie = cr('w-0', 2, 'v2b');
    expect(ownedReplicaSets(w, [...history, foreign, tie]).map((r) => r.name)).toEqual([
      'w-a',
      'w-0',
      'w-b',
      'w-c',
    ]);
    expect(chooseTarget(w, [...history, foreign]).revision).toBe(2);
  });
  it('defaults to the second from the end of the sorted list, a duplicate number included', () => {
    // kubectl takes allHistory[len-2], not "the highest number below the highest".
    const dup = [cr('w-a', 1, 'v1'), cr('w-b', 3, 'v2'), cr('w-c', 3, 'v3')];
    const t = chooseTarget(w, dup);
    expect([t.revision, t.replicaSet.name]).toEqual([3, 'w-b']);
    expect(chooseTarget(w, [cr('w-a', 1, 'v1'), cr('w-b', 1, 'v3')]).replicaSet.name).toBe('w-a');
  });
  it('fails like kubectl with at most one revision, a missing or a negative one', () => {
    for (const sets of [[], [cr('w-c', 3, 'v3')]]) {
      const err = thrown(() => chooseTarget(w, sets));
      expect(isCodedError(err, 'rollback_no_history')).toBe(true);
      expect((err as Error).message).toBe('no last revision to roll back to');
    }
    expect(() => chooseTarget(w, history, 7)).toThrow('unable to find specified revision 7 in history');
    expect(() => chooseTarget(w, history, -1)).toThrow('unable to find specified revision -1 in history');
    expect(() => chooseTarget(w, [cr('w-c', 3, 'v3')], 3)).not.toThrow();
  });
  it('patches with the revision data as it is, leaving annotations alone', () => {
    const plan = planUndo(w, history);
    if (plan.kind !== 'patch' || plan.patch.type !== 'strategic-merge') throw new Error('expected a patch');
    expect(plan.patch.data).toBe(history[2]?.data);
    expect(plan.target.replicaSet.name).toBe('w-b');
  });
  it('skips printing the requested number, 0 for the default target', () => {
    // The template matches revision 2, the default target (the controller has not renumbered yet).
    expect(planUndo(workload(kind, tpl('v2')), history)).toMatchObject({
      kind: 'skip',
      message: 'skipped rollback (current template already matches revision 0)',
    });
    expect(planUndo(w, history, 3)).toMatchObject({
      kind: 'skip',
      message: 'skipped rollback (current template already matches revision 3)',
    });
  });
  it('numbers one entry per revision, the last by name winning, and marks the current one', () => {
    const h = buildHistory(w, [...history, cr('w-d', 1, 'v1b')]);
    expect(h.map((x) => [x.revision, x.replicaSet, x.current])).toEqual([
      [1, 'w-d', false],
      [2, 'w-b', false],
      [3, 'w-c', true],
    ]);
  });
});

describe('the skip check (kubectl compares the encoded template with the revision data)', () => {
  const w = workload('StatefulSet', tpl('v1', { z: '1', app: 'x', a: '2' }));
  const rev = cr('w-a', 1, 'v1', { data: revisionDataOf(tpl('v1', { a: '2', app: 'x', z: '1' })) });

  it('ignores key order (Go sorts map keys on both sides)', () => {
    expect(atRevision(w, rev)).toBe(true);
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
  });
  it('tells null, {} and [] from a missing key, as bytes do', () => {
    expect(jsonEqual({ a: {} }, {})).toBe(false);
    expect(jsonEqual({ a: null }, {})).toBe(false);
    expect(jsonEqual({ a: [] }, { a: {} })).toBe(false);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: '1' }, { a: 1 })).toBe(false);
    // A template the apiserver encoded before 1.34 carried metadata.creationTimestamp: null.
    const old = structuredClone(rev);
    (old.data as { spec: { template: { metadata: JsonObject } } }).spec.template.metadata.creationTimestamp =
      null;
    expect(atRevision(w, old)).toBe(false);
  });
  it('compares the whole data, so data beyond spec.template never matches', () => {
    const extra = cr('w-a', 1, 'v1', { data: { ...revisionDataOf(tpl('v1')), metadata: { labels: {} } } });
    expect(atRevision(workload('DaemonSet', tpl('v1')), extra)).toBe(false);
  });
  it('keeps a StatefulSet template, labels included, when restoring it', () => {
    const withHashLabel = cr('w-a', 1, 'v1', { template: tpl('v1', { app: 'x', 'pod-template-hash': 'h' }) });
    expect(templateAfterUndo(withHashLabel)).toEqual(tpl('v1', { app: 'x', 'pod-template-hash': 'h' }));
  });
});

describe('findNewReplicaSet for ControllerRevisions', () => {
  it("takes a StatefulSet's status.updateRevision once the spec is observed", () => {
    const sts = workload('StatefulSet', tpl('v3'), {
      status: { ...workload('StatefulSet', {}).status, updateRevision: 'w-b' },
    });
    expect(findNewReplicaSet(sts, history)?.name).toBe('w-b');
    const unobserved = { ...sts, generation: 2 };
    expect(findNewReplicaSet(unobserved, history)?.name).toBe('w-c');
  });
  it('otherwise the highest-numbered revision with equal data (the controllers renumber a re-used one)', () => {
    // Just after an undo to v1: the old revision 1 still has its number until the controller bumps it.
    const ds = workload('DaemonSet', tpl('v1'));
    const again = [...history, cr('w-e', 4, 'v1')];
    expect(findNewReplicaSet(ds, again)?.name).toBe('w-e');
    expect(findNewReplicaSet(ds, history)?.name).toBe('w-a');
    expect(findNewReplicaSet(workload('DaemonSet', tpl('v9')), history)).toBeUndefined();
  });
  it('gives the hash label the pods carry', () => {
    expect(podHashOf(cr('w-a', 1, 'v1', { podHash: 'abc' }))).toBe('abc');
  });
});
