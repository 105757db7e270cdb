import { createServer } from 'node:net';

// Listening ports for the world's servers are chosen BELOW the kernel's ephemeral range
// (ip_local_port_range, 32768–60999 by default). A port from listen(0) is an ephemeral one: between
// our check and the server's own bind, an outgoing connection (the apiserver dialling etcd, a test's
// HTTP client) may be given that very port, and the server then fails with EADDRINUSE. Outgoing
// connections never take a port outside that range, so a port checked free here stays free unless
// another listener picks it too, which the random choice makes rare and the bind check catches.
const LOW = 20_000;
const HIGH = 32_767;

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/** A free loopback port outside the ephemeral range, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    if (await tryListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port between ${LOW} and ${HIGH} after 200 tries`);
}

/** Distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) out.push(await freePort());
  return out;
}
