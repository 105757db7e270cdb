// The procedure's database pod (`kubectl get pod -l app=db`) in a test namespace, and SQL on the
// world's PostgreSQL. The pod runs a PostgreSQL image, so `psql` in it (by exec, as the bot runs a
// schema check or a cleanup command) reaches the world's database (standin/pod-exec.ts).
import { execFileSync } from 'node:child_process';
import { deploymentYaml, eventually, kubectlOk } from './kubectl.js';
import type { WorldInfo } from './world/world.js';

export const DB_IMAGE = 'registry.test/postgres:15.6';

/** Deployment `db` (label app=db, one pod) in `namespace`; resolves with its pod's name once it is Ready. */
export async function shipDatabasePod(world: WorldInfo, namespace: string): Promise<string> {
  await kubectlOk(
    world,
    ['apply', '-f', '-'],
    deploymentYaml({ namespace, name: 'db', app: 'db', image: DB_IMAGE, replicas: 1 }),
  );
  return eventually(`the db pod in ${namespace}`, async () => {
    const pods = JSON.parse(
      await kubectlOk(world, ['get', 'pods', '-n', namespace, '-l', 'app=db', '-o', 'json']),
    ).items as { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
    return pods.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      ?.metadata.name;
  });
}

/** Runs SQL on the world's release_manager database; returns psql's unaligned output. */
export function sql(world: WorldInfo, statements: string): string {
  return execFileSync('psql', [world.postgresUrl, '-v', 'ON_ERROR_STOP=1', '-tAqc', statements], {
    encoding: 'utf8',
    env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' },
  }).trim();
}

/** Whether a table exists in the world's database. */
export function tableExists(world: WorldInfo, table: string): boolean {
  return sql(world, `select count(*) from information_schema.tables where table_name = '${table}'`) === '1';
}
