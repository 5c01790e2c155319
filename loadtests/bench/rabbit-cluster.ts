// A three-node RabbitMQ cluster on this machine for a test or the
// cluster-failover benchmark, beside the
// machine's own broker (rabbit@localhost on 5672, which CI uses: never
// touched). Each node has its own name (`facet-test-rN-<tag>@localhost`),
// AMQP and distribution ports (free ones), data and log dirs in a tmp dir,
// its own config file (the system's names port 5672) and no plugins. The
// Debian wrapper runs `rabbitmq-server` and `rabbitmqctl` as the rabbitmq
// user, so the nodes and the CLI share that user's Erlang cookie (the same
// as the system broker's: never read here). Nodes 2 and 3 join node 1;
// close() shuts every node down and removes the tmp dir.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeStablePort } from './ports.ts';

const run = promisify(execFile);

export interface RabbitNode {
  name: string;
  port: number;
  distPort: number;
  url: string;
}

export interface RabbitClusterHandle {
  nodes: RabbitNode[];
  /** `rabbitmqctl -q -n <node> ...` */
  ctl(node: RabbitNode, ...args: string[]): Promise<string>;
  /** How many client connections each node holds now (-1: node down), asked of a live node (the list is cluster-wide). */
  connectionCounts(): Promise<number[]>;
  /** Stops the node's Erlang VM (`rabbitmqctl shutdown`): its connections drop. */
  stop(node: RabbitNode): Promise<void>;
  /** Starts it again (it rejoins the cluster) and waits for it. */
  start(node: RabbitNode): Promise<void>;
  /** Waits until every quorum queue has a quorum plus one member online, asked of `node`: stopping it then loses no majority. */
  awaitQuorumPlusOne(node: RabbitNode, timeoutS?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRabbitCluster(size = 3): Promise<RabbitClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'facet-rabbit-cluster-'));
  const tag = Math.random().toString(36).slice(2, 7);
  const nodes: RabbitNode[] = [];
  for (let i = 1; i <= size; i++) {
    // Below the ephemeral range: node 3 starts a minute after its ports are picked.
    const taken = new Set(nodes.flatMap((n) => [n.port, n.distPort]));
    const port = await freeStablePort(taken);
    const distPort = await freeStablePort(taken.add(port));
    nodes.push({ name: `facet-test-r${i}-${tag}@localhost`, port, distPort, url: `amqp://guest:guest@127.0.0.1:${port}` });
  }
  const plugins = join(dir, 'enabled_plugins');
  writeFileSync(plugins, '');
  for (const node of nodes) writeFileSync(join(dir, `${node.port}.conf`), `listeners.tcp.default = 127.0.0.1:${node.port}\n`);
  await run('chown', ['-R', 'rabbitmq:rabbitmq', dir]);

  const envOf = (node: RabbitNode): NodeJS.ProcessEnv => ({
    ...process.env,
    RABBITMQ_NODENAME: node.name,
    RABBITMQ_NODE_PORT: String(node.port),
    RABBITMQ_DIST_PORT: String(node.distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
    RABBITMQ_CONFIG_FILE: join(dir, `${node.port}.conf`),
    RABBITMQ_PID_FILE: join(dir, `${node.port}.pid`),
  });
  const ctl = async (node: RabbitNode, ...args: string[]): Promise<string> => (await run('rabbitmqctl', ['-q', '-n', node.name, ...args], { timeout: 180_000 })).stdout;
  const started = new Set<RabbitNode>();
  const start = async (node: RabbitNode): Promise<void> => {
    await run('rabbitmq-server', ['-detached'], { env: envOf(node), timeout: 60_000 });
    started.add(node);
    // await_startup fails at once until the new VM has registered with epmd: ask again.
    const deadline = Date.now() + 150_000;
    for (;;) {
      try {
        await ctl(node, 'await_startup', '--timeout', '150');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };

  const handle: RabbitClusterHandle = {
    nodes,
    ctl,
    async connectionCounts() {
      const live: RabbitNode[] = [];
      for (const node of nodes) if (await ctl(node, 'ping').then(() => true, () => false)) live.push(node);
      if (live.length === 0) return nodes.map(() => -1);
      // A connection's pid names the node that holds it: <facet-test-r1-x@localhost.1.2.3>.
      const pids = (await ctl(live[0]!, 'list_connections', 'pid')).split('\n');
      return nodes.map((node) => (live.includes(node) ? pids.filter((p) => p.includes(`<${node.name}.`)).length : -1));
    },
    async stop(node) {
      await ctl(node, 'shutdown');
    },
    start,
    async awaitQuorumPlusOne(node, timeoutS = 120) {
      await run('rabbitmq-upgrade', ['-q', '-n', node.name, 'await_online_quorum_plus_one', '-t', String(timeoutS)], { timeout: (timeoutS + 30) * 1000 });
    },
    async close() {
      await Promise.allSettled([...started].map((node) => ctl(node, 'shutdown')));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    for (const node of nodes) await start(node);
    const [first, ...others] = nodes as [RabbitNode, ...RabbitNode[]];
    for (const node of others) {
      await ctl(node, 'stop_app');
      await ctl(node, 'reset');
      await ctl(node, 'join_cluster', first.name);
      await ctl(node, 'start_app');
    }
    const status = await ctl(first, 'cluster_status', '--formatter', 'json');
    const running = (JSON.parse(status) as { running_nodes: string[] }).running_nodes;
    if (running.length !== size) throw new Error(`cluster has ${running.length} running nodes, not ${size}: ${status}`);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
