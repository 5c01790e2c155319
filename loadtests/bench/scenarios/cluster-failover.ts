// Read and write availability and p99 while a Redis Cluster master fails
// over and while a RabbitMQ cluster node is lost (issue 18), against the same
// load on a single-node Redis and broker. Three stacks side by side, each a
// gateway (FACET_ADAPTERS=external) and an adapters process: the reference
// on the benchmark's single Redis and the local broker; one on a Redis
// Cluster the scenario starts on loopback (three masters, three replicas,
// cluster-node-timeout 2 s); one on a three-node RabbitMQ cluster the
// scenario starts beside the machine's broker (quorum queues with a member
// on each node). In every measurement of a fault row, FAULT_AFTER_MS after
// its first request, the fault is injected: the Redis master holding the
// seller's quota slot is SIGKILLed, or the broker node the stack is
// connected to is shut down. After the measurement the node is started
// again and the harness waits for a whole cluster before the next one.

import { setTimeout as sleep } from 'node:timers/promises';
import { startAdapters } from '../adapters-service.ts';
import { unlimitedPriceJobsFor, unlimitedQuotaFor } from '../gateway-config.ts';
import { startGateway } from '../gateway-service.ts';
import { warningLines, type ProcessGroup } from '../processes.ts';
import { startRabbitCluster, type RabbitClusterHandle, type RabbitNode } from '../rabbit-cluster.ts';
import { BENCH_AMQP_URL, BENCH_AMQP_URL_SHOWN, deleteTopologyOnStop, runPrefix } from '../rabbitmq.ts';
import { startRedisCluster, type RedisClusterHandle } from '../redis-cluster.ts';
import { BENCH_REDIS_URL, benchRedis, resetPriceJobs, resetQuotaCounters } from '../redis.ts';
import type { Service } from '../service-launcher.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import { comparison, ms, percent, SELLERS } from './common.ts';
import type { Comparison, PreparedScenario, RequestVariant, Scenario, Summaries } from './types.ts';

const SELLER = SELLERS.enterprise;
const READ_RATE = 100;
const WRITE_RATE = 25;
/** Long enough to hold the kill, the failover (about 4 s) and the recovery. */
const DURATION_S = { full: 20, smoke: 12 };
const FAULT_AFTER_MS = 2_000;
const UNAVAILABLE = [
  { status: 503, code: 'FACET_ERR_STATE_UNAVAILABLE' },
  { status: 503, code: 'FACET_ERR_BUS_UNAVAILABLE' },
  { status: 503 },
] as const;

const ROWS = {
  singleReads: 'reads, single-node Redis',
  clusterReads: 'reads, Redis Cluster, master killed',
  singleWrites: 'writes, single-node Redis',
  clusterWrites: 'writes, Redis Cluster, master killed',
  brokerReads: 'reads, RabbitMQ cluster, node lost',
  brokerWrites: 'writes, RabbitMQ cluster, node lost',
} as const;

const ORDER = { parameters: { material: 'gold_18k_yellow', size_mm: 16, finish: 'polished' }, customer: { name: 'Bench Customer', email: 'bench.customer@example.com' }, shipping: { name: 'Bench Customer', line1: '1 Load Street', city: 'Paris', postal_code: '75001', country: 'FR' } };

function binaryStl(triangles: number): Buffer {
  const buffer = Buffer.alloc(84 + 50 * triangles);
  buffer.write('facet bench model', 0, 'ascii');
  buffer.writeUInt32LE(triangles, 80);
  for (let i = 0; i < triangles; i++) for (let f = 0; f < 12; f++) buffer.writeFloatLE(((i * 12 + f) % 97) * 0.1 + 1, 84 + 50 * i + f * 4);
  return buffer;
}

async function uploadModel(gateway: Service): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/models`, { method: 'POST', headers: { 'x-api-key': SELLER.key, 'content-type': 'application/octet-stream' }, body: binaryStl(40) });
  if (res.status !== 201) throw new Error(`cluster-failover: model upload answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** A fault a row injects during each of its measurements, and how the cluster is made whole after it. */
interface Fault {
  /** Injects the fault, then resolves once the cluster serves again (polled while the load runs). */
  inject(): Promise<InjectedFault>;
  /** The stack's last warnings and errors, logged after a long outage (why it lasted). */
  explain?(): string;
}

