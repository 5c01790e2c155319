// A real Redis Cluster on loopback for a test or a benchmark: six `redis-server
// --cluster-enabled yes` processes (three masters, three replicas) on free
// ports, joined by `redis-cli --cluster create`, data in a tmp dir removed
// on close. The processes are the caller's children: close() kills only them.
// (test/helpers/redis-cluster.ts re-exports it for the tests.)

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeClusterNodePort } from './ports.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RedisClusterNode {
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

export interface RedisClusterHandle {
  /** `127.0.0.1:p1,127.0.0.1:p2,...`: REDIS_CLUSTER_NODES. */
  seeds: string;
  nodes: RedisClusterNode[];
  /** `redis-cli -p port ...` (throws on failure). */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The port of the master that serves `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILLs the node on `port` (a crashed master). */
  kill(port: number): Promise<void>;
  /** Starts a killed node again with its data and nodes.conf: it rejoins (a failed-over master comes back as a replica). */
  restart(port: number): Promise<void>;
  /** Until every replica's link to its master is up. */
  waitSynced(timeoutMs: number): Promise<void>;
  /** Until every live node says cluster_state:ok and a master (other than `except`) serves every slot. */
  waitHealthy(timeoutMs: number, except?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRedisCluster(options: { nodeTimeoutMs?: number } = {}): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'facet-redis-cluster-'));
  const nodes: RedisClusterNode[] = [];
  const cli = async (port: number, ...args: string[]): Promise<string> => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 })).stdout;

  const handle: RedisClusterHandle = {
    seeds: '',
    nodes,
    cli,
    async masterOf(key) {
      const live = nodes.find((n) => n.child.exitCode === null && n.child.signalCode === null)!;
      const slot = Number((await cli(live.port, 'cluster', 'keyslot', key)).trim());
      for (const line of (await cli(live.port, 'cluster', 'nodes')).split('\n')) {
        const fields = line.split(' ');
        if (!fields[2]?.includes('master') || fields[2].includes('fail')) continue;
        const port = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
        for (const range of fields.slice(8)) {
          const [from, to] = range.split('-').map(Number);
          if (from !== undefined && slot >= from && slot <= (to ?? from)) return port;
        }
      }
      throw new Error(`no master serves slot ${slot} of ${key}`);
    },
    async kill(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node on ${port}`);
      node.child.kill('SIGKILL');
      await node.exited;
    },
    async restart(port) {
      const index = nodes.findIndex((n) => n.port === port);
      if (index < 0) throw new Error(`no node on ${port}`);
      nodes[index] = spawnNode(port);
      const deadline = Date.now() + 15_000;
      while ((await cli(port, 'ping').catch(() => '')).trim() !== 'PONG') {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not restart`);
        await sleep(100);
      }
    },
    async waitSynced(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (const node of nodes) {
        for (;;) {
          const info = await cli(node.port, 'info', 'replication').catch(() => '');
          if (info.includes('role:master') || info.includes('master_link_status:up')) break;
          if (Date.now() > deadline) throw new Error(`replica ${node.port} not in sync within ${timeoutMs} ms`);
          await sleep(200);
        }
      }
    },
    async waitHealthy(timeoutMs, except) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        try {
          const live = nodes.filter((n) => n.port !== except && n.child.exitCode === null && n.child.signalCode === null);
          const infos = await Promise.all(live.map((n) => cli(n.port, 'cluster', 'info')));
          const covered = await cli(live[0]!.port, '--cluster', 'check', `127.0.0.1:${live[0]!.port}`).catch((e: { stdout?: string }) => e.stdout ?? '');
          last = infos.map((i) => /cluster_state:(\w+)/.exec(i)?.[1]).join(',');
          if (infos.every((i) => i.includes('cluster_state:ok')) && covered.includes('All 16384 slots covered')) return;
        } catch (error) {
          last = String(error);
        }
        await sleep(250);
      }
      throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms (${last})`);
    },
    async close() {
      for (const node of nodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  function spawnNode(port: number): RedisClusterNode {
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir, { recursive: true });
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(nodeDir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000),
        '--appendonly', 'yes',
        '--save', '',
        '--dir', nodeDir,
        '--logfile', join(nodeDir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return { port, child, exited };
  }

  try {
    // Each node also listens on port + 10000 (the cluster bus): both picked free, below the ephemeral range.
    const taken = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const port = await freeClusterNodePort(taken);
      taken.add(port).add(port + 10_000);
      nodes.push(spawnNode(port));
    }
    for (const node of nodes) {
      const deadline = Date.now() + 15_000;
      while ((await cli(node.port, 'ping').catch(() => '')).trim() !== 'PONG') {
        if (Date.now() > deadline) throw new Error(`redis-server on ${node.port} did not start`);
        await sleep(100);
      }
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 });
    handle.seeds = addresses.join(',');
    await handle.waitHealthy(60_000);
    // Every replica has synced with its master, so a failover has the data.
    await handle.waitSynced(30_000);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
