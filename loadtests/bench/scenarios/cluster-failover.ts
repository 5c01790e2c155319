// Read and write availability and p99 while a Redis Cluster master fails
// over (issue 18), against the same load on a single-node Redis. Two stacks
// side by side, each a gateway (FACET_ADAPTERS=external) and an adapters
// process on its own AMQP prefix of the local broker: one on the
// benchmark's single Redis, one on a Redis Cluster the scenario starts on
// loopback (three masters, three replicas, cluster-node-timeout 2 s). In
// every measurement of a cluster row, KILL_AFTER_MS after its first
// request, the master holding the seller's quota slot is SIGKILLed; after
// the measurement it is started again (it rejoins as a replica) and the
// harness waits for the cluster to be whole before the next one.
//
// The broker node loss is measured by test/cluster/rabbitmq-cluster.test.ts
// (1,000 orders across a node's shutdown), not here: starting and stopping
// a three-node RabbitMQ per round would make a run minutes longer.

import { setTimeout as sleep } from 'node:timers/promises';
import { startAdapters } from '../adapters-service.ts';
import { unlimitedQuotaFor, type ConfigEdit } from '../gateway-config.ts';
import { startGateway } from '../gateway-service.ts';
import type { ProcessGroup } from '../processes.ts';
import { BENCH_AMQP_URL, BENCH_AMQP_URL_SHOWN, deleteTopologyOnStop, runPrefix } from '../rabbitmq.ts';
import { startRedisCluster, type RedisClusterHandle } from '../redis-cluster.ts';
import { BENCH_REDIS_URL, benchRedis, resetQuotaCounters } from '../redis.ts';
import type { Service } from '../service-launcher.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import { comparison, ms, percent, SELLERS } from './common.ts';
import type { Comparison, PreparedScenario, RequestVariant, Scenario, Summaries } from './types.ts';

const SELLER = SELLERS.enterprise;
const READ_RATE = 100;
const WRITE_RATE = 25;
/** Long enough to hold the kill, the failover (about 4 s) and the recovery. */
const DURATION_S = { full: 20, smoke: 12 };
const KILL_AFTER_MS = 2_000;
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

/**
 * Kills the master of the seller's quota slot KILL_AFTER_MS after the first
 * request of each measurement (the load generator builds every request of
 * these rows, so the first build marks the start), and restores it after.
 * The very first build is the runner's check request, before any load: it arms.
 */
class FailoverChaos {
  kills: { round: number; victim: number; failoverMs: number }[] = [];
  private armed = false;
  private checked = false;
  private killing: Promise<void> | undefined;
  private readonly cluster: RedisClusterHandle;
  private readonly log: (line: string) => void;
  private victim = 0;
  private failoverMs = 0;

  constructor(cluster: RedisClusterHandle, log: (line: string) => void) {
    this.cluster = cluster;
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
    this.killing = (async () => {
      await sleep(KILL_AFTER_MS);
      this.victim = await this.cluster.masterOf(`{${SELLER.id}}`);
      const killedAt = Date.now();
      await this.cluster.kill(this.victim);
      // Polled while the load runs: the time until every slot has a live master again.
      await this.cluster.waitHealthy(60_000, this.victim);
      this.failoverMs = Date.now() - killedAt;
    })();
  }

  /** After a measurement: waits for the failover, restarts the killed node, waits for a whole cluster; arms again. */
  async restore(round: number): Promise<void> {
    if (!this.killing) throw new Error('cluster-failover: no master was killed during the measurement');
    await this.killing;
    this.killing = undefined;
    const failoverMs = this.failoverMs;
    await this.cluster.restart(this.victim);
    await this.cluster.waitHealthy(60_000);
    await this.cluster.waitSynced(60_000);
    this.kills.push({ round, victim: this.victim, failoverMs });
    this.log(`round ${round}: master ${this.victim} killed, every slot served again after ${failoverMs} ms; the node is back as a replica`);
    this.armed = true;
  }
}

/** 2xx answers per second over requests offered per second (open loop): what a client saw answered. */
function availability(summaries: Summaries, name: string): string {
  const s = summaries.get(name);
  return s?.offeredPerSec ? percent(s.okPerSec / s.offeredPerSec, 2) : 'n/a';
}

function compare(summaries: Summaries, chaos: FailoverChaos[]): Comparison[] {
  const rows: Comparison[] = [];
  for (const name of Object.values(ROWS)) {
    const s = summaries.get(name);
    rows.push(comparison(`${name}: availability (2xx share) / p99 of the 2xx`, `${availability(summaries, name)} / ${ms(s?.p99Ms)}`));
  }
  const failovers = chaos.flatMap((c) => c.kills.map((k) => k.failoverMs)).sort((a, b) => a - b);
  if (failovers.length > 0) rows.push(comparison('master killed → cluster_state ok (per kill, ms)', failovers.join(', ')));
  return rows;
}

/** Orders without a quote hold a price-job slot until their first status change: not what this scenario measures. */
const unlimitedPriceJobs: ConfigEdit = (config) => {
  const plans = (config.plans ?? {}) as Record<string, Record<string, unknown>>;
  const plan = plans[SELLER.plan];
  if (!plan) throw new Error(`gateway.config.yml: no plan ${SELLER.plan}`);
  plan.concurrentPriceJobs = 1_000_000;
};

