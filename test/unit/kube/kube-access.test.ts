// The bot's own kubeconfig reader (kube-access.ts) against a local TLS server: the credentials it
// sends, the TLS connection it keeps, and the configurations it refuses or hands to the library.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isCodedError } from '../../../src/errors.js';
import { loadKubeAccess } from '../../../src/kube/kube-access.js';
import { rawGetJson } from '../../../src/kube/raw-request.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-access-'));
const caFile = join(dir, 'ca.pem');
const keyFile = join(dir, 'key.pem');
let server: Server;
let url: string;
let connections = 0;
const seen: (string | undefined)[] = [];

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const file = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'bench',
      clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority': 'ca.pem', ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'bench', context: { cluster: 'c', user: 'u' } }],
    }),
  );
  return file;
}

beforeAll(async () => {
  execFileSync('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', keyFile, '-out', caFile, '-days', '1', '-subj', '/CN=localhost'],
    ...['-addext', 'subjectAltName=IP:127.0.0.1'],
  ]);
  server = createServer({ cert: readFileSync(caFile), key: readFileSync(keyFile) }, (req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"gitVersion":"v1.36.3"}');
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('loadKubeAccess', () => {
  it('keeps one TLS connection for sequential requests, sending the token each time', async () => {
    const access = loadKubeAccess({ kubeconfig: kubeconfig({ token: 'tok-1' }) });
    const before = connections;
    seen.length = 0;
    for (let i = 0; i < 5; i++) await rawGetJson(access, '/version', 'version');
    // A new agent per request (the library's KubeConfig) would have made 5 handshakes.
    expect(connections - before).toBe(1);
    expect(seen).toEqual(Array(5).fill('Bearer tok-1'));
  });

  it('opens concurrent connections with one SecureContext (no certificate parsing per socket)', async () => {
    const access = loadKubeAccess({ kubeconfig: kubeconfig({ token: 'tok-2' }) });
    const before = connections;
    await Promise.all(Array.from({ length: 10 }, () => rawGetJson(access, '/version', 'version')));
    expect(connections - before).toBeGreaterThan(1);
    const opts: RequestOptions = {};
    await access.applyToHTTPSOptions(opts);
    const agentOptions = (
      opts.agent as unknown as { options: { secureContext?: object; keepAlive?: boolean } }
    ).options;
    expect(agentOptions.keepAlive).toBe(true);
    expect(agentOptions.secureContext?.constructor.name).toBe('SecureContext');
  });

  it('reads the pod service account in the cluster: its CA and its (rotating) token file', async () => {
    const sa = mkdtempSync(join(tmpdir(), 'sa-'));
    writeFileSync(join(sa, 'ca.crt'), readFileSync(caFile));
    writeFileSync(join(sa, 'token'), 'sa-token');
    const { port } = server.address() as AddressInfo;
    const access = loadKubeAccess({
      serviceAccountDir: sa,
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) },
    });
    expect(access.getCurrentCluster()?.server).toBe(url);
    seen.length = 0;
    await rawGetJson(access, '/version', 'version');
    expect(seen).toEqual(['Bearer sa-token']);
  });

  it('runs an exec credential plugin for the token', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-plugin' },
    });
    const access = loadKubeAccess({
      kubeconfig: kubeconfig({
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: process.execPath,
          args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
          interactiveMode: 'Never',
        },
      }),
    });
    seen.length = 0;
    await rawGetJson(access, '/version', 'version');
    expect(seen).toEqual(['Bearer from-plugin']);
  });

  it('makes a new agent when the TLS identity changes (a rotated CA or certificate file)', async () => {
    const file = kubeconfig({ token: 't' });
    const access = loadKubeAccess({ kubeconfig: file });
    const a: RequestOptions = {};
    const b: RequestOptions = {};
    const c: RequestOptions = {};
    await access.applyToHTTPSOptions(a);
    await access.applyToHTTPSOptions(b);
    expect(b.agent).toBe(a.agent);
    writeFileSync(caFile, `${readFileSync(caFile, 'utf8')}\n`);
    await access.applyToHTTPSOptions(c);
    expect(c.agent).not.toBe(a.agent);
  });

  it('refuses a context that does not exist, and plain HTTP without insecure-skip-tls-verify', async () => {
    const file = kubeconfig({ token: 't' });
    let err: unknown;
    try {
      loadKubeAccess({ kubeconfig: file, context: 'nope' });
    } catch (e) {
      err = e;
    }
    expect(isCodedError(err, 'config_invalid')).toBe(true);
    const http = loadKubeAccess({ kubeconfig: kubeconfig({ token: 't' }, { server: 'http://127.0.0.1:1' }) });
    await expect(http.applyToHTTPSOptions({})).rejects.toThrow(/plain HTTP/);
  });

  it('hands what it does not handle (a proxy-url) to the library, which sets its proxy agent', async () => {
    const access = loadKubeAccess({
      kubeconfig: kubeconfig({ token: 't' }, { 'proxy-url': 'http://127.0.0.1:3128' }),
    });
    const opts: RequestOptions = {};
    await access.applyToHTTPSOptions(opts);
    expect((opts.agent as object | undefined)?.constructor.name).toBe('HttpsProxyAgent');
    expect((opts.headers as Record<string, unknown>).Authorization).toBe('Bearer t');
  });
});
