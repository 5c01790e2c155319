// Free loopback ports for the children the benchmark (and the end-to-end
// tests, through test/helpers/processes.ts) start: each child is given a port
// the harness picked, so the harness knows where to find it without parsing
// its output.

import { createServer } from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port below Linux's ephemeral range (32768–60999), for a child that
 * starts well after its port was picked (a broker node starting a minute
 * later): an ephemeral port may meanwhile be taken by any outgoing
 * connection or CLI tool, a port down here only by another listener.
 */
export async function freeStablePort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!taken.has(port) && (await bindable(port))) return port;
  }
  return freePort();
}

/**
 * A free port whose Redis Cluster bus port (port + 10000) is free too, both
 * below the ephemeral range (an ephemeral port + 10000 may not even exist).
 */
export async function freeClusterNodePort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 2_700);
    if (!taken.has(port) && !taken.has(port + 10_000) && (await bindable(port)) && (await bindable(port + 10_000))) return port;
  }
  throw new Error('no free Redis Cluster node port below the ephemeral range');
}
