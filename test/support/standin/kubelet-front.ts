// The Node's kubelet endpoint, in front of KWOK's kubelet-like server. KWOK serves `exec` for any pod
// whatever its state, and runs the command on the host; a real kubelet first looks the container up
// among its *running* containers (pkg/kubelet kubelet_pods.go GetExec → findContainer with all=false)
// and, when it is not running (crash-looping, waiting, terminated), answers the exec request with HTTP
// 500 and the body `container not found ("<name>")` before any stream is upgraded
// (cri-streaming WriteError). The apiserver then fails the exec the way it does in production, e.g.
// kubectl's `error: unable to upgrade connection: container not found ("app")`.
// So this front does exactly that check (against the pod's status in the apiserver, which KWOK's stages
// keep as the "runtime" truth) for exec and attach, and forwards everything else (logs, the allowed
// exec/attach streams, port-forward) to KWOK byte for byte, upgrades included; in an exec stream it
// only restores the exit code KWOK loses (exit-status-fix.ts).
// The Node advertises this port (KWOK's --node-port) while KWOK listens on another (--server-address).
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect } from 'node:tls';
import type { V1Pod } from '@kubernetes/client-node';
import { createExitStatusFix } from './exit-status-fix.js';

export interface KubeletFrontOptions {
  port: number;
  /** KWOK's server, e.g. https://127.0.0.1:1234. */
  kwokServer: string;
  certFile: string;
  keyFile: string;
  /** The pod as the apiserver has it now; undefined when it does not exist. */
  readPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  /** Resolves once KWOK has the pod's Exec object (so an allowed exec finds its env). */
  execReady(pod: V1Pod): Promise<void>;
}

interface Refusal {
  status: number;
  text: string;
  body: string;
}

/** Why the kubelet would refuse this request, or undefined when it would serve it. */
async function refusal(url: string, o: KubeletFrontOptions): Promise<Refusal | undefined> {
  const parts = new URL(url, 'https://x').pathname.split('/');
  // /exec/{namespace}/{pod}/{container} or /exec/{namespace}/{pod}/{uid}/{container}; same for attach.
  if ((parts[1] !== 'exec' && parts[1] !== 'attach') || parts.length < 5) return undefined;
  const [namespace = '', name = ''] = [parts[2], parts[3]];
  const container = parts[parts.length - 1] ?? '';
  const pod = await o.readPod(namespace, name);
  if (!pod) return { status: 404, text: 'Not Found', body: 'pod does not exist' };
  const st = pod.status?.containerStatuses?.find((c) => c.name === container);
  if (!st?.state?.running)
    return { status: 500, text: 'Internal Server Error', body: `container not found ("${container}")` };
  await o.execReady(pod);
  return undefined;
}

function rawResponse(r: Refusal): string {
  return [
    `HTTP/1.1 ${r.status} ${r.text}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(r.body)}`,
    'Connection: close',
    '',
    r.body,
  ].join('\r\n');
}

function forward(req: IncomingMessage, res: ServerResponse, kwok: URL): void {
  const up = request(
    {
      host: kwok.hostname,
      port: kwok.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      rejectUnauthorized: false,
    },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`kubelet front: ${err.message}`);
  });
  req.pipe(up);
}

function forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, kwok: URL): void {
  const up = connect({ host: kwok.hostname, port: Number(kwok.port), rejectUnauthorized: false }, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    up.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) up.write(head);
    socket.pipe(up);
    const url = new URL(req.url ?? '/', 'https://x');
    if (url.pathname.startsWith('/exec/'))
      up.pipe(createExitStatusFix(url.searchParams.getAll('command'))).pipe(socket);
    else up.pipe(socket);
  });
  // Either side closing ends the stream; nothing is left to report to (the apiserver sees the close).
  up.on('error', () => socket.destroy());
  socket.on('error', () => up.destroy());
}

export async function startKubeletFront(o: KubeletFrontOptions): Promise<Server> {
  const kwok = new URL(o.kwokServer);
  const server = createServer(
    { cert: readFileSync(o.certFile), key: readFileSync(o.keyFile) },
    (req, res) => {
      refusal(req.url ?? '/', o).then(
        (r) => {
          if (r) res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8' }).end(r.body);
          else forward(req, res, kwok);
        },
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
      );
    },
  );
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    refusal(req.url ?? '/', o).then(
      (r) => {
        if (r) socket.end(rawResponse(r));
        else forwardUpgrade(req, socket, head, kwok);
      },
      (err: Error) =>
        socket.end(rawResponse({ status: 500, text: 'Internal Server Error', body: err.message })),
    );
  });
  await new Promise<void>((resolve) => server.listen(o.port, '127.0.0.1', resolve));
  return server;
}
