// Restores the exit code of a failed exec, which KWOK loses. The kubelet's streaming server (the CRI
// runtime's, cri-streaming remotecommand.ServeExec) reports a command that exits non-zero with a status
// `{status: Failure, reason: NonZeroExitCode, details.causes: [{reason: ExitCode, message: "<code>"}]}`,
// so kubectl exits with that code and a client can tell "the command failed" from "exec failed".
// KWOK wraps the exit error (`cmd wait: ...: exit status N`), so ServeExec sees no ExitError and
// reports every non-zero exit as `InternalError` 500. This Transform sits on the KWOK → apiserver side
// of an exec stream (SPDY/3.1, which the apiserver speaks to kubelets), passes every frame through
// unchanged, and rewrites only that one status frame into what a real runtime sends, with containerd's
// message `command terminated with non-zero exit code: error executing command [argv], exit code N`.
// Anything that is not a SPDY upgrade passes through untouched.
import { Transform, type TransformCallback } from 'node:stream';

const KWOK_EXIT =
  /^Internal error occurred: error executing command in container: cmd wait: .*: exit status (\d+)$/s;

/** The status payload a real runtime sends instead of KWOK's, or undefined to keep KWOK's. */
export function fixedExitStatus(payload: Buffer, argv: string[]): Buffer | undefined {
  if (payload[0] !== 0x7b) return undefined; // '{'
  let status: { status?: string; reason?: string; message?: string };
  try {
    status = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  const m =
    status.status === 'Failure' && status.reason === 'InternalError'
      ? KWOK_EXIT.exec(status.message ?? '')
      : null;
  if (!m) return undefined;
  const code = m[1] ?? '1';
  return Buffer.from(
    JSON.stringify({
      status: 'Failure',
      message: `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${code}`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: code }] },
    }),
  );
}

/** A Transform for the KWOK → apiserver bytes of one exec request (`argv` from its command= params). */
export function createExitStatusFix(argv: string[]): Transform {
  let head: Buffer | undefined = Buffer.alloc(0); // until the HTTP response header has passed
  let spdy = false;
  let pending = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (head) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return done();
        const header = head.subarray(0, end + 4);
        spdy =
          / 101 /.test(header.toString('latin1').split('\r\n')[0] ?? '') &&
          /\r\nupgrade: spdy\/3\.1\r\n/i.test(header.toString('latin1'));
        this.push(header);
        chunk = head.subarray(end + 4);
        head = undefined;
      }
      if (!spdy) return done(null, chunk);
      pending = Buffer.concat([pending, chunk]);
      // Frames: 8-byte header (bit 0 set = control frame; else stream id), 24-bit length at bytes 5-7.
      while (pending.length >= 8) {
        const length = pending.readUIntBE(5, 3);
        if (pending.length < 8 + length) break;
        const frame = pending.subarray(0, 8 + length);
        pending = pending.subarray(8 + length);
        const isData = ((frame[0] ?? 0) & 0x80) === 0;
        const fixed = isData ? fixedExitStatus(frame.subarray(8), argv) : undefined;
        if (!fixed) {
          this.push(frame);
          continue;
        }
        const out = Buffer.alloc(8 + fixed.length);
        frame.copy(out, 0, 0, 5); // stream id and flags
        out.writeUIntBE(fixed.length, 5, 3);
        fixed.copy(out, 8);
        this.push(out);
      }
      done();
    },
    flush(done: TransformCallback) {
      done(null, head ?? pending);
    },
  });
}