interface InjectedFault {
  /** What was done, in the report's words. */
  victim: string;
  recoveredMs: number;
  /** After the measurement: the node back in the cluster, the cluster whole. */
  restore(): Promise<void>;
}

/**
 * Injects `fault` FAULT_AFTER_MS after the first request of each
 * measurement (the load generator builds every request of these rows, so the
 * first build marks the start), and restores after it. The very first build
 * is the runner's check request, before any load: it arms.
 */
class FaultChaos {
  faults: { round: number; victim: string; recoveredMs: number; longestGapMs: number }[] = [];
  private armed = false;
  /** 2xx arrivals of the current measurement: the longest stretch without one is the outage a client saw. */
  private lastOkAt = 0;
  private longestGapMs = 0;
  private checked = false;
  private injecting: Promise<InjectedFault> | undefined;
  private readonly fault: Fault;
  private readonly log: (line: string) => void;

  constructor(fault: Fault, log: (line: string) => void) {
    this.fault = fault;
    this.log = log;
  }

  onRequest(): void {
    if (!this.checked) {
      this.checked = true;
      this.armed = true;
      return;
    }
    if (!this.armed) return;
    this.armed = false;
    this.lastOkAt = Date.now();
    this.longestGapMs = 0;
    this.injecting = sleep(FAULT_AFTER_MS).then(() => this.fault.inject());
  }

  /** Each 2xx answer of the row, as it arrives. */
  onOk(): void {
    const now = Date.now();
    if (this.lastOkAt > 0) this.longestGapMs = Math.max(this.longestGapMs, now - this.lastOkAt);
    this.lastOkAt = now;
  }

  /** After a measurement: waits for the recovery, restores the node, waits for a whole cluster; arms again. */
  async restore(round: number): Promise<void> {
    if (!this.injecting) throw new Error('cluster-failover: no fault was injected during the measurement');
    const { victim, recoveredMs, restore } = await this.injecting;
    this.injecting = undefined;
    // A row whose 2xx never came back has its outage run to the end of the measurement.
    const longestGapMs = Math.max(this.longestGapMs, this.lastOkAt > 0 ? Date.now() - this.lastOkAt : 0);
    this.lastOkAt = 0;
    await restore();
    this.faults.push({ round, victim, recoveredMs, longestGapMs });
    if (longestGapMs > 2 * recoveredMs && this.fault.explain) this.log(`round ${round}: the outage outlasted the recovery; the stack's last warnings:\n${this.fault.explain()}`);
    this.log(`round ${round}: ${victim}: served again after ${recoveredMs} ms, longest stretch without a 2xx ${longestGapMs} ms; the node is back in the cluster`);
    this.armed = true;
  }
}

/** The Redis master of the seller's quota slot, SIGKILLed; recovered when every slot has a live master again. */
function redisMasterKill(cluster: RedisClusterHandle): Fault {
  return {
    async inject() {
      const victim = await cluster.masterOf(`{${SELLER.id}}`);
      const killedAt = Date.now();
      await cluster.kill(victim);
      await cluster.waitHealthy(60_000, victim);
      return {
        victim: `Redis master :${victim} SIGKILLed`,
        recoveredMs: Date.now() - killedAt,
        async restore() {
          await cluster.restart(victim);
          await cluster.waitHealthy(60_000);
          await cluster.waitSynced(60_000);
        },
      };
    },
  };
}

/** Both processes' own view of their broker connection (/readyz: the gateway's `rabbitmq` check, the adapters' `bus`; no round trip, no rabbitmqctl on the measured cores). */
async function busConnected(services: readonly Service[]): Promise<boolean> {
  const states = await Promise.all(
    services.map(async (service) => {
      const res = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      const body = (await res?.json().catch(() => undefined)) as { checks?: Record<string, { status?: string }> } | undefined;
      return (body?.checks?.rabbitmq ?? body?.checks?.bus)?.status === 'up';
    }),
  );
  return states.every(Boolean);
}

/**
 * The broker node the stack's gateway and adapters are connected to, shut
 * down (`rabbitmqctl shutdown`: its connections drop, its quorum queue
 * members go; the other two keep the majority). Recovered when both
 * processes say their bus is connected again (to another node). Restored:
 * the node started again, and every quorum queue with a quorum plus one
 * members online, so the next round's loss loses no majority.
 */
