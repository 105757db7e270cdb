// A realistic finished rollback of release-manager: the size of what a real assessment, verification
// and report hold (5 pods, 3 pods' error lines, 10 warning events, 10 revisions, an 8-check
// verification, a ~4 KB report). `scale` multiplies the lists, for records that must be cut.
import type { Assessment, Rollback } from '../../../src/rollback/model.js';

const at = '2026-01-15T10:00:00.000Z';

export function buildAssessment(scale = 1, lineChars = 160): Assessment {
  const pods = Array.from({ length: 5 * scale }, (_, i) => ({
    name: `release-manager-prod-7d9f8c6b5-${String(i).padStart(5, 'x')}`,
    phase: 'Running',
    ready: i % 2 === 0,
    nodeName: `node-${i % 3}`,
    images: ['registry.example.com/release-manager:v2024.01.15'],
    podTemplateHash: '7d9f8c6b5',
    deleting: false,
    containers: [
      {
        name: 'app',
        ready: i % 2 === 0,
        running: i % 2 === 0,
        restartCount: i,
        waitingReason: i % 2 ? 'CrashLoopBackOff' : undefined,
        exitCode: undefined,
        terminatedReason: undefined,
        lastTerminatedReason: i % 2 ? 'Error' : undefined,
      },
    ],
  }));
  // Log lines as varied as real ones (ids, durations, paths), so compression is not flattered.
  let seed = 0x2545f491 ^ (scale * 7919 + lineChars);
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0).toString(16);
  };
  const errors = [
    'psycopg2.OperationalError: could not connect to server: Connection refused',
    'TimeoutError: upstream release-store did not answer within 5000 ms',
    'KeyError: release_channel',
    'sqlalchemy.exc.ProgrammingError: column releases.rollout_group does not exist',
    'ValueError: invalid literal for int() with base 10',
  ];
  const line = (p: number, n: number) => {
    const head = `2026-01-15T09:59:${String(n % 60).padStart(2, '0')}.${rand().slice(0, 3)}Z ERROR [release-manager] pod=${p} ${errors[n % errors.length]} request_id=${rand()}${rand()} path=/api/v1/releases/${rand()} duration_ms=${rand().slice(0, 4)}`;
    let out = head;
    while (out.length < lineChars) out += ` ${rand()}`;
    return out.slice(0, lineChars);
  };
  return {
    at,
    deployment: {
      ok: true,
      ms: 12,
      value: {
        generation: 14,
        uid: '5b0d1c3e-9f1a-4c55-a7e2-3f1d2c4b5a69',
        // A realistic pod template (kept for the re-check before the undo): labels, annotations,
        // one container with env, resources, probes and mounts.
        template: {
          metadata: {
            labels: { app: 'release-manager', tier: 'api' },
            annotations: {
              'release-manager.example.com/alembic-head': 'bbb222',
              'kubectl.kubernetes.io/restartedAt': at,
            },
          },
          spec: {
            containers: [
              {
                name: 'app',
                image: 'registry.example.com/release-manager:v2024.01.15',
                args: ['serve', '--port=8080'],
                env: Array.from({ length: 12 }, (_, k) => ({
                  name: `SETTING_${k}`,
                  value: `value-${k}-${scale}`,
                })),
                resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
                readinessProbe: {
                  httpGet: { path: '/ready', port: 8080 },
                  initialDelaySeconds: 10,
                  periodSeconds: 5,
                  failureThreshold: 2,
                },
                livenessProbe: {
                  httpGet: { path: '/health', port: 8080 },
                  initialDelaySeconds: 30,
                  periodSeconds: 10,
                  failureThreshold: 3,
                },
                volumeMounts: [{ name: 'config', mountPath: '/etc/release-manager' }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'release-manager-config' } }],
          },
        },
        replicas: 5,
        updated: 5,
        ready: 3,
        available: 3,
        paused: false,
        conditions: [
          {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
          },
          {
            type: 'Progressing',
            status: 'True',
            reason: 'NewReplicaSetAvailable',
            message: 'ReplicaSet "release-manager-prod-7d9f8c6b5" has successfully progressed.',
          },
        ],
      },
    },
    history: {
      ok: true,
      ms: 8,
      value: Array.from({ length: 10 * scale }, (_, i) => ({
        revision: i + 1,
        replicaSet: `release-manager-prod-${(1000 + i).toString(16)}`,
        images: [`registry.example.com/release-manager:v2024.01.${String(i + 1).padStart(2, '0')}`],
        changeCause: `deploy v2024.01.${i + 1} by ci (pipeline ${4000 + i})`,
        createdAt: at,
        current: i === 10 * scale - 1,
        replicas: i === 10 * scale - 1 ? 5 : 0,
        readyReplicas: i === 10 * scale - 1 ? 3 : 0,
      })),
    },
    pods: { ok: true, ms: 9, value: pods },
    events: {
      ok: true,
      ms: 10,
      value: Array.from({ length: 10 * scale }, (_, i) => ({
        type: 'Warning',
        reason: i % 2 ? 'BackOff' : 'Unhealthy',
        message:
          i % 2
            ? 'Back-off restarting failed container app in pod release-manager-prod-7d9f8c6b5-xxxx1'
            : 'Readiness probe failed: HTTP probe failed with statuscode: 503',
        object: `Pod/release-manager-prod-7d9f8c6b5-${i}`,
        count: 3 + i,
        lastSeen: at,
      })),
    },
    errorLogs: {
      ok: true,
      ms: 40,
      value: Array.from({ length: 3 * scale }, (_, p) => ({
        pod: `release-manager-prod-7d9f8c6b5-${p}`,
        lines: Array.from({ length: 20 * scale }, (_, n) => line(p, n)),
      })),
    },
    health: { ok: true, ms: 5, value: { status: 503, ms: 4 } },
    ready: { ok: true, ms: 5, value: { status: 503, ms: 4 } },
    metrics: {
      ok: true,
      ms: 30,
      value: {
        errorRatio: 0.12,
        p99Seconds: 3.4,
        baselineErrorRatio: 0.002,
        baselineP99Seconds: 0.41,
        baselineAt: at,
        errorRatioQuery:
          'sum(rate(http_requests_total{namespace="production",deployment="release-manager-prod",code=~"5.."}[2m])) / sum(rate(http_requests_total{namespace="production",deployment="release-manager-prod"}[2m]))',
        p99Query:
          'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="production",deployment="release-manager-prod"}[2m])))',
      },
    },
    migration: {
      ok: true,
      ms: 200,
      value: {
        current: 'a1b2c3d4e5f6',
        targetHead: 'a1b2c3d4e5f6',
        currentHead: 'a1b2c3d4e5f6',
        ahead: false,
        command: ['alembic', 'current'],
      },
    },
    from: {
      revision: 10,
      replicaSet: 'release-manager-prod-7d9f8c6b5',
      images: ['registry.example.com/release-manager:v2024.01.15'],
      changeCause: 'deploy v2024.01.15 by ci',
      createdAt: at,
    },
    target: {
      revision: 9,
      replicaSet: 'release-manager-prod-6c8e7b5a4',
      images: ['registry.example.com/release-manager:v2024.01.14'],
      changeCause: 'deploy v2024.01.14 by ci',
      createdAt: at,
      reason: 'the revision before the current template (kubectl rollout undo)',
    },
    targetError: undefined,
    findings: [
      '2 of 5 pod(s) not ready, 10 restart(s) in all; 2 in CrashLoopBackOff',
      '60 ERROR line(s) in the logs of 3 pod(s)',
      'error rate 12.00% (baseline 0.20%, threshold 5%)',
      'p99 3.400 s (baseline 0.410 s, threshold 2 s)',
      'target: revision 9 (registry.example.com/release-manager:v2024.01.14), the revision before the current one',
    ],
  };
}

