// How the bot reaches the apiserver: its address, TLS material and credentials, without the generated
// API. @kubernetes/client-node's KubeConfig module imports the whole generated client (≈ 900 files,
// 21 MB of JavaScript, ≈ 65 MB resident) for makeApiClient alone, and the bot makes no typed calls:
// raw requests, a watch and exec need only a server, TLS options and an Authorization header. So the
// kubeconfig (or the pod's service account) is read here with the library's own parsers and
// authenticators (config_types, exec_auth, file_auth; none of them loads the generated API).
//
// One keep-alive agent per TLS identity: KubeConfig.applyToHTTPSOptions makes a new agent per call,
// so every request paid a TLS handshake and a new SecureContext; with 100 concurrent dry runs that was
// 40% of the bot's CPU, and the acks of the commands behind them waited for it. Files (CA, client
// certificate and key) are still read on every call, as the library does, so a rotated certificate is
// used at once (it changes the identity, and a new agent is made for it).
//
// What this does not handle itself (a legacy auth-provider such as oidc, gcp or azure; a proxy-url) is
// handed to the library's KubeConfig, loaded only then: the same behaviour as before for those
// configurations, the memory paid only by them.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  type Cluster,
  type Context,
  newClusters,
  newContexts,
  newUsers,
  type User,
} from '@kubernetes/client-node/dist/config_types.js';
import { ExecAuth } from '@kubernetes/client-node/dist/exec_auth.js';
import { FileAuth } from '@kubernetes/client-node/dist/file_auth.js';
import { parse } from 'yaml';
import { CodedError } from '../errors.js';

/**
 * What the bot's Kubernetes adapters need from a kubeconfig. The library's KubeConfig has the same
 * three methods (tests may pass one); Watch and Exec call only these (client-node 1.4: watch.js,
 * web-socket-handler.js).
 */
export interface KubeAccess {
  getCurrentCluster(): Cluster | null;
  /** Sets TLS options, the Authorization (or impersonation) headers and the agent on `opts`. */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
  /** The same, as node-fetch options (what the library's Watch passes to fetch). */
  applyToFetchOptions(opts: RequestOptions): Promise<object>;
}

/** For the library's Watch and Exec, which are typed against KubeConfig but call only KubeAccess. */
export function asClientConfig(access: KubeAccess): KubeConfig {
  return access as unknown as KubeConfig;
}

export interface KubeAccessOptions {
  /** A kubeconfig file; without one, the pod's service account (in-cluster). */
  kubeconfig?: string;
  /** A context of the kubeconfig other than its current-context. */
  context?: string;
  /** In-cluster only: where the service account files are (tests); default the pod's. */
  serviceAccountDir?: string;
  /** In-cluster only: where KUBERNETES_SERVICE_HOST / _PORT are read (main.ts passes its environment). */
  env?: Record<string, string | undefined>;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

function invalid(message: string, remedy: string): CodedError {
  return new CodedError('config_invalid', message, { remedy });
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  return data ? Buffer.from(data, 'base64') : undefined;
}

const absolute = (root: string, file: string | undefined) =>
  file && !isAbsolute(file) ? join(root, file) : file;

function fromFile(file: string, contextName: string | undefined): { cluster: Cluster; user: User } {
  // YAML 1.1, as kubectl and the library read kubeconfigs (`yes` is true there).
  const doc = (parse(readFileSync(file, 'utf8'), { version: '1.1' }) ?? {}) as Record<string, unknown>;
  const root = dirname(file);
  const clusters = newClusters(doc.clusters).map((c) => ({ ...c, caFile: absolute(root, c.caFile) }));
  const users = newUsers(doc.users).map((u) => ({
    ...u,
    certFile: absolute(root, u.certFile),
    keyFile: absolute(root, u.keyFile),
  }));
  const contexts: Context[] = newContexts(doc.contexts);
  const name = contextName ?? (doc['current-context'] as string | undefined);
  const context = contexts.find((c) => c.name === name);
  if (!context)
    throw invalid(
      `kubeconfig ${file} has no context ${name ?? '(no current-context)'}`,
      `Set KUBE_CONTEXT to one of: ${contexts.map((c) => c.name).join(', ') || 'none defined'}.`,
    );
  const cluster = clusters.find((c) => c.name === context.cluster);
  const user = users.find((u) => u.name === context.user);
  if (!cluster || !user)
    throw invalid(
      `kubeconfig ${file}: context ${context.name} names cluster ${context.cluster} and user ${context.user}, and one of them is not defined`,
      'Fix the kubeconfig (kubectl config view shows it).',
    );
  return { cluster, user };
}

function inCluster(o: KubeAccessOptions): { cluster: Cluster; user: User } {
  const env = o.env ?? {};
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw invalid(
      'no KUBECONFIG and not in a pod (KUBERNETES_SERVICE_HOST/PORT are unset)',
      'Set KUBECONFIG outside the cluster; in a pod, mount the service account token.',
    );
  const dir = o.serviceAccountDir ?? SERVICE_ACCOUNT;
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  return {
    cluster: {
      name: 'inCluster',
      server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      caFile: join(dir, 'ca.crt'),
      skipTLSVerify: false,
    },
    // The projected token rotates: FileAuth re-reads it every minute, as client-go does.
    user: {
      name: 'inClusterUser',
      authProvider: { name: 'tokenFile', config: { tokenFile: join(dir, 'token') } },
    },
  };
}

/** One TLS identity's agent, replaced when the identity changes (a rotated certificate). */
interface PooledAgent {
  identity: string;
  agent: HttpAgent | HttpsAgent;
}

class Credentials implements KubeAccess {
  private readonly exec = new ExecAuth();
  private readonly tokenFile = new FileAuth();
  private pooled: PooledAgent | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly user: User,
  ) {}

