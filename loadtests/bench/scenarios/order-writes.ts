// The write path (issue 5: "Accepted POST /v1/orders per second with
// confirms on, p99 of the 202, and the end-to-end time from 202 to
// MANUFACTURING_APPROVED at simulator speed"). The whole stack runs as
// children of the harness on RabbitMQ and Redis: the CRM simulator, the MES
// simulator publishing its events on the bus, the adapters and the saga
// (`node adapters/main.ts`), and the gateway with FACET_ADAPTERS=external.
// One model is uploaded, then orders for it are placed with a fresh
// Idempotency-Key each, open loop at a fixed rate and closed loop (the
// most the stack accepts). A consumer of `order.status_changed` in the
// harness (its own exclusive queue on the run's events exchange) sees each
// order reach MANUFACTURING_APPROVED; after each measurement the harness
// waits for every order it accepted to finish its saga before the next.
//
// Everything the run creates is its own: a unique AMQP prefix (its queues
// and exchanges are deleted at the end) and, in Redis database 9, only the
// keys of its orders, its model and its idempotency keys (deleted at the end).

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'amqplib';
import type { Redis } from 'ioredis';
import { unlimitedPriceJobsFor, unlimitedQuotaFor } from '../gateway-config.ts';
import type { CounterProbe, CpuProbe, Measurement } from '../measure.ts';
import { startAdapters } from '../adapters-service.ts';
import { startGateway } from '../gateway-service.ts';
import { BENCH_REDIS_URL, benchRedis, resetPriceJobs, resetQuotaCounters } from '../redis.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import type { ProcessGroup } from '../processes.ts';
import { BENCH_AMQP_URL, BENCH_AMQP_URL_SHOWN, brokerCpuProbe, deleteTopologyOnStop, runPrefix } from '../rabbitmq.ts';
import { medianOfFinite, nearestRankPercentile } from '../statistics.ts';
import { commandsPerRequest, comparison, ms, perSec, ratio, redisCpuProbe, redisProbe, SELLERS } from './common.ts';
import type { Comparison, PreparedScenario, Scenario, Summaries, VariantSummary } from './types.ts';

const SELLER = SELLERS.enterprise;
/** Simulated seconds per real second: the simplest price job (120 simulated s) takes 33 ms; manufacturing (4 h + 1 h + 1 h) 6 s. */
const TIME_SCALE = 3600;
/** Out of reach: at the default 50 jobs in MANUFACTURING_STARTED the MES would refuse (REJECTED) most orders of a run. */
const MES_CAPACITY = 1_000_000;
const OPEN_RATE = 50;
const MODEL_TRIANGLES = 40;
/** After a measurement, how long to wait for its orders to finish their saga before reporting the rest as unfinished. */
const SETTLE_MAX_MS = { full: 120_000, smoke: 30_000 };
const TERMINAL = new Set(['SHIPPED', 'REJECTED', 'CANCELLED']);
const APPROVED = 'MANUFACTURING_APPROVED';
/** The harness's own queue of status events (under the run's prefix). */
const OBSERVER_QUEUE = 'bench.observer';

const OPEN = `open loop, ${OPEN_RATE}/s`;
const CLOSED = 'closed loop';
const GATEWAY_CPU = 'gateway';
const ADAPTERS_CPU = 'adapters';
const CRM_CPU = 'CRM sim';
const MES_CPU = 'MES sim';

const ORDER_BODY_PARAMETERS = { material: 'gold_18k_yellow', size_mm: 16, finish: 'polished' };
const CUSTOMER = { name: 'Bench Customer', email: 'bench.customer@example.com' };
const SHIPPING = { name: 'Bench Customer', line1: '1 Load Street', city: 'Paris', postal_code: '75001', country: 'FR' };

/** A binary STL with `triangles` facets (as test/helpers/models.ts makes them). */
function binaryStl(triangles: number): Buffer {
  const buffer = Buffer.alloc(84 + 50 * triangles);
  buffer.write('facet bench model', 0, 'ascii');
  buffer.writeUInt32LE(triangles, 80);
  for (let i = 0; i < triangles; i++) {
    const at = 84 + 50 * i;
    for (let f = 0; f < 12; f++) buffer.writeFloatLE(((i * 12 + f) % 97) * 0.1 + 1, at + f * 4);
  }
  return buffer;
}

