// A pass-through HTTP proxy that can hold requests back: Prometheus as production has it under load,
// where a query takes seconds, while the world's Prometheus answers in milliseconds. Put in front of
// a real server, it changes nothing but when the answer arrives, so what the bot does while it waits
// (an operator's Cancel during the assessment) can be shown. A held request goes on when the test
// releases it, or after `maxHoldMs`: kept under the bot's own query timeout, so holding never turns
// into an unreadable signal.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowProxy {
  url: string;
  /** From now on, requests wait (each at most maxHoldMs) until release(). */
  hold(): void;
  /** Forwards what is held, and what comes next at once. */
  release(): void;
  /** Requests held so far (forwarded or not). */
  held(): number;
  /** Requests forwarded so far. */
  served(): number;
  close(): Promise<void>;
}

export async function startSlowProxy(target: string, maxHoldMs = 4000): Promise<SlowProxy> {
  const to = new URL(target);
  let holding = false;
  let held = 0;
  let served = 0;
  const waiting = new Set<() => void>();
  /** Resolves on release(), or after maxHoldMs, whichever is first. */
  const wait = () =>
    new Promise<void>((resolve) => {
      held++;
      const go = () => {
        clearTimeout(timer);
        waiting.delete(go);
        resolve();
      };
      const timer = setTimeout(go, maxHoldMs);
      waiting.add(go);
    });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (holding ? wait() : Promise.resolve()).then(() => {
        const up = request(
          {
            host: to.hostname,
            port: to.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: to.host },
          },
          (answer) => {
            served++;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        up.on('error', (err) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`slow proxy: ${err.message}`);
        });
        up.end(Buffer.concat(chunks));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${to.pathname === '/' ? '' : to.pathname}`,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const go of [...waiting]) go();
    },
    held: () => held,
    served: () => served,
    close: () =>
      new Promise((resolve) => {
        for (const go of [...waiting]) go();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