  getCurrentCluster(): Cluster {
    return this.cluster;
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const { cluster, user } = this;
    if (cluster.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = fileOrData(cluster.caFile, cluster.caData);
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    opts.headers ??= {};
    const headers = opts.headers as Record<string, string>;
    if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
    // An exec plugin may answer with a token or with a client certificate (it sets opts.cert/key).
    if (this.exec.isAuthProvider(user)) await this.exec.applyAuthentication(user, opts);
    else if (this.tokenFile.isAuthProvider(user)) await this.tokenFile.applyAuthentication(user, opts);
    if (user.token) headers.Authorization = `Bearer ${user.token}`;
    if (user.username) opts.auth = `${user.username}:${user.password}`;
    opts.agent = this.agentFor(opts);
  }

  async applyToFetchOptions(opts: RequestOptions): Promise<object> {
    await this.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {}))
      if (typeof v === 'string' || typeof v === 'number') headers[k] = String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return { agent: opts.agent, headers, method: opts.method, timeout: opts.timeout };
  }

  private agentFor(opts: RequestOptions): HttpAgent | HttpsAgent {
    const str = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v ?? ''));
    const identity = [opts.ca, opts.cert, opts.key, opts.rejectUnauthorized, opts.servername]
      .map(str)
      .join('|');
    if (this.pooled?.identity === identity) return this.pooled.agent;
    let agent: HttpAgent | HttpsAgent;
    if (this.cluster.server.startsWith('http:')) {
      if (!this.cluster.skipTLSVerify)
        throw invalid(
          `the apiserver ${this.cluster.server} is plain HTTP`,
          'Use https, or set insecure-skip-tls-verify on the cluster if plain HTTP is really meant.',
        );
      agent = new HttpAgent({ keepAlive: true });
    } else {
      // One SecureContext for every connection of the identity: built from ca/cert/key for each new
      // socket otherwise (a burst of concurrent requests opens many), and that parsing was most of
      // the remaining TLS cost.
      const secureContext = createSecureContext({
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.cert ? { cert: opts.cert } : {}),
        ...(opts.key ? { key: opts.key } : {}),
      });
      agent = new HttpsAgent({
        keepAlive: true,
        secureContext,
        ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
        ...(opts.servername ? { servername: opts.servername } : {}),
      });
    }
    // The old identity's connections close when they next go idle; requests still on them finish.
    const old = this.pooled?.agent;
    if (old) {
      old.on('free', (socket) => socket.destroy());
      for (const idle of Object.values(old.freeSockets)) for (const socket of idle ?? []) socket.destroy();
    }
    this.pooled = { identity, agent };
    return agent;
  }
}

/** The library's KubeConfig, for the configurations only it handles; loaded on first use. */
class Delegated implements KubeAccess {
  private full: Promise<KubeConfig> | undefined;

  constructor(
    private readonly o: KubeAccessOptions,
    private readonly cluster: Cluster,
  ) {
    // Loaded now, at start: evaluating the library blocks the event loop for a second or more, which
    // must not happen in the middle of serving. A failure here is thrown to every caller of load();
    // this catch only keeps it from being an unhandled rejection meanwhile.
    this.load().catch(() => undefined);
  }

  getCurrentCluster(): Cluster {
    return this.cluster;
  }

  private load(): Promise<KubeConfig> {
    this.full ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const kc = new KubeConfig();
      if (this.o.kubeconfig) kc.loadFromFile(this.o.kubeconfig);
      else kc.loadFromCluster();
      if (this.o.context) kc.setCurrentContext(this.o.context);
      return kc;
    });
    return this.full;
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    await (await this.load()).applyToHTTPSOptions(opts);
  }

  async applyToFetchOptions(opts: RequestOptions): Promise<object> {
    return (await this.load()).applyToFetchOptions(opts);
  }
}

/** Reads the kubeconfig (or the service account) once; a broken one fails here, at start. */
export function loadKubeAccess(o: KubeAccessOptions): KubeAccess {
  const { cluster, user } = o.kubeconfig ? fromFile(o.kubeconfig, o.context) : inCluster(o);
  const handled =
    !cluster.proxyUrl &&
    (!user.authProvider || new ExecAuth().isAuthProvider(user) || new FileAuth().isAuthProvider(user));
  return handled ? new Credentials(cluster, user) : new Delegated(o, cluster);
}
