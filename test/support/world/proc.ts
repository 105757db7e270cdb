// Child processes of the test world: each in its own process group with its output in a log file, so
// that a failure can name the part and its log, and teardown can kill whole groups (KWOK exec children,
// postgres backends) without leaving anything behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export class WorldError extends Error {
  constructor(
    readonly part: string,
    message: string,
    readonly logFile?: string,
  ) {
    super(`[test world] ${part}: ${message}${logFile ? `\n  log: ${logFile}\n${tailOf(logFile)}` : ''}`);
    this.name = 'WorldError';
  }
}

export function tailOf(file: string, lines = 15): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
    return text.map((l) => `  | ${l}`).join('\n');
  } catch {
    return '  | (log file not readable)';
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<string>;
  hasExited(): boolean;
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Keep running after this Node process exits (world CLI `up`). */
  detach?: boolean;
}

const live = new Set<ManagedProcess>();

export function startProcess(opts: StartOptions): ManagedProcess {
  const logFile = join(opts.logDir, `${opts.name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
      ...(opts.uid === undefined ? {} : { uid: opts.uid }),
      ...(opts.gid === undefined ? {} : { gid: opts.gid }),
    });
  } finally {
    closeSync(fd);
  }
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolve(signal ? `signal ${signal}` : `code ${code}`);
    });
    child.on('error', (err) => {
      done = true;
      resolve(`spawn error ${err.message}`);
    });
  });
  if (child.pid === undefined) throw new WorldError(opts.name, `could not start ${opts.command}`, logFile);
  const pid = child.pid;
  if (opts.detach) child.unref();
  const proc: ManagedProcess = {
    name: opts.name,
    pid,
    logFile,
    exited,
    hasExited: () => done,
    async stop(timeoutMs = 10_000) {
      live.delete(proc);
      if (done) return;
      killGroup(pid, 'SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') {
        killGroup(pid, 'SIGKILL');
        await exited;
      }
      // Children that left the leader's group alive (e.g. a KWOK exec child) go too.
      killGroup(pid, 'SIGKILL');
    },
  };
  live.add(proc);
  if (!opts.detach) installExitHooks();
  return proc;
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Kills every world process this Node process started, synchronously; used on exit, signals and failed starts. */
export function killAllNow(): void {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
  live.clear();
}

let hooked = false;
export function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllNow();
      process.exit(130);
    });
  }
}

/** Polls `check` until it returns a value, failing early with the log when the process dies. */
export async function waitFor<T>(
  what: string,
  proc: ManagedProcess | undefined,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  part = proc?.name ?? what,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (proc?.hasExited()) {
      throw new WorldError(part, `exited (${await proc.exited}) while waiting for ${what}`, proc.logFile);
    }
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof WorldError) throw err;
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new WorldError(
        part,
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`,
        proc?.logFile,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