/** Cumulative bucket counts of facet_bus_publish_confirm_seconds{exchange="commands"} from the gateway's /metrics, as `le:<bound>`, plus count and sum. */
function confirmProbe(gatewayUrl: string): CounterProbe {
  return {
    label: 'confirm',
    async read() {
      const response = await fetch(`${gatewayUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
      const text = await response.text();
      const out: Record<string, number> = {};
      for (const line of text.split('\n')) {
        if (!line.startsWith('facet_bus_publish_confirm_seconds') || !line.includes('exchange="commands"')) continue;
        const value = Number(line.slice(line.lastIndexOf(' ') + 1));
        const le = /le="([^"]+)"/.exec(line)?.[1];
        if (line.startsWith('facet_bus_publish_confirm_seconds_bucket') && le !== undefined) out[`le:${le}`] = value;
        else if (line.startsWith('facet_bus_publish_confirm_seconds_count')) out.count = value;
        else if (line.startsWith('facet_bus_publish_confirm_seconds_sum')) out.sum = value;
      }
      return out;
    },
  };
}

/** A quantile of one measurement's confirm histogram (differences of cumulative buckets), interpolated within its bucket as Prometheus's histogram_quantile does; ms. */
function confirmQuantileMs(m: Measurement, q: number): number | undefined {
  const buckets = Object.entries(m.counters)
    .filter(([key]) => key.startsWith('confirm.le:'))
    .map(([key, count]) => ({ le: key === 'confirm.le:+Inf' ? Number.POSITIVE_INFINITY : Number(key.slice('confirm.le:'.length)), count }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lowerLe * 1000; // above the last bound: the bound is all we know
      const inBucket = b.count - lowerCount;
      return (lowerLe + (b.le - lowerLe) * (inBucket > 0 ? (rank - lowerCount) / inBucket : 1)) * 1000;
    }
    lowerLe = b.le;
    lowerCount = b.count;
  }
  return undefined;
}

interface E2eRound {
  round: number;
  accepted: number;
  approved: number;
  rejected: number;
  unfinished: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** This run's keys in the benchmark's Redis database: its orders' saga state and pending records, its model, its idempotency keys. */
async function deleteRunKeys(redis: Redis, orderIds: Iterable<string>, modelId: string | undefined, idempotencyKeys: readonly string[], log: (line: string) => void): Promise<void> {
  const keys: string[] = [];
  for (const id of orderIds) keys.push(`facet:saga:${id}`, `facet:saga:${id}:lock`, `facet:order:${id}`);
  if (modelId) keys.push(`facet:model:${modelId}`);
  // As policies/idempotency stores them: per seller, method and route, the key hashed.
  for (const key of idempotencyKeys) keys.push(`facet:idem:${SELLER.id}:POST:/v1/orders:${createHash('sha256').update(key).digest('base64url')}`);
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 1000) deleted += await redis.del(...keys.slice(i, i + 1000));
  log(`deleted ${deleted} keys of this run from ${BENCH_REDIS_URL}`);
}

interface Tracker {
  /** 202s of the measurement in progress, per variant: order id and when the answer arrived (epoch ms). */
  pending: Map<string, { id: string; at: number }[]>;
  /** Per order: when it reached MANUFACTURING_APPROVED (the event's `at`, epoch ms). */
  approvedAt: Map<string, number>;
  /** Per order: its terminal status, once reached. */
  terminal: Map<string, string>;
  /** Every order id seen on the bus (for the clean-up). */
  seen: Set<string>;
}

async function observe(group: ProcessGroup, url: string, prefix: string, tracker: Tracker): Promise<void> {
  const connection = await connect(url);
  connection.on('error', () => undefined);
  group.onStop(() => connection.close().catch(() => undefined));
  const ch = await connection.createChannel();
  const exchange = `${prefix}.events`;
  // As platform/bus/topology.ts declares it (the same arguments, or the broker refuses).
  await ch.assertExchange(exchange, 'topic', { durable: true, autoDelete: false });
  const { queue } = await ch.assertQueue(`${prefix}.${OBSERVER_QUEUE}`, { exclusive: true, autoDelete: true, durable: false });
  await ch.bindQueue(queue, exchange, 'order.status_changed');
  await ch.consume(
    queue,
    (msg) => {
      if (!msg) return;
      try {
        const event = JSON.parse(msg.content.toString('utf8')) as { order_id: string; status: string; at: string };
        tracker.seen.add(event.order_id);
        if (event.status === APPROVED && !tracker.approvedAt.has(event.order_id)) tracker.approvedAt.set(event.order_id, Date.parse(event.at));
        if (TERMINAL.has(event.status)) tracker.terminal.set(event.order_id, event.status);
      } catch {
        // not ours to judge: the saga's own consumers handle bad messages
      }
    },
    { noAck: true },
  );
}

function e2eSummary(rounds: readonly E2eRound[] | undefined): { p50: number; p99: number; max: number; accepted: number; approved: number; rejected: number; unfinished: number } | undefined {
  if (!rounds || rounds.length === 0) return undefined;
  return {
    p50: medianOfFinite(rounds.map((r) => r.p50Ms)),
    p99: medianOfFinite(rounds.map((r) => r.p99Ms)),
    max: medianOfFinite(rounds.map((r) => r.maxMs)),
    accepted: rounds.reduce((s, r) => s + r.accepted, 0),
    approved: rounds.reduce((s, r) => s + r.approved, 0),
    rejected: rounds.reduce((s, r) => s + r.rejected, 0),
    unfinished: rounds.reduce((s, r) => s + r.unfinished, 0),
  };
}

export const orderWrites: Scenario = {
  name: 'order-writes',
  smoke: false,
  description: `POST /v1/orders (enterprise seller, a fresh Idempotency-Key each) on the whole write path: gateway → RabbitMQ (publisher confirms) → adapters and saga → CRM and MES simulators (time scale ${TIME_SCALE}); open loop at ${OPEN_RATE} orders/s and closed loop (the most it accepts), with the time from each 202 to MANUFACTURING_APPROVED.`,
  async prepare({ group, settings, log }): Promise<PreparedScenario> {
    const prefix = runPrefix();
    const amqp = { AMQP_URL: BENCH_AMQP_URL, AMQP_PREFIX: prefix };
    const settleMaxMs = SETTLE_MAX_MS[settings.mode];
    const tracker: Tracker = { pending: new Map([[OPEN, []], [CLOSED, []]]), approvedAt: new Map(), terminal: new Map(), seen: new Set() };
    const e2e = new Map<string, E2eRound[]>([[OPEN, []], [CLOSED, []]]);
    const idempotencyKeys: string[] = [];
    /** Set once uploaded; the clean-up (registered before) reads it. */
    const model: { id?: string } = {};

    const redis = await benchRedis(group);
    await resetQuotaCounters(redis, [SELLER.id]);
    await resetPriceJobs(redis, [SELLER.id]);
    // Registered after the Redis client (clean-ups run last registered first): keys go before the client does.
    group.onStop(() => deleteRunKeys(redis, tracker.seen, model.id, idempotencyKeys, log).catch((error: unknown) => log(`could not delete this run's Redis keys: ${String(error)}`)));
    deleteTopologyOnStop(group, prefix, log, [OBSERVER_QUEUE]);
    try {
      await observe(group, BENCH_AMQP_URL, prefix, tracker);
    } catch (error) {
      throw new Error(`this scenario needs RabbitMQ at ${BENCH_AMQP_URL_SHOWN} (BENCH_AMQP_URL): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    log(`AMQP prefix ${prefix}`);

    const [crm, mes] = await Promise.all([startCrm(group), startMes(group, { ...amqp, SIM_TIME_SCALE: String(TIME_SCALE), MES_CAPACITY: String(MES_CAPACITY) })]);
    // The saga's queues exist before the gateway publishes to them (else its first publishes are unroutable: 503).
    const adapters = await startAdapters(group, { crm, mes }, { ...amqp, REDIS_URL: BENCH_REDIS_URL });
    const gateway = await startGateway(group, { crm, mes }, { config: [unlimitedQuotaFor(SELLER.id), unlimitedPriceJobsFor(SELLER.id)], env: { ...amqp, REDIS_URL: BENCH_REDIS_URL, FACET_ADAPTERS: 'external' } });

    const upload = await fetch(`${gateway.url}/v1/models`, {
      method: 'POST',
      headers: { 'x-api-key': SELLER.key, 'content-type': 'application/octet-stream', 'x-filename': 'bench-ring.stl' },
      body: binaryStl(MODEL_TRIANGLES),
      signal: AbortSignal.timeout(10_000),
    });
    const uploaded = (await upload.json()) as { id?: string };
    if (upload.status !== 201 || !uploaded.id) throw new Error(`model upload answered ${upload.status}: ${JSON.stringify(uploaded)}`);
    const modelId = uploaded.id;
    model.id = modelId;
    log(`model ${modelId} uploaded (${MODEL_TRIANGLES} triangles)`);

    const body = JSON.stringify({ model_id: modelId, parameters: ORDER_BODY_PARAMETERS, customer: CUSTOMER, shipping: SHIPPING });
    const request = {
      method: 'POST' as const,
      url: `${gateway.url}/v1/orders`,
      headers: { 'x-api-key': SELLER.key, 'content-type': 'application/json' },
      body,
      perRequestHeaders: () => {
        const key = `${prefix}-${idempotencyKeys.length}`;
        idempotencyKeys.push(key);
        return { 'idempotency-key': key };
      },
    };
    const ID = /"id":"(ord_[A-Za-z0-9_]+)"/;
    const onOk = (variant: string) => (answer: string): void => {
      const id = ID.exec(answer)?.[1];
      if (id) tracker.pending.get(variant)?.push({ id, at: Date.now() });
    };

    /** Waits until every order the measurement accepted has finished its saga (at most settleMaxMs), then keeps its 202 → approved times. */
    const settle = (variant: string) => async (signal: AbortSignal, phase: { warmup: boolean; round: number }): Promise<void> => {
      const batch = tracker.pending.get(variant) ?? [];
      tracker.pending.set(variant, []);
      const deadline = Date.now() + settleMaxMs;
      while (Date.now() < deadline && batch.some((o) => !tracker.terminal.has(o.id))) await sleep(100, undefined, { signal });
      const times = batch.flatMap((o) => {
        const approved = tracker.approvedAt.get(o.id);
        return approved === undefined ? [] : [approved - o.at];
      });
      times.sort((a, b) => a - b);
      const result: E2eRound = {
        round: phase.round,
        accepted: batch.length,
        approved: times.length,
        rejected: batch.filter((o) => tracker.terminal.get(o.id) === 'REJECTED' || tracker.terminal.get(o.id) === 'CANCELLED').length,
        unfinished: batch.filter((o) => !tracker.terminal.has(o.id)).length,
        p50Ms: nearestRankPercentile(times, 50),
        p99Ms: nearestRankPercentile(times, 99),
        maxMs: times.at(-1) ?? Number.NaN,
      };
      log(
        `${phase.warmup ? 'warm-up' : `round ${phase.round}`} ${variant}: ${result.accepted} accepted, ${result.approved} approved (202 → ${APPROVED} p50 ${ms(result.p50Ms)}, p99 ${ms(result.p99Ms)}), ` +
          `${result.rejected} rejected/cancelled, ${result.unfinished} unfinished after ${Math.round((Date.now() - deadline + settleMaxMs) / 1000)} s`,
      );
      if (!phase.warmup) e2e.get(variant)?.push(result);
    };

    const cpu: CpuProbe[] = [
      { label: GATEWAY_CPU, pid: gateway.process.pid },
      { label: ADAPTERS_CPU, pid: adapters.process.pid },
      { label: CRM_CPU, pid: crm.process.pid },
      { label: MES_CPU, pid: mes.process.pid },
      ...(await redisCpuProbe(redis)),
      ...brokerCpuProbe(),
    ];

    const compare = (summaries: Summaries): Comparison[] => {
      const rows: Comparison[] = [];
      const open = summaries.get(OPEN);
      const closed = summaries.get(CLOSED);
      const confirm = (s: VariantSummary | undefined, q: number): number => medianOfFinite((s?.rounds ?? []).map((m) => confirmQuantileMs(m, q) ?? Number.NaN));
      for (const [name, s] of [[OPEN, open], [CLOSED, closed]] as const) {
        const e = e2eSummary(e2e.get(name));
        rows.push(
          comparison(`accepted orders/s (202), ${name}`, perSec(s?.okPerSec)),
          comparison(`202 p50 / p99, ${name}`, `${ms(s?.p50Ms)} / ${ms(s?.p99Ms)}`),
          comparison(`publish confirm p50 / p99 (gateway /metrics, commands exchange), ${name}`, `${ms(confirm(s, 0.5))} / ${ms(confirm(s, 0.99))}`),
          // The accept path and the events each order brings back (status changes, the operators' feed), all the gateway's.
          comparison(`gateway writes to Redis per accepted order (round trips; auto-pipelining shares them between concurrent orders), ${name}`, s?.countersPerRequest['redis.writes'] === undefined ? 'n/a' : s.countersPerRequest['redis.writes'].toFixed(2)),
          comparison(`Redis commands per accepted order (INFO commandstats: server-wide, the adapters' saga included), ${name}`, s ? commandsPerRequest(s.countersPerRequest).text : 'n/a'),
          comparison(`202 → ${APPROVED} p50 / p99 / max, ${name}`, e ? `${ms(e.p50)} / ${ms(e.p99)} / ${ms(e.max)}` : 'n/a'),
          comparison(`202 → ${APPROVED}, each round (p50 / p99), ${name}`, (e2e.get(name) ?? []).map((r) => `${ms(r.p50Ms)} / ${ms(r.p99Ms)}`).join('; ') || 'n/a'),
          comparison(`orders accepted / approved / rejected or cancelled / unfinished after ${settleMaxMs / 1000} s, ${name} (all rounds)`, e ? `${e.accepted} / ${e.approved} / ${e.rejected} / ${e.unfinished}` : 'n/a'),
        );
      }
      rows.push(
        comparison(`accepted orders/s, ${OPEN} / offered`, ratio(open?.okPerSec, open?.offeredPerSec)),
        comparison(`accepted orders/s, ${CLOSED} / ${OPEN}`, ratio(closed?.okPerSec, open?.okPerSec)),
        comparison(`202 p99, ${CLOSED} / ${OPEN}`, ratio(closed?.p99Ms, open?.p99Ms)),
        comparison(`202 → ${APPROVED} p50, ${CLOSED} / ${OPEN}`, ratio(e2eSummary(e2e.get(CLOSED))?.p50, e2eSummary(e2e.get(OPEN))?.p50)),
      );
      return rows;
    };

    const validate = (summaries: Summaries): string[] => {
      const problems: string[] = [];
      for (const name of [OPEN, CLOSED]) {
        const e = e2eSummary(e2e.get(name));
        if (e && e.accepted > 0 && e.approved === 0) problems.push(`${name}: none of ${e.accepted} accepted orders was seen reaching ${APPROVED} on the bus (observer or saga broken)`);
        const confirms = (summaries.get(name)?.rounds ?? []).reduce((sum, m) => sum + (m.counters['confirm.count'] ?? 0), 0);
        if (summaries.get(name) && confirms === 0) problems.push(`${name}: the gateway's /metrics shows no publish confirms on the commands exchange (not publishing to RabbitMQ?)`);
      }
      return problems;
    };

    return {
      variants: [
        {
          name: OPEN,
          description: `POST /v1/orders as ${SELLER.id} (${SELLER.key}), model ${MODEL_TRIANGLES} triangles + parameters, a new Idempotency-Key per request, ${OPEN_RATE} orders/s on schedule`,
          request,
          load: { kind: 'open', ratePerSec: OPEN_RATE },
          onOk: onOk(OPEN),
          settle: settle(OPEN),
        },
        {
          name: CLOSED,
          description: `the same as fast as answers come back (${settings.connections} connections): the most the stack accepts`,
          request,
          load: { connections: settings.connections },
          onOk: onOk(CLOSED),
          settle: settle(CLOSED),
        },
      ],
      cpu,
      counters: [confirmProbe(gateway.url), redisProbe(redis, gateway.process.pid, Number(new URL(BENCH_REDIS_URL).port || 6379))],
      notes: [
        `The stack, each a child of the harness on loopback: the CRM simulator and the MES simulator (latency 0, SIM_TIME_SCALE=${TIME_SCALE}: the simplest price job, 120 simulated s for this ${MODEL_TRIANGLES}-triangle model, takes 33 ms; manufacturing 4 h + 1 h + 1 h simulated = 6 s; MES_CAPACITY=${MES_CAPACITY.toLocaleString('en-US')} so the MES never refuses for capacity), the MES publishing its legacy events on RabbitMQ (AMQP_URL, as \`node sim/mes/main.ts\` does standalone); \`node adapters/main.ts\` (adapters and the order saga, saga state in Redis); the gateway with FACET_ADAPTERS=external, AMQP_URL and REDIS_URL=${BENCH_REDIS_URL} (idempotency keys, pending orders and quota counters in Redis, as in production). No process is traced.`,
        `RabbitMQ: the local broker (${BENCH_AMQP_URL_SHOWN}), shared with other work; every queue and exchange of the run carries a unique prefix (facet-bench-<random>, AMQP_PREFIX of every child) and all of them are deleted at the end. Quorum queues, persistent messages, publisher confirms: the gateway answers 202 only after the broker confirmed the order.place command.`,
        `Gateway config: gateway.config.yml at the commit measured with two edits: the rate and daily quota of ${SELLER.id}'s plan (${SELLER.plan}) raised out of reach (the quota policy still counts in Redis), and its concurrent price jobs too (each order without a quote still takes and frees a slot in Redis; at the plan's 20 the closed loop measured the MES simulator's pace as 429s). Pipeline sellerOrderCreate as configured: key-auth → quota → validate → idempotency → createOrder (model record read, pending order written, command published and confirmed).`,
        `Before the run: one model uploaded (POST /v1/models, a ${MODEL_TRIANGLES}-triangle binary STL), and the quota counters of ${SELLER.id} deleted from the benchmark's Redis database. Every order is for that model (same parameters, customer and shipping); each request carries a new Idempotency-Key (${'<prefix>-<n>'}), so every 202 is a new order.`,
        `End-to-end time: for each 202 the harness notes the order id (from the answer) and when the answer arrived; a consumer in the harness (an exclusive, auto-deleted queue bound to the run's events exchange with \`order.status_changed\`) receives the saga's status events, and the time is the MANUFACTURING_APPROVED event's own \`at\` (set by the saga when the CRM accepted the status) minus that arrival time. Both clocks are this machine's; the observer's own delay is not in the figure. Saga steps between: CRM create, MES price job (33 ms simulated pricing, then the MES event over the bus to the MES adapter, quote.ready to the saga), CRM PRICE_CALCULATED and MANUFACTURING_APPROVED.`,
        `After each measurement (warm-ups included) the harness waits until every order that measurement accepted has reached a final status (SHIPPED after the 6 s of simulated manufacturing, or REJECTED/CANCELLED), at most ${settleMaxMs / 1000} s, so that one measurement's saga backlog does not load the next; orders still unfinished are counted. The closed-loop rows accept orders faster than the saga finishes them, so their end-to-end times include the saga's queue.`,
        'Publish-confirm latency: the gateway\'s own histogram facet_bus_publish_confirm_seconds{exchange="commands"} read from its /metrics before and after each measurement; quantiles are interpolated within its buckets (0.5, 1, 2.5, 5, 10, 25, 50, 100 ms, ...) as Prometheus\'s histogram_quantile does, so they are approximate.',
        'CPU per request is per accepted order, over the measurement window only: the adapters, the simulators and the broker also work on orders after the window (the settle wait), and the MES simulator\'s manufacturing events of earlier orders, so their columns are indicative; the gateway\'s is exact. RabbitMQ\'s column (beam.smp) and Redis\'s are of the whole server, other users included.',
        `The runner checks each variant with one POST before the load (2 orders outside the measurements). Keys the run wrote in Redis database 9 (its orders' facet:saga:*, facet:order:*, its model's facet:model:*, its facet:idem:* keys) are deleted at the end.`,
        'The machine has 2 cores shared by the load generator, the gateway, the adapters, both simulators, Redis, RabbitMQ and other engineers\' work: every figure moves with the load average given above. Each figure is the median of the interleaved rounds.',
      ],
      compare,
      validate,
    };
  },
};
