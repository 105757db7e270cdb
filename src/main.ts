// The composition root: the only place that reads process.env and builds clients.
// Today it runs the operator CLI; the Slack bot is wired here too once it exists.
import { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { parseArgs } from './cli/parse-args.js';
import { runCli } from './cli/run-cli.js';
import { loadEnv } from './config/env-schema.js';
import { loadCatalog } from './config/load-catalog.js';
import { asCodedError } from './errors.js';
import { createKube } from './kube/create-kube.js';
import { createObserve } from './observe/create-observe.js';
import { createRedisStore } from './store/create-redis-store.js';

function kubeConfig(kubeconfig: string | undefined, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  if (context) kc.setCurrentContext(context);
  return kc;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const env = loadEnv(process.env, args.command === 'status' ? ['redis'] : []);
  const catalog = loadCatalog(env.CATALOG_PATH);
  const kube = createKube(kubeConfig(env.KUBECONFIG, env.KUBE_CONTEXT));
  const observe = createObserve({ prometheusUrl: env.PROMETHEUS_URL });
  let redis: Redis | undefined;
  try {
    await runCli(args, {
      catalog,
      kube,
      observe,
      store: () => {
        redis = new Redis(env.REDIS_URL ?? '', { maxRetriesPerRequest: 1, lazyConnect: false });
        return createRedisStore(redis);
      },
      now: () => new Date(),
      print: (t) => console.log(t),
    });
  } finally {
    redis?.disconnect();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = asCodedError(err);
    console.error(`error: ${e.describe()}`);
    process.exit(1);
  },
);
