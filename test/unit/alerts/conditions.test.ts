import { describe, expect, it } from 'vitest';
import {
  createRestartTracker,
  currentRevisionPods,
  evaluateConditions,
  type PodView,
  readinessDeadlineMs,
  toPodView,
} from '../../../src/alerts/conditions.js';
import type { DeploymentSnapshot } from '../../../src/rollback/kube-types.js';

const d = (reason?: string): DeploymentSnapshot => ({
  kind: 'Deployment',
  labels: {},
  strategy: { type: 'RollingUpdate', rollingUpdate: true },
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

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const at = (s: number) => new Date(T0 + s * 1000);
const iso = (s: number) => at(s).toISOString();

/** A pod as the apiserver returns it (the shape KWOK and the kubelet write). */
function rawPod(
  name: string,
  o: {
    hash?: string;
    ready?: boolean;
    waiting?: string;
    restarts?: number;
    createdAt?: number;
    startedAt?: number;
    unreadySince?: number;
    probe?: Record<string, number> | null;
  } = {},
) {
  const probe =
    o.probe === null
      ? undefined
      : (o.probe ?? { initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 2 });
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      namespace: 'production',
      creationTimestamp: iso(o.createdAt ?? -3600),
      labels: { app: 'release-manager', 'pod-template-hash': o.hash ?? 'new' },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.test/release-manager:v2',
          ...(probe ? { readinessProbe: { httpGet: { path: '/ready', port: 8080 }, ...probe } } : {}),
        },
      ],
    },
    status: {
      phase: 'Running',
      startTime: iso(o.startedAt ?? o.createdAt ?? -3600),
      conditions: [
        {
          type: 'Ready',
          status: o.ready === false ? 'False' : 'True',
          lastTransitionTime: iso(o.unreadySince ?? o.startedAt ?? o.createdAt ?? -3600),
        },
      ],
      containerStatuses: [
        {
          name: 'app',
          ready: o.ready !== false,
          restartCount: o.restarts ?? 0,
          state: o.waiting
            ? { waiting: { reason: o.waiting } }
            : { running: { startedAt: iso(o.startedAt ?? -3600) } },
        },
      ],
    },
  };
}
const pod = (name: string, o: Parameters<typeof rawPod>[1] = {}) => toPodView(rawPod(name, o));

const settings = { restartCount: 3, restartWindowSeconds: 600, readinessGraceSeconds: 20 };
const firing = (cs: ReturnType<typeof evaluateConditions>) => cs.filter((c) => c.firing).map((c) => c.name);

function evaluator(startedAt = 0) {
  const restarts = createRestartTracker(at(startedAt).getTime());
  return (now: number, pods: PodView[], deployment = d()) =>
    evaluateConditions({ deployment, pods, now: at(now), settings, restarts });
}

describe('crash loop of the current revision', () => {
  it('fires only when every pod of the current revision crash-loops', () => {
    const ev = evaluator();
    expect(firing(ev(0, [pod('a', { waiting: 'CrashLoopBackOff' }), pod('b')]))).not.toContain(
      'CrashLoopBackOff',
    );
    expect(
      firing(ev(1, [pod('a', { waiting: 'CrashLoopBackOff' }), pod('b', { waiting: 'CrashLoopBackOff' })])),
    ).toContain('CrashLoopBackOff');
    expect(firing(ev(2, []))).not.toContain('CrashLoopBackOff');
  });

  it('mid-rollout: one new crash-looping pod beside three old ready ones is a crash loop of the current revision', () => {
    const all = [
      pod('old-1', { hash: 'old' }),
      pod('old-2', { hash: 'old' }),
      pod('old-3', { hash: 'old' }),
      pod('new-1', { hash: 'new', waiting: 'CrashLoopBackOff', ready: false, createdAt: -30 }),
    ];
    const current = currentRevisionPods(all, 'new');
    expect(current.map((p) => p.name)).toEqual(['new-1']);
    expect(firing(evaluator()(0, current))).toContain('CrashLoopBackOff');
    // Without a known current ReplicaSet nothing is judged (never the old pods).
    expect(currentRevisionPods(all, undefined)).toEqual([]);
  });
});

