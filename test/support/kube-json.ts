// Raw JSON requests to the world's apiserver, for test helpers that poll often (a kubectl process per
// call costs ~100 ms of CPU on 2 cores) and must see objects exactly as stored: the typed client's models
// drop fields they do not know, which would make two different pod templates look equal.
import { Agent, request } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeJson {
  /** The object at `path`, or undefined when the apiserver answers 404. */
  get<T>(path: string): Promise<T | undefined>;
  /** PATCH with the given content type; `query` adds e.g. fieldManager, force, dryRun. */
  patch<T>(path: string, body: unknown, contentType: PatchType, query?: Record<string, string>): Promise<T>;
  /** Closes the kept-alive connections. */
  close(): void;
}

export type PatchType =
  | 'application/apply-patch+yaml'
  | 'application/json-patch+json'
  | 'application/merge-patch+json'
  | 'application/strategic-merge-patch+json';

/** A non-2xx answer: the HTTP status and the apiserver's Status message. */
export class KubeJsonError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeJsonError';
  }
}

export function createKubeJson(kubeconfig: string): KubeJson {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`${kubeconfig} has no current cluster`);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  async function send(method: 'GET' | 'PATCH', path: string, body?: string, contentType?: string) {
    const url = new URL(server + path);
    const opts: Parameters<typeof request>[1] = { method, agent, headers: { accept: 'application/json' } };
    await kc.applyToHTTPSOptions(opts);
    const headers = opts.headers as Record<string, string>;
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(url, { ...opts, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  function failure(method: string, path: string, status: number, text: string): KubeJsonError {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // Not a Status object (a proxy's HTML page, say): the text itself is the best we have.
    }
    return new KubeJsonError(status, `${method} ${path}: ${status} ${message}`);
  }

  return {
    async get<T>(path: string) {
      const res = await send('GET', path);
      if (res.status === 404) return undefined;
      if (res.status < 200 || res.status > 299) throw failure('GET', path, res.status, res.text);
      return JSON.parse(res.text) as T;
    },
    async patch<T>(path: string, body: unknown, contentType: PatchType, query: Record<string, string> = {}) {
      const qs = new URLSearchParams(query).toString();
      const full = qs ? `${path}?${qs}` : path;
      const res = await send('PATCH', full, JSON.stringify(body), contentType);
      if (res.status < 200 || res.status > 299) throw failure('PATCH', full, res.status, res.text);
      return JSON.parse(res.text) as T;
    },
    close() {
      agent.destroy();
    },
  };
}