async function startStack(group: ProcessGroup, up: { crm: Service; mes: Service }, prefix: string, redisEnv: Record<string, string>, name: string): Promise<Service> {
  const amqp = { AMQP_URL: BENCH_AMQP_URL, AMQP_PREFIX: prefix };
  await startAdapters(group, up, { ...amqp, ...redisEnv });
  return startGateway(group, up, { name, config: [unlimitedQuotaFor(SELLER.id), unlimitedPriceJobs], env: { ...amqp, ...redisEnv, FACET_ADAPTERS: 'external' } });
}

export const clusterFailover: Scenario = {
  name: 'cluster-failover',
  smoke: false,
  description: `Reads (${READ_RATE}/s) and order writes (${WRITE_RATE}/s), open loop, while a Redis Cluster master is SIGKILLed and its replica takes over, against the same load on a single-node Redis: availability and p99.`,
  async prepare({ group, settings, log }): Promise<PreparedScenario> {
    const single = await benchRedis(group);
    await resetQuotaCounters(single, [SELLER.id]);
    const cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    group.onStop(() => cluster.close());
    log(`Redis Cluster on ${cluster.seeds}`);
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    const up = { crm, mes };
    const prefixes = { single: runPrefix(), cluster: runPrefix() };
    for (const prefix of Object.values(prefixes)) deleteTopologyOnStop(group, prefix, log);
    const singleGateway = await startStack(group, up, prefixes.single, { REDIS_URL: BENCH_REDIS_URL }, 'gateway-single');
    const clusterGateway = await startStack(group, up, prefixes.cluster, { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds }, 'gateway-cluster');
    const models = { single: await uploadModel(singleGateway), cluster: await uploadModel(clusterGateway) };
    const durationS = DURATION_S[settings.mode];
    const reads = { kind: 'open', ratePerSec: READ_RATE, durationS } as const;
    const writes = { kind: 'open', ratePerSec: WRITE_RATE, durationS } as const;
    const chaos = { reads: new FailoverChaos(cluster, log), writes: new FailoverChaos(cluster, log) };
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
    const clusterRow = (c: FailoverChaos): Partial<RequestVariant> => ({
      warmupS: 0,
      expected: UNAVAILABLE,
      settle: (_signal, phase) => c.restore(phase.round),
    });
    return {
      variants: [
        { name: ROWS.singleReads, description: `GET /v1/orders?limit=5, ${SELLER.id}, gateway on ${BENCH_REDIS_URL}`, request: read(singleGateway), load: reads },
        { name: ROWS.clusterReads, description: `the same, gateway on the Redis Cluster; the master of {${SELLER.id}} SIGKILLed ${KILL_AFTER_MS} ms in`, request: read(clusterGateway, () => chaos.reads.onRequest()), load: reads, ...clusterRow(chaos.reads) },
        { name: ROWS.singleWrites, description: `POST /v1/orders, a new Idempotency-Key each, gateway on ${BENCH_REDIS_URL}`, request: write(singleGateway, models.single, prefixes.single), load: writes },
        {
          name: ROWS.clusterWrites,
          description: `the same, gateway on the Redis Cluster; the master of {${SELLER.id}} SIGKILLed ${KILL_AFTER_MS} ms in`,
          request: write(clusterGateway, models.cluster, prefixes.cluster, () => chaos.writes.onRequest()),
          load: writes,
          ...clusterRow(chaos.writes),
        },
      ],
      cpu: [
        { label: 'gateway (single)', pid: singleGateway.process.pid },
        { label: 'gateway (cluster)', pid: clusterGateway.process.pid },
      ],
      notes: [
        `Two stacks, children of the harness on loopback: CRM and MES simulators (shared), and per stack \`node adapters/main.ts\` and the gateway (FACET_ADAPTERS=external, NODE_ENV=production, ${SELLER.id}'s plan raised out of reach, its concurrent price jobs too), each on its own AMQP prefix of the local broker (${BENCH_AMQP_URL_SHOWN}; deleted at the end). One stack on ${BENCH_REDIS_URL}, the other with REDIS_CLUSTER_NODES on six \`redis-server --cluster-enabled yes\` (cluster-node-timeout 2 s, AOF, tmp dir removed at the end) joined by \`redis-cli --cluster create --cluster-replicas 1\`.`,
        `Each row ${durationS} s open loop per round, latency from each request's scheduled send time. In every round of a cluster row, ${KILL_AFTER_MS} ms after its first request the master serving {${SELLER.id}} (the seller's quota windows; a third of every other key) is SIGKILLed; its replica is promoted after the node timeout and an election. After the round the node is started again (it rejoins as a replica) and the next row waits for a whole, synced cluster. The single-node rows have no fault: they are the reference.`,
        '503 answers (FACET_ERR_STATE_UNAVAILABLE: a write whose record sits on the dead master) are expected on the cluster rows and reported, not counted as errors: availability is the share of 2xx among all answers. Reads fall back to the upstream and quotas to the insurance limiter, so reads should stay available.',
        'The MES simulator publishes its events under neither prefix: the orders are accepted (202 after the broker confirmed the command) and created in the CRM, their sagas then wait for a price; nothing here measures beyond the 202.',
        'The broker node loss is measured by test/cluster/rabbitmq-cluster.test.ts (1,000 orders across a node shutdown), not here.',
      ],
      compare: (summaries) => compare(summaries, [chaos.reads, chaos.writes]),
      validate: () => {
        const problems: string[] = [];
        for (const [row, c] of [[ROWS.clusterReads, chaos.reads], [ROWS.clusterWrites, chaos.writes]] as const) {
          if (c.kills.length !== settings.rounds) problems.push(`${row}: ${c.kills.length} masters killed in ${settings.rounds} rounds`);
        }
        return problems;
      },
    };
  },
};
