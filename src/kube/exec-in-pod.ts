// Exec through the apiserver's exec subresource (WebSocket), argv only: no shell ever.
import { Writable } from 'node:stream';
import type { V1Status } from '@kubernetes/client-node';
// The library's Exec module alone: its index loads the whole generated API (see kube-access.ts).
import { Exec } from '@kubernetes/client-node/dist/exec.js';
import { CodedError } from '../errors.js';
import type { ExecResult } from '../rollback/ports.js';
import { asClientConfig, type KubeAccess } from './kube-access.js';

const MAX_OUTPUT = 256 * 1024;

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (size < MAX_OUTPUT) chunks.push(chunk.subarray(0, MAX_OUTPUT - size));
      size += chunk.length;
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export async function execInPod(
  kc: KubeAccess,
  namespace: string,
  pod: string,
  container: string | undefined,
  argv: string[],
  timeoutMs: number,
): Promise<ExecResult> {
  const out = collector();
  const err = collector();
  const what = `exec ${JSON.stringify(argv)} in ${namespace}/${pod}`;
  const status = await new Promise<V1Status>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new CodedError('kube_exec_failed', `${what} timed out after ${timeoutMs} ms`));
      socket?.then((ws) => ws.close()).catch(() => {});
    }, timeoutMs);
    const socket: Promise<{ close(): void }> | undefined = new Exec(asClientConfig(kc))
      .exec(namespace, pod, container ?? '', argv, out.stream, err.stream, null, false, (s) => {
        clearTimeout(timer);
        resolve(s);
      })
      .catch((e: unknown) => {
        clearTimeout(timer);
        const message = (e as Error).message ?? String(e);
        // The WebSocket upgrade is refused with a bare "403"; say which right is missing.
        reject(
          / 403\b/.test(message)
            ? new CodedError('kube_forbidden', `${what}: forbidden (${message})`, {
                remedy:
                  'Grant the bot get and create on pods/exec in this namespace (manifests/rbac-exec.yaml).',
                cause: e,
              })
            : new CodedError('kube_exec_failed', `${what} failed: ${message}`, { cause: e }),
        );
        return { close() {} };
      });
  });
  let exitCode = 0;
  if (status.status !== 'Success') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    exitCode = cause?.message ? Number(cause.message) : 1;
    if (status.reason !== 'NonZeroExitCode') {
      throw new CodedError(
        'kube_exec_failed',
        `${what} failed: ${status.message ?? status.reason ?? 'unknown error'}`,
      );
    }
  }
  // The status frame can arrive before the last output frames are flushed into the streams.
  await new Promise((r) => setImmediate(r));
  return { stdout: out.text(), stderr: err.text(), exitCode };
}