export function buildRollback(id: string, o: Partial<Rollback> = {}, scale = 1): Rollback {
  const report = [
    '# Incident Report: Rollback of release-manager revision 10',
    '',
    ...Array.from(
      { length: 40 },
      (_, i) =>
        `- **2026-01-15 10:${String(i).padStart(2, '0')}:00 UTC**: step ${i} of the rollback, with its evidence and who did it`,
    ),
  ].join('\n');
  return {
    id,
    service: 'release-manager',
    namespace: 'production',
    deployment: 'release-manager-prod',
    state: 'completed',
    version: 1,
    mode: 'manual',
    dryRun: false,
    toRevision: 0,
    reason: 'error rate above 5% since the 10:00 release',
    requestedBy: { kind: 'user', id: 'U0SRE00001', name: 'alice' },
    requestedAt: at,
    updatedAt: at,
    assessment: buildAssessment(scale),
    approvals: [{ by: { kind: 'user', id: 'U0SRE00002', name: 'bob' }, at }],
    decision: { event: 'approve', by: { kind: 'user', id: 'U0SRE00002', name: 'bob' }, at },
    undo: {
      outcome: 'patched',
      at,
      generation: 15,
      rollout: {
        state: 'complete',
        message: 'deployment "release-manager-prod" successfully rolled out',
        at,
        durationMs: 42_000,
      },
    },
    verification: {
      at,
      passed: true,
      checks: Array.from({ length: 8 }, (_, i) => ({
        name: `check-${i}`,
        passed: true,
        evidence: {
          source: `GET http://release-manager.production.svc:8080/health (${i})`,
          value: '200 in 4 ms',
          threshold: '200',
        },
      })),
    },
    report,
    thread: { channel: 'C0INCIDENTS', ts: '1736935200.000100' },
    ...o,
  };
}