function brokerNodeLoss(rabbit: RabbitClusterHandle, stack: readonly Service[]): Fault {
  const explain = () =>
    stack
      .flatMap((service) => warningLines(service.process.output()).slice(-8).map((line) => `  ${service.name}: ${line.slice(0, 400)}`))
      .join('\n');
  // Chosen between measurements (rabbitmqctl boots an Erlang VM: not on the measured cores' time).
  const pickVictim = async () => {
    const counts = await rabbit.connectionCounts();
    return { node: rabbit.nodes[counts.indexOf(Math.max(...counts))]!, counts };
  };
  const picked = () => {
    const p = pickVictim();
    p.catch(() => undefined); // awaited (and thrown) by inject
    return p;
  };
  let next: Promise<{ node: RabbitNode; counts: number[] }> | undefined = picked();
  return {
    async inject() {
      const { node, counts } = await (next ?? pickVictim());
      next = undefined;
      const stoppedAt = Date.now();
      await rabbit.stop(node);
      const deadline = Date.now() + 60_000;
      while (!(await busConnected(stack))) {
        if (Date.now() > deadline) throw new Error(`cluster-failover: the stack did not reconnect within 60 s of ${node.name}'s shutdown`);
        await sleep(100);
      }
      return {
        victim: `broker node ${node.name} shut down (connections per node before: ${counts.join('/')})`,
        recoveredMs: Date.now() - stoppedAt,
        async restore() {
          await rabbit.start(node);
          for (const n of rabbit.nodes) await rabbit.awaitQuorumPlusOne(n);
          next = picked();
          await next;
        },
      };
    },
    explain,
  };
}

/** 2xx answers per second over requests offered per second (open loop): what a client saw answered. */
function availability(summaries: Summaries, name: string): string {
  const s = summaries.get(name);
  return s?.offeredPerSec ? percent(s.okPerSec / s.offeredPerSec, 2) : 'n/a';
}

function compare(summaries: Summaries, chaos: { redis: FaultChaos[]; broker: FaultChaos[] }, faultRows: ReadonlyMap<string, FaultChaos>): Comparison[] {
  const rows: Comparison[] = [];
  for (const name of Object.values(ROWS)) {
    const s = summaries.get(name);
    rows.push(comparison(`${name}: availability (2xx share) / p99 of the 2xx`, `${availability(summaries, name)} / ${ms(s?.p99Ms)}`));
  }
  for (const [name, c] of faultRows) rows.push(comparison(`${name}: longest stretch without a 2xx answer, per round (ms)`, c.faults.map((f) => f.longestGapMs).join(', ')));
  const times = (list: FaultChaos[]) => list.flatMap((c) => c.faults.map((f) => f.recoveredMs)).sort((a, b) => a - b);
  const failovers = times(chaos.redis);
  if (failovers.length > 0) rows.push(comparison('Redis master killed → cluster_state ok (per kill, ms)', failovers.join(', ')));
  const moves = times(chaos.broker);
  if (moves.length > 0) rows.push(comparison('broker node shut down → gateway and adapters connected to another node (per loss, ms)', moves.join(', ')));
  return rows;
}

interface Stack {
  gateway: Service;
  adapters: Service;
}

async function startStack(group: ProcessGroup, up: { crm: Service; mes: Service }, name: string, env: Record<string, string>): Promise<Stack> {
  const adapters = await startAdapters(group, up, env);
  const gateway = await startGateway(group, up, { name, config: [unlimitedQuotaFor(SELLER.id), unlimitedPriceJobsFor(SELLER.id)], env: { ...env, FACET_ADAPTERS: 'external' } });
  return { gateway, adapters };
}