describe('readiness, against each pod own probe budget', () => {
  it('reads the probe from the pod spec, with the procedure default when there is none', () => {
    const p = pod('a', { ready: false, createdAt: 0, startedAt: 1, unreadySince: 1 });
    expect(readinessDeadlineMs(p, 20)).toBe(at(1 + 10 + 2 * 5).getTime());
    const none = pod('b', { ready: false, createdAt: 0, startedAt: 1, unreadySince: 1, probe: null });
    expect(readinessDeadlineMs(none, 20)).toBe(at(21).getTime());
    const slow = pod('c', {
      ready: false,
      createdAt: 0,
      startedAt: 0,
      probe: { initialDelaySeconds: 60, periodSeconds: 10, failureThreshold: 3 },
    });
    expect(readinessDeadlineMs(slow, 20)).toBe(at(90).getTime());
    // Kubernetes' own defaults for fields the probe leaves out: 0 + 3 × 10 s.
    const bare = pod('d', { ready: false, createdAt: 0, startedAt: 0, probe: {} });
    expect(readinessDeadlineMs(bare, 20)).toBe(at(30).getTime());
  });

  it('does not fire for a slow-starting pod still inside its budget, fires once past it', () => {
    const ev = evaluator();
    const slow = (ready: boolean) =>
      pod('a', {
        ready,
        createdAt: 0,
        startedAt: 0,
        probe: { initialDelaySeconds: 60, periodSeconds: 10, failureThreshold: 3 },
      });
    expect(firing(ev(30, [slow(false)]))).not.toContain('ReadinessFailing');
    expect(firing(ev(89, [slow(false)]))).not.toContain('ReadinessFailing');
    expect(firing(ev(85, [slow(true)]))).not.toContain('ReadinessFailing');
    const c = ev(90, [slow(false)]).find((x) => x.name === 'ReadinessFailing');
    expect(c?.firing).toBe(true);
    expect(c?.since).toBe(iso(90));
  });

  it('a pod that was ready and turns unready gets failureThreshold × periodSeconds from then', () => {
    const ev = evaluator();
    const p = pod('a', { ready: false, createdAt: -3600, unreadySince: 100 });
    expect(firing(ev(109, [p]))).not.toContain('ReadinessFailing');
    expect(firing(ev(110, [p]))).toContain('ReadinessFailing');
  });
});

describe('restarts climbing, counted from what the bot saw', () => {
  it('never fires on lifetime restart counts (a healthy release with history, or a bot restart)', () => {
    const ev = evaluator(0);
    const history = [pod('a', { restarts: 1 }), pod('b', { restarts: 1 }), pod('c', { restarts: 7 })];
    expect(firing(ev(0, history))).not.toContain('RestartsClimbing');
    expect(firing(ev(60, history))).not.toContain('RestartsClimbing');
    // A second watcher (the bot restarted) baselines again.
    expect(firing(evaluator(120)(120, history))).not.toContain('RestartsClimbing');
  });

  it('one restart on each of three pods is not a restart loop', () => {
    const ev = evaluator(0);
    ev(0, [pod('a'), pod('b'), pod('c')]);
    const c = ev(30, [pod('a', { restarts: 1 }), pod('b', { restarts: 1 }), pod('c', { restarts: 1 })]);
    expect(firing(c)).not.toContain('RestartsClimbing');
  });

  it('fires at 3 increases of one container within the window, and forgets increases older than it', () => {
    const ev = evaluator(0);
    ev(0, [pod('a', { restarts: 5 })]);
    ev(10, [pod('a', { restarts: 6 })]);
    expect(firing(ev(20, [pod('a', { restarts: 7 })]))).not.toContain('RestartsClimbing');
    const c = ev(30, [pod('a', { restarts: 8 })]).find((x) => x.name === 'RestartsClimbing');
    expect(c?.firing).toBe(true);
    expect(c?.value).toBe('3');
    expect(c?.since).toBe(iso(10));
    expect(firing(ev(615, [pod('a', { restarts: 8 })]))).not.toContain('RestartsClimbing');
  });

  it('counts from 0 for a pod created after the watcher started (its whole life was watched)', () => {
    const ev = evaluator(0);
    const c = ev(40, [pod('n', { createdAt: 5, restarts: 3, waiting: 'CrashLoopBackOff', ready: false })]);
    expect(firing(c)).toContain('RestartsClimbing');
  });
});

describe('rollout stuck', () => {
  it('fires ProgressDeadlineExceeded only once the controller observed the current generation', () => {
    const ev = evaluator();
    expect(firing(ev(0, [], d('ProgressDeadlineExceeded')))).toContain('ProgressDeadlineExceeded');
    const stale = { ...d('ProgressDeadlineExceeded'), generation: 3 };
    expect(firing(ev(1, [], stale))).not.toContain('ProgressDeadlineExceeded');
  });
});
