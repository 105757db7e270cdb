// A throwaway redis-server for the store's tests, on a free loopback port: the store's bounds and
// refusals need servers configured in ways the shared world's Redis must not be (a 1 MB maxmemory, a
// password, a read-only replica), and the memory measurement needs a server nobody else writes to.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface TestRedis {
  port: number;
  url: string;
  /** A client; `password`/`username` as given, none by default. */
  client(o?: { username?: string; password?: string }): Redis;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export async function startTestRedis(args: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rb-store-redis-'));
  const proc: ChildProcess = spawn(
    '/usr/bin/redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const clients: Redis[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (log.includes('Ready to accept connections')) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`redis-server on ${port} did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client(o = {}) {
      const c = new Redis({
        host: '127.0.0.1',
        port,
        maxRetriesPerRequest: 1,
        ...(o.username ? { username: o.username } : {}),
        ...(o.password ? { password: o.password } : {}),
      });
      // Refusals are what these tests look at; the client's own error events are expected noise.
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
