// Proof that the test world is real: every check goes through the real apiserver, controllers, KWOK,
// Prometheus and Alertmanager. Later tests build on exactly these behaviours.
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setAlertWebhook } from '../support/alertmanager.js';
import { deploymentYaml, eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import { adminGet } from '../support/world/https-get.js';
import { startRedis } from '../support/world/services.js';

const world = inject('world');
const NS = 'production';
const NAME = 'release-manager-prod';
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';

interface PodJson {
  metadata: { name: string };
  spec: { containers: { image: string }[] };
  status: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number; state: { waiting?: { reason: string } } }[];
  };
}

async function pods(): Promise<PodJson[]> {
  const out = await kubectlOk(world, ['get', 'pods', '-n', NS, '-l', 'app=release-manager', '-o', 'json']);
  return (JSON.parse(out) as { items: PodJson[] }).items;
}

async function promQuery(q: string): Promise<number | undefined> {
  const res = await fetch(`${world.prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  const hit = body.data.result.find((r) => r.metric.deployment === NAME);
  return hit ? Number(hit.value[1]) : undefined;
}

const errorRatio = `sum by (namespace, deployment) (rate(errors_total[15s])) / sum by (namespace, deployment) (rate(requests_total[15s]))`;

interface Received {
  auth: string | undefined;
  body: {
    version: string;
    status: string;
    receiver: string;
    groupKey: string;
    alerts: {
      status: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
      startsAt: string;
      fingerprint: string;
    }[];
  };
}

describe('test world', () => {
  const received: Received[] = [];
  const token = `t-${Math.random().toString(36).slice(2)}`;
  const webhook = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => {
      received.push({ auth: req.headers.authorization, body: JSON.parse(data) as Received['body'] });
      res.writeHead(200).end();
    });
  });

  beforeAll(async () => {
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    const port = (webhook.address() as AddressInfo).port;
    await setAlertWebhook(world, `http://127.0.0.1:${port}/alerts`, token);
    await kubectlOk(world, ['create', 'namespace', NS]);
  });
  afterAll(async () => {
    webhook.close();
  });

  it('serves the version we pinned', async () => {
    const v = JSON.parse(await kubectlOk(world, ['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string };
    };
    expect(v.serverVersion.gitVersion).toBe('v1.36.3');
    const nodes = await kubectlOk(world, [
      'get',
      'nodes',
      '-o',
      'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
    ]);
    expect(nodes).toBe('True');
  });

  // The bench reads the controller-manager's own throttling and queue times from here.
  it("serves the controller-manager's /metrics under the world's CA, with its rate limiter and work queues", async () => {
    const res = await adminGet(`${world.controllerManager}/metrics`, world.pki, 5000);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^rest_client_rate_limiter_duration_seconds_count\b/m);
    expect(res.body).toMatch(/^workqueue_queue_duration_seconds_count\{[^}]*name="deployment"/m);
  });

  it('rolls a Deployment out to Ready through the real controllers', async () => {
    await eventually(
      'default service account',
      async () => (await kubectl(world, ['get', 'sa', 'default', '-n', NS])).code === 0,
    );
    await kubectlOk(
      world,
      ['apply', '-f', '-'],
      deploymentYaml({
        namespace: NS,
        name: NAME,
        app: 'release-manager',
        image: GOOD,
        changeCause: 'Release v2024.01.14',
      }),
    );
    await kubectlOk(world, ['rollout', 'status', `deployment/${NAME}`, '-n', NS, '--timeout=60s']);
    const ps = await pods();
    expect(ps).toHaveLength(3);
    for (const p of ps) expect(p.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const health = await fetch(`${world.standinUrl}/health`);
    expect(health.status).toBe(200);
  });

  it('makes a bad image crash-loop, log ERRORs and exceed its progress deadline', async () => {
    await kubectlOk(world, ['set', 'image', `deployment/${NAME}`, '-n', NS, `app=${BAD}`]);
    await kubectlOk(world, [
      'annotate',
      `deployment/${NAME}`,
      '-n',
      NS,
      '--overwrite',
      'kubernetes.io/change-cause=Release v2024.01.15',
    ]);
    const first = await eventually('a crash-looping bad pod', async () => {
      const bad = (await pods()).find((p) => p.spec.containers[0]?.image === BAD);
      const st = bad?.status.containerStatuses?.[0];
      return st?.state.waiting?.reason === 'CrashLoopBackOff'
        ? { name: bad!.metadata.name, restarts: st.restartCount }
        : undefined;
    });
    await eventually('restartCount rising', async () => {
      const p = (await pods()).find((x) => x.metadata.name === first.name);
      return (p?.status.containerStatuses?.[0]?.restartCount ?? 0) > first.restarts;
    });
    const badPod = (await pods()).find((x) => x.metadata.name === first.name);
    expect(badPod?.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');

    const logs = await eventually('logs of the bad pod', async () => {
      const r = await kubectl(world, ['logs', first.name, '-n', NS, '--tail=200']);
      return r.code === 0 && r.stdout.includes('ERROR') ? r.stdout : undefined;
    });
    expect(logs).toMatch(/ERROR unhandled exception/);
    const previous = await kubectlOk(world, ['logs', first.name, '-n', NS, '--previous']);
    expect(previous).toMatch(/ERROR fatal: exiting with code 1/);
    const goodPod = (await pods()).find((x) => x.spec.containers[0]?.image === GOOD);
    expect(await kubectlOk(world, ['logs', goodPod!.metadata.name, '-n', NS])).not.toMatch(/ERROR/);

    const events = await kubectlOk(world, [
      'get',
      'events',
      '-n',
      NS,
      '--field-selector',
      `involvedObject.name=${first.name},reason=BackOff`,
      '-o',
      'name',
    ]);
    expect(events.trim()).not.toBe('');

    const reason = await eventually(
      'ProgressDeadlineExceeded',
      async () => {
        const r = await kubectlOk(world, [
          'get',
          'deployment',
          NAME,
          '-n',
          NS,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}',
        ]);
        return r === 'ProgressDeadlineExceeded' ? r : undefined;
      },
      60_000,
    );
    expect(reason).toBe('ProgressDeadlineExceeded');
    const status = await kubectl(world, [
      'rollout',
      'status',
      `deployment/${NAME}`,
      '-n',
      NS,
      '--timeout=5s',
    ]);
    expect(status.code).not.toBe(0);
    expect(status.stderr).toMatch(/exceeded its progress deadline/);
  });

  it('makes the stand-in unhealthy, Prometheus see > 5% errors and Alertmanager post the v4 payload with the token', async () => {
    expect((await fetch(`${world.standinUrl}/health`)).status).toBe(503);
    const ratio = await eventually('error ratio above 5%', async () => {
      const v = await promQuery(errorRatio);
      return v !== undefined && v > 0.05 ? v : undefined;
    });
    expect(ratio).toBeGreaterThan(0.05);
    expect(ratio).toBeLessThan(0.2);
    const p99 = await eventually('p99 above 2s', async () => {
      const v = await promQuery(
        `histogram_quantile(0.99, sum by (namespace, deployment, le) (rate(request_duration_seconds_bucket[15s])))`,
      );
      return v !== undefined && v > 2 ? v : undefined;
    });
    expect(p99).toBeGreaterThan(2);

    const alert = await eventually(
      'HighErrorRate at the webhook',
      async () =>
        received
          .flatMap((r) => r.body.alerts.map((a) => ({ r, a })))
          .find(
            ({ a }) =>
              a.labels.alertname === 'HighErrorRate' && a.status === 'firing' && a.labels.namespace === NS,
          ),
      90_000,
    );
    expect(alert.r.auth).toBe(`Bearer ${token}`);
    expect(alert.r.body.version).toBe('4');
    // Alerts of other test files' (deleted) namespaces may share the notification; ours is firing.
    expect(alert.a.status).toBe('firing');
    expect(alert.a.labels).toMatchObject({ namespace: NS, deployment: NAME, severity: 'critical' });
    expect(alert.a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(alert.a.annotations.summary).toMatch(/Error ratio .*% on production\/release-manager-prod/);
  });

  it('comes back with kubectl rollout undo', async () => {
    await kubectlOk(world, ['rollout', 'undo', `deployment/${NAME}`, '-n', NS]);
    await kubectlOk(world, ['rollout', 'status', `deployment/${NAME}`, '-n', NS, '--timeout=90s']);
    const ps = await eventually('only good pods left', async () => {
      const all = await pods();
      return all.length === 3 && all.every((p) => p.spec.containers[0]?.image === GOOD) ? all : undefined;
    });
    expect(ps).toHaveLength(3);
    expect((await fetch(`${world.standinUrl}/health`)).status).toBe(200);
    const ratio = await eventually(
      'error ratio back under 1%',
      async () => {
        const v = await promQuery(errorRatio);
        return v !== undefined && v < 0.01 ? v : undefined;
      },
      60_000,
    );
    expect(ratio).toBeLessThan(0.01);
  });

  it('runs the configured local command for kubectl exec (alembic against the real PostgreSQL)', async () => {
    const pod = (await pods())[0]!.metadata.name;
    // GOOD ships migrations up to aaa111 (releases.ts IMAGE_HEADS); the database may hold another
    // file's newer head, which only --purge overwrites.
    await kubectlOk(world, ['exec', pod, '-n', NS, '--', 'alembic', 'stamp', '--purge', 'head']);
    const out = await kubectlOk(world, ['exec', pod, '-n', NS, '--', 'alembic', 'current']);
    expect(out.trim()).toBe('aaa111 (head)');
    const fromDb = execFileSync(
      'psql',
      [world.postgresUrl, '-tAc', 'select version_num from alembic_version'],
      { encoding: 'utf8' },
    );
    expect(fromDb.trim()).toBe('aaa111');
    const failing = await kubectl(world, ['exec', pod, '-n', NS, '--', 'alembic', 'downgrade']);
    expect(failing.code).not.toBe(0);
  });

  it('keeps Redis data across a restart (AOF)', async () => {
    const r1 = await startRedis({
      root: world.root,
      logDir: world.logDir,
      detach: false,
      name: 'redis-restart-test',
      dataDir: `${world.root}/redis-restart-test`,
    });
    const c1 = new Redis(r1.url);
    await c1.set('rollback:test', 'survives');
    await c1.quit();
    await r1.proc.stop();
    const r2 = await startRedis({
      root: world.root,
      logDir: world.logDir,
      detach: false,
      name: 'redis-restart-test-2',
      port: r1.port,
      password: r1.password,
      dataDir: r1.dataDir,
    });
    const c2 = new Redis(r2.url);
    expect(await c2.get('rollback:test')).toBe('survives');
    await c2.quit();
    await r2.proc.stop();
    const shared = new Redis(world.redisUrl);
    expect(await shared.ping()).toBe('PONG');
    await shared.quit();
  });

  it('refuses a Redis client without the password (requirepass), as production does', async () => {
    const url = new URL(world.redisUrl);
    expect(url.password).toMatch(/^[0-9a-f]{36}$/);
    const anonymous = new Redis({ host: url.hostname, port: Number(url.port), maxRetriesPerRequest: 0 });
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
  });

  it('has PostgreSQL accepting connections to an empty release_manager database', () => {
    const tables = execFileSync(
      'psql',
      [
        world.postgresUrl,
        '-tAc',
        "select count(*) from pg_tables where schemaname='public' and tablename <> 'alembic_version'",
      ],
      { encoding: 'utf8' },
    );
    expect(tables.trim()).toBe('0');
  });
});
