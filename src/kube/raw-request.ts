// Raw JSON requests to the apiserver with the kubeconfig's credentials. Used where fidelity matters:
// the typed client model drops fields it does not know, and an undo must copy a template exactly.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeAccess } from './kube-access.js';
import { mapStatusError } from './map-error.js';

export interface RawResponse {
  status: number;
  body: string;
}

export async function rawRequest(
  kc: KubeAccess,
  method: 'GET' | 'PATCH' | 'POST' | 'DELETE',
  path: string,
  opts: { body?: string; contentType?: string; timeoutMs?: number; accept?: string } = {},
): Promise<RawResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server + path);
  const reqOpts: RequestOptions = { method, headers: { accept: opts.accept ?? 'application/json' } };
  await kc.applyToHTTPSOptions(reqOpts);
  const headers = reqOpts.headers as Record<string, string>;
  if (opts.body !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(opts.body));
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { ...reqOpts, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** GET returning parsed JSON; non-2xx become coded errors. */
export async function rawGetJson<T>(kc: KubeAccess, path: string, what: string): Promise<T> {
  let res: RawResponse;
  try {
    res = await rawRequest(kc, 'GET', path);
  } catch (err) {
    throw mapStatusError(0, '', what, err);
  }
  if (res.status < 200 || res.status > 299) throw mapStatusError(res.status, res.body, what);
  return JSON.parse(res.body) as T;
}