export const clusterFailover: Scenario = {
  name: 'cluster-failover',
  smoke: false,
  description: `Reads (${READ_RATE}/s) and order writes (${WRITE_RATE}/s), open loop, while a Redis Cluster master is SIGKILLed and its replica takes over, and while the RabbitMQ cluster node the stack is connected to is shut down, against the same load on a single-node Redis and broker: availability and p99.`,
  async prepare({ group, settings, log }): Promise<PreparedScenario> {
    const single = await benchRedis(group);
    await resetQuotaCounters(single, [SELLER.id]);
    // Its orders never get a price (the MES publishes under no prefix of the run): their slots would outlive it.
    group.onStop(() => resetPriceJobs(single, [SELLER.id]));
    const cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    group.onStop(() => cluster.close());
    log(`Redis Cluster on ${cluster.seeds}`);
    const rabbitStartedAt = Date.now();
    const rabbit = await startRabbitCluster(3);
    group.onStop(() => rabbit.close());
    log(`RabbitMQ cluster ${rabbit.nodes.map((n) => `${n.name} :${n.port}`).join(', ')} up in ${Date.now() - rabbitStartedAt} ms`);
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    const up = { crm, mes };
    const prefixes = { single: runPrefix(), cluster: runPrefix(), broker: runPrefix() };
    for (const prefix of [prefixes.single, prefixes.cluster]) deleteTopologyOnStop(group, prefix, log);
    const localBus = (prefix: string) => ({ AMQP_URL: BENCH_AMQP_URL, AMQP_PREFIX: prefix });
    const stacks = {
      single: await startStack(group, up, 'gateway-single', { ...localBus(prefixes.single), REDIS_URL: BENCH_REDIS_URL }),
      cluster: await startStack(group, up, 'gateway-cluster', { ...localBus(prefixes.cluster), REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds }),
      // Node 1 first in the list: both processes connect there, the first round's loss moves them.
      broker: await startStack(group, up, 'gateway-broker', { AMQP_URL: rabbit.nodes.map((n) => n.url).join(','), AMQP_PREFIX: prefixes.broker, AMQP_QUORUM_GROUP_SIZE: '3', REDIS_URL: BENCH_REDIS_URL }),
    };
    const models = { single: await uploadModel(stacks.single.gateway), cluster: await uploadModel(stacks.cluster.gateway), broker: await uploadModel(stacks.broker.gateway) };
    const durationS = DURATION_S[settings.mode];
    const reads = { kind: 'open', ratePerSec: READ_RATE, durationS } as const;
    const writes = { kind: 'open', ratePerSec: WRITE_RATE, durationS } as const;
    const redisFault = redisMasterKill(cluster);
    const brokerFault = brokerNodeLoss(rabbit, [stacks.broker.gateway, stacks.broker.adapters]);
    const chaos = {
      redis: { reads: new FaultChaos(redisFault, log), writes: new FaultChaos(redisFault, log) },
      broker: { reads: new FaultChaos(brokerFault, log), writes: new FaultChaos(brokerFault, log) },
    };
    let keys = 0;
    const headers = { 'x-api-key': SELLER.key };
    const read = (gateway: Service, onRequest?: () => void): RequestVariant['request'] => ({
      url: `${gateway.url}/v1/orders?limit=5`,
      headers,
      ...(onRequest
        ? {
            perRequestHeaders: () => {
              onRequest();
              return {};
            },
          }
        : {}),
    });
    const write = (gateway: Service, model: string, prefix: string, onRequest?: () => void): RequestVariant['request'] => ({
      method: 'POST',
      url: `${gateway.url}/v1/orders`,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ model_id: model, ...ORDER }),
      perRequestHeaders: () => {
        onRequest?.();
        return { 'idempotency-key': `${prefix}-${keys++}` };
      },
    });
    const faultRow = (c: FaultChaos): Partial<RequestVariant> => ({
      warmupS: 0,
      expected: UNAVAILABLE,
      onOk: () => c.onOk(),
      settle: (_signal, phase) => c.restore(phase.round),
    });
    const faultRows = new Map([
      [ROWS.clusterReads, chaos.redis.reads],
      [ROWS.brokerReads, chaos.broker.reads],
      [ROWS.clusterWrites, chaos.redis.writes],
      [ROWS.brokerWrites, chaos.broker.writes],
    ]);
    const redisKill = `the master of {${SELLER.id}} SIGKILLed ${FAULT_AFTER_MS} ms in`;
    const brokerLoss = `gateway and adapters on a three-node RabbitMQ (quorum queues on all three); the node they are connected to shut down ${FAULT_AFTER_MS} ms in`;
    return {
      variants: [
        { name: ROWS.singleReads, description: `GET /v1/orders?limit=5, ${SELLER.id}, gateway on ${BENCH_REDIS_URL} and ${BENCH_AMQP_URL_SHOWN}`, request: read(stacks.single.gateway), load: reads },
        { name: ROWS.clusterReads, description: `the same, gateway on the Redis Cluster; ${redisKill}`, request: read(stacks.cluster.gateway, () => chaos.redis.reads.onRequest()), load: reads, ...faultRow(chaos.redis.reads) },
        { name: ROWS.brokerReads, description: `the same, ${brokerLoss}`, request: read(stacks.broker.gateway, () => chaos.broker.reads.onRequest()), load: reads, ...faultRow(chaos.broker.reads) },
        { name: ROWS.singleWrites, description: `POST /v1/orders, a new Idempotency-Key each, gateway on ${BENCH_REDIS_URL} and ${BENCH_AMQP_URL_SHOWN}`, request: write(stacks.single.gateway, models.single, prefixes.single), load: writes },
        { name: ROWS.clusterWrites, description: `the same, gateway on the Redis Cluster; ${redisKill}`, request: write(stacks.cluster.gateway, models.cluster, prefixes.cluster, () => chaos.redis.writes.onRequest()), load: writes, ...faultRow(chaos.redis.writes) },
        { name: ROWS.brokerWrites, description: `the same, ${brokerLoss}`, request: write(stacks.broker.gateway, models.broker, prefixes.broker, () => chaos.broker.writes.onRequest()), load: writes, ...faultRow(chaos.broker.writes) },
      ],
      cpu: [
        { label: 'gateway (single)', pid: stacks.single.gateway.process.pid },
        { label: 'gateway (Redis Cluster)', pid: stacks.cluster.gateway.process.pid },
        { label: 'gateway (RabbitMQ cluster)', pid: stacks.broker.gateway.process.pid },
      ],
      notes: [
        `Three stacks, children of the harness on loopback: CRM and MES simulators (shared), and per stack \`node adapters/main.ts\` and the gateway (FACET_ADAPTERS=external, NODE_ENV=production, ${SELLER.id}'s plan raised out of reach, its concurrent price jobs too), each on its own AMQP prefix. The reference stack on ${BENCH_REDIS_URL} and the local broker (${BENCH_AMQP_URL_SHOWN}); the Redis Cluster stack with REDIS_CLUSTER_NODES on six \`redis-server --cluster-enabled yes\` (cluster-node-timeout 2 s, AOF, tmp dir removed at the end) joined by \`redis-cli --cluster create --cluster-replicas 1\`, on the local broker; the RabbitMQ cluster stack on ${BENCH_REDIS_URL} with AMQP_URL naming three \`rabbitmq-server\` nodes beside the machine's own (own node names, ports and data dirs, joined with \`rabbitmqctl join_cluster\`, shut down at the end) and AMQP_QUORUM_GROUP_SIZE=3.`,
        `Each row ${durationS} s open loop per round, latency from each request's scheduled send time. In every round of a Redis Cluster row, ${FAULT_AFTER_MS} ms after its first request the master serving {${SELLER.id}} (the seller's quota windows; a third of every other key) is SIGKILLed; its replica is promoted after the node timeout and an election; after the round the node is started again (it rejoins as a replica) and the next row waits for a whole, synced cluster. In every round of a RabbitMQ cluster row, ${FAULT_AFTER_MS} ms after its first request the node holding the stack's connections is shut down (\`rabbitmqctl shutdown\`): its connections drop and its quorum queue members go, the other two keep the majority; the gateway and the adapters reconnect to the next URL; after the round the node is started again and the next row waits until every quorum queue has a quorum plus one online (\`rabbitmq-upgrade await_online_quorum_plus_one\`). The reference rows have no fault.`,
        '503 answers (FACET_ERR_STATE_UNAVAILABLE: a write whose record sits on the dead Redis master; FACET_ERR_BUS_UNAVAILABLE: a write while the gateway has no broker connection) are expected on the fault rows and reported, not counted as errors: availability is the share of 2xx among all answers; the longest stretch without a 2xx (between consecutive 2xx arrivals, from the first request of the row) is the outage a client saw. Reads fall back to the upstream and quotas to the insurance limiter, and no read needs the broker, so reads should stay available.',
        'The MES simulator publishes its events under none of the prefixes: the orders are accepted (202 after the broker confirmed the command) and created in the CRM, their sagas then wait for a price; nothing here measures beyond the 202. That no accepted order is lost or duplicated across a node loss is asserted by test/cluster/rabbitmq-cluster.test.ts and test/cluster/redis-cluster.test.ts.',
      ],
      compare: (summaries) => compare(summaries, { redis: [chaos.redis.reads, chaos.redis.writes], broker: [chaos.broker.reads, chaos.broker.writes] }, faultRows),
      validate: () => {
        const problems: string[] = [];
        for (const [row, c] of faultRows) if (c.faults.length !== settings.rounds) problems.push(`${row}: ${c.faults.length} faults injected in ${settings.rounds} rounds`);
        return problems;
      },
    };
  },
};
