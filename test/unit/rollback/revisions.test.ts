import { describe, expect, it } from 'vitest';
import { isCodedError } from '../../../src/errors.js';
import type { DeploymentSnapshot, JsonObject, ReplicaSetSnapshot } from '../../../src/rollback/kube-types.js';
import {
  buildHistory,
  chooseTarget,
  equalIgnoreHash,
  planUndo,
  semanticEqual,
} from '../../../src/rollback/revisions.js';

const tpl = (image: string, hash?: string, extra: JsonObject = {}): JsonObject => ({
  metadata: { labels: { app: 'x', ...(hash ? { 'pod-template-hash': hash } : {}) } },
  spec: { containers: [{ name: 'app', image }], ...extra },
});

function deployment(template: JsonObject, o: Partial<DeploymentSnapshot> = {}): DeploymentSnapshot {
  return {
    kind: 'Deployment',
    labels: {},
    strategy: { type: 'RollingUpdate', rollingUpdate: true },
    namespace: 'ns',
    name: 'd',
    uid: 'uid-d',
    resourceVersion: '1',
    generation: 1,
    annotations: {
      'deployment.kubernetes.io/revision': '3',
      'kubernetes.io/change-cause': 'v3',
      'team.example.com/owner': 'sre',
    },
    selector: 'app=x',
    paused: false,
    replicas: 3,
    template,
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

let n = 0;
function rs(
  revision: string | undefined,
  image: string,
  o: Partial<ReplicaSetSnapshot> = {},
): ReplicaSetSnapshot {
  n += 1;
  return {
    name: `d-${image.replace(/\W/g, '')}`,
    uid: `uid-${n}`,
    controllerUid: 'uid-d',
    creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
    annotations: {
      ...(revision === undefined ? {} : { 'deployment.kubernetes.io/revision': revision }),
      'kubernetes.io/change-cause': image,
    },
    template: tpl(image, `h${n}`),
    replicas: 0,
    readyReplicas: 0,
    availableReplicas: 0,
    ...o,
  };
}

describe('semanticEqual', () => {
  it('treats null, empty and missing alike but not different values', () => {
    expect(semanticEqual({ a: [], b: {}, c: null }, {})).toBe(true);
    expect(semanticEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(semanticEqual({ a: '1' }, { a: 1 })).toBe(false);
  });
  it('ignores only the pod-template-hash label', () => {
    expect(equalIgnoreHash(tpl('i', 'h1'), tpl('i', 'h2'))).toBe(true);
    expect(equalIgnoreHash(tpl('i', 'h1'), tpl('j', 'h1'))).toBe(false);
  });
});

describe('chooseTarget (kubectl deploymentRevision)', () => {
  const sets = [rs('1', 'v1'), rs('2', 'v2'), rs('3', 'v3')];
  const d = deployment(tpl('v3'));

  it('defaults to the second-highest revision number', () => {
    expect(chooseTarget(d, sets).revision).toBe(2);
  });
  it('picks by number, not by "the one before current"', () => {
    // The template matches revision 1 (rolled back earlier, not yet renumbered): "previous" is still 2.
    const t = chooseTarget(deployment(tpl('v1')), sets);
    expect(t.revision).toBe(2);
  });
  it('skips an unparsable revision; a missing one counts as 0, which strict comparison never picks by default', () => {
    const odd = [rs(undefined, 'v0'), rs('x', 'vx'), rs('4', 'v4'), rs('5', 'v5')];
    expect(chooseTarget(deployment(tpl('v5')), odd).replicaSet.name).toBe('d-v4');
    expect(() =>
      chooseTarget(deployment(tpl('v5')), [rs(undefined, 'v0'), rs('x', 'vx'), rs('5', 'v5')]),
    ).toThrow(/no rollout history/);
  });
  it('ignores ReplicaSets another controller owns', () => {
    const foreign = [rs('1', 'v1'), rs('9', 'v9', { controllerUid: 'someone-else' }), rs('3', 'v3')];
    expect(chooseTarget(d, foreign).revision).toBe(1);
  });
  it('fails like kubectl for a missing revision or a single revision', () => {
    let missing: unknown;
    try {
      chooseTarget(d, sets, 7);
    } catch (e) {
      missing = e;
    }
    expect(isCodedError(missing, 'rollback_revision_not_found')).toBe(true);
    expect((missing as Error).message).toBe('unable to find specified revision 7 in history');
    expect(() => chooseTarget(d, [rs('1', 'v3')])).toThrow('no rollout history found for deployment "d"');
  });
});

describe('planUndo', () => {
  const sets = [rs('1', 'v1'), rs('2', 'v2'), rs('3', 'v3')];

  it('strips the hash label and replaces annotations, keeping only the skip list from the Deployment', () => {
    const d = deployment(tpl('v3'), {
      annotations: {
        'deployment.kubernetes.io/revision': '3',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
        'team.example.com/owner': 'sre',
      },
    });
    const plan = planUndo(d, sets);
    if (plan.kind !== 'patch' || plan.patch.type !== 'replace-template') throw new Error('expected a patch');
    expect(plan.patch.template).toEqual(tpl('v2'));
    expect(plan.patch.annotations).toEqual({
      'deployment.kubernetes.io/revision': '3',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
      'kubernetes.io/change-cause': 'v2',
    });
  });
  it("skips with kubectl's message when already at the target", () => {
    const plan = planUndo(deployment(tpl('v2')), sets, 2);
    expect(plan).toMatchObject({
      kind: 'skip',
      message: 'skipped rollback (current template already matches revision 2)',
    });
  });
  it('refuses a paused Deployment', () => {
    expect(() => planUndo(deployment(tpl('v3'), { paused: true }), sets)).toThrow(
      /cannot rollback a paused deployment/,
    );
  });
});

describe('buildHistory', () => {
  it('lists revisions ascending and marks the current one', () => {
    const h = buildHistory(deployment(tpl('v2')), [rs('3', 'v3'), rs('1', 'v1'), rs('2', 'v2')]);
    expect(h.map((x) => [x.revision, x.current])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
  });
});
