// The operators' live stream (issue 8): how soon an order event on the bus
// reaches the operators' browsers. Two gateway replicas run as children
// on RabbitMQ and Redis, as in production (one competing consumer group for
// the events, one feed stream in Redis tailed by each replica); the harness
// holds the SSE clients open and publishes order.status_changed events at a
// steady rate, timing each from just before its publish to its arrival at
// each client. Side by side: 500 clients split over the two replicas, all
// 500 on one replica, and 100 clients.
//
// Everything the run creates is its own: a unique AMQP prefix (its queues
// and exchanges are deleted at the end), a seller of its own for the events,
// and in the notification scenarios' Redis database only the keys it wrote
// (its feed entries and their dedupe keys, its generation counters), deleted
// at the end.

import type { Redis } from 'ioredis';
import { SEEN_PREFIX, STREAM_KEY } from '../../../gateway/notify/redis-feed-log.ts';
import { DeliveryLog, sendOnSchedule } from '../deliveries.ts';
import type { DeliveryBatch } from '../deliveries.ts';
import { BENCH_AMQP_URL, BENCH_AMQP_URL_SHOWN, benchBus, brokerCpuProbe, deleteTopologyOnStop, runPrefix } from '../rabbitmq.ts';
import { openSseClients } from '../sse-clients.ts';
import { startGateway } from '../gateway-service.ts';
import { operatorToken } from '../operator-token.ts';
import { BENCH_NOTIFY_REDIS_URL, benchRedis } from '../redis.ts';
import type { Service } from '../service-launcher.ts';
import { unreachableUpstreams } from '../upstreams.ts';
import { commandsPerRequest, comparison, micros, ms, ratio, redisCpuProbe, redisProbe } from './common.ts';
import { deleteKeys, OrderEvents, publishTimed } from './notifications.ts';
import type { Comparison, DeliverySummaries, DeliveryVariant, PreparedScenario, Scenario } from './types.ts';

/** Events per second published (the previous hand-run benchmark's rate). */
const RATE = 20;
const CLIENTS = 500;
const FEW_CLIENTS = 100;
/** After its last event, how long a measurement waits for every delivery before counting the missing ones lost. */
const DRAIN_MS = 10_000;
const GATEWAY_A = 'gateway A';
const GATEWAY_B = 'gateway B';

const SPLIT = `${CLIENTS} clients, 2 replicas`;
const ONE = `${CLIENTS} clients, 1 replica`;
const FEW = `${FEW_CLIENTS} clients, 2 replicas`;

/** The order id in an event's data line (feed-events.ts: the event's body plus its id). */
const ORDER_ID = /"order_id":"([^"]+)"/;

function eventsFor(durationS: number): number {
  return Math.max(1, Math.round(RATE * durationS));
}

/** The run's entries in the feed stream (its order ids), their dedupe keys and the generation counters its events bumped. */
async function deleteRunKeys(redis: Redis, events: OrderEvents, log: (line: string) => void): Promise<void> {
  const entries = (await redis.xrange(STREAM_KEY, '-', '+')) as [string, string[]][];
  const mine = entries.filter(([, fields]) => fields.some((f) => f.includes(`"order_id":"ord_${events.tag}_`))).map(([id]) => id);
  for (let i = 0; i < mine.length; i += 1000) await redis.xdel(STREAM_KEY, ...mine.slice(i, i + 1000));
  const emptied = mine.length > 0 && (await redis.xlen(STREAM_KEY)) === 0 ? await redis.del(STREAM_KEY) : 0;
  // policies/cache/redis-store.ts: facet:gen:<scope>; each event bumps its seller's scope and the dashboard's.
  const keys = [...events.messageIds.map((id) => `${SEEN_PREFIX}${id}`), `facet:gen:seller:${events.sellerId}`, 'facet:gen:dashboard'];
  const deleted = await deleteKeys(redis, keys);
  log(`deleted ${mine.length} feed entries${emptied ? ' (and the then empty stream)' : ''} and ${deleted} keys of this run from ${BENCH_NOTIFY_REDIS_URL}`);
}

export const sseDelivery: Scenario = {
  name: 'sse-delivery',
  description: `Order events on RabbitMQ to the operators' live stream (SSE, GET /internal/v1/orders/stream) on two gateway replicas sharing Redis: the time from publishing each order.status_changed (${RATE}/s) to its arrival at every connected client, with ${CLIENTS} clients split over the replicas, all ${CLIENTS} on one of them, and ${FEW_CLIENTS}.`,
  async prepare({ group, log }): Promise<PreparedScenario> {
    const prefix = runPrefix();
    const events = new OrderEvents();
    let dropped = 0;

    const redis = await benchRedis(group, BENCH_NOTIFY_REDIS_URL);
    // Clean-ups run last registered first: the topology after the bus is closed, the keys before the Redis client goes.
    group.onStop(() => deleteRunKeys(redis, events, log).catch((error: unknown) => log(`could not delete this run's Redis keys: ${String(error)}`)));
    deleteTopologyOnStop(group, prefix, log);
    const bus = await benchBus(group, prefix);
    log(`AMQP prefix ${prefix}, Redis ${BENCH_NOTIFY_REDIS_URL}, events of seller ${events.sellerId} (order ids ord_${events.tag}_<n>)`);

    const upstreams = await unreachableUpstreams();
    const env = { AMQP_URL: BENCH_AMQP_URL, AMQP_PREFIX: prefix, REDIS_URL: BENCH_NOTIFY_REDIS_URL, FACET_ADAPTERS: 'external' };
    // Each declares the events queue before it listens: once both answer /healthz, every event is routed.
    const [a, b] = await Promise.all([startGateway(group, upstreams, { name: GATEWAY_A, env }), startGateway(group, upstreams, { name: GATEWAY_B, env })]);
    // One operator per client, as a control room of many dashboards: a replica caps one operator's streams (8).
    const authorizations = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => `Bearer ${await operatorToken(`facet-bench-op-${i}`)}`));

    const variant = (name: string, clients: number, gateways: readonly Service[], description: string): DeliveryVariant => ({
      kind: 'deliveries',
      name,
      description,
      load: (durationS) => `${eventsFor(durationS)} events at ${RATE}/s, each to every client`,
      async open(durationS, signal): Promise<DeliveryBatch> {
        const deliveries = new DeliveryLog(clients, RATE);
        const sse = await openSseClients({
          urls: gateways.map((g) => `${g.url}/internal/v1/orders/stream`),
          count: clients,
          headers: (client) => ({ authorization: authorizations[client] as string }),
          signal,
          onData: (client, data, atUs) => {
            const key = ORDER_ID.exec(data)?.[1];
            if (key) deliveries.received(String(client), key, atUs);
          },
        });
        return {
          async run() {
            const publishes: Promise<void>[] = [];
            await sendOnSchedule(eventsFor(durationS), RATE, signal, () => publishes.push(publishTimed(bus, deliveries, events.next())));
            await Promise.all(publishes);
            await deliveries.complete(DRAIN_MS, signal);
            if (sse.dropped > 0) log(`${name}: ${sse.dropped} streams ended during the measurement`);
            dropped += sse.dropped;
            return deliveries.result();
          },
          async close() {
            sse.close();
          },
        };
      },
    });

    const compare = (_: unknown, deliveries: DeliverySummaries): Comparison[] => {
      const split = deliveries.get(SPLIT);
      const one = deliveries.get(ONE);
      const few = deliveries.get(FEW);
      const gatewayCpu = (name: string): number | undefined => {
        const cpu = deliveries.get(name)?.cpuMicrosPerDelivery;
        const [x, y] = [cpu?.[GATEWAY_A], cpu?.[GATEWAY_B]];
        return x === undefined || y === undefined ? undefined : x + y;
      };
      return [
        comparison(`p99, ${ONE} / ${SPLIT}`, ratio(one?.p99Ms, split?.p99Ms)),
        comparison(`p99, ${SPLIT} / ${FEW}`, ratio(split?.p99Ms, few?.p99Ms)),
        comparison(`p50 / p99, ${SPLIT}`, `${ms(split?.p50Ms)} / ${ms(split?.p99Ms)}`),
        ...[SPLIT, ONE, FEW].map((name) => comparison(`gateway CPU per delivery (A + B), ${name}`, micros(gatewayCpu(name)))),
        comparison(`gateway CPU per event (A + B), ${SPLIT}`, ms(((gatewayCpu(SPLIT) ?? Number.NaN) * CLIENTS) / 1000)),
        comparison(`Redis commands per event (INFO commandstats, server-wide), ${SPLIT}`, split ? commandsPerRequest(split.countersPerEvent).text : 'n/a'),
      ];
    };

    return {
      variants: [
        variant(SPLIT, CLIENTS, [a, b], `${CLIENTS / 2} streams on each replica`),
        variant(ONE, CLIENTS, [a], `all ${CLIENTS} streams on gateway A (gateway B still consumes its share of the events and tails the stream)`),
        variant(FEW, FEW_CLIENTS, [a, b], `${FEW_CLIENTS / 2} streams on each replica`),
      ],
      cpu: [{ label: GATEWAY_A, pid: a.process.pid }, { label: GATEWAY_B, pid: b.process.pid }, ...(await redisCpuProbe(redis)), ...brokerCpuProbe()],
      counters: [redisProbe(redis, a.process.pid)],
      compare,
      validate: () => (dropped > 0 ? [`${dropped} SSE streams ended during the measurements (the gateway dropped slow clients, or failed)`] : []),
      notes: [
        `The stack, each a child of the harness on loopback: two gateways (\`node entries/gateway.ts\`, NODE_ENV=production, LOG_LEVEL=warn, gateway.config.yml as it is: notifications.stream heartbeat 15 s, buffer 10,000, maxBufferedBytes 256 KiB) with AMQP_URL, REDIS_URL=${BENCH_NOTIFY_REDIS_URL} and FACET_ADAPTERS=external. No adapters and no simulators: nothing on this path calls the CRM or the MES (CRM_URL and MES_URL point at a closed loopback port; the dashboard's refresh-ahead fails there at once every 8 s).`,
        `The events: order.status_changed (PRICE_CALCULATED of a new order each, seller \`slr_bench<random>\`) published by the harness on the run's events exchange, ${RATE}/s on schedule (open loop), persistent, publisher confirms not awaited before the next. Path: quorum queue gateway.events (the replicas are competing consumers, prefetch 50: each event reaches one) → its handler appends the event to the feed (one Lua call: SET NX on the message id, XADD MAXLEN ~ 10,000) and bumps the cache generations of the seller and the dashboard (INCR + PUBLISH each) → each replica's XREAD BLOCK reader → that replica's SSE clients.`,
        `The clients: node:http in the harness, one socket each, GET /internal/v1/orders/stream with its own operator's JWT (sub facet-bench-op-<i>: a replica lets one operator hold 8 streams) and no status filter; opened before each measurement (ready once the feed's \`: connected\` comment arrived, i.e. the gateway has registered it) and closed after it, so that a row's clients are only its own. Latency = arrival of the chunk holding the event at the client − just before publish() in the harness, both on CLOCK_MONOTONIC: it includes the broker (quorum queue commit), the consumer, Redis, the fan-out, and the harness's own event loop (it is the clients, as a busy browser would be).`,
        `"${ONE}": both replicas run in every row and share the events queue, so gateway B still appends about half of the events to the stream and reads every entry back; only the clients are all on gateway A. It is the fan-out of one process to ${CLIENTS} clients, not a one-replica deployment (whose single process would also append every event: one Lua call per event, small next to ${CLIENTS} writes).`,
        `A measurement waits up to ${DRAIN_MS / 1000} s after its last event for every delivery; what has not arrived then is lost, and over 0.1% lost fails the run (a stream the gateway ends, e.g. for a client over maxBufferedBytes, fails it too). "receivers" is the clients each event must reach.`,
        `CPU per delivery: per event arriving at one client, over the measurement (publishing and waiting; opening and closing the clients are outside). RabbitMQ's column (beam.smp) and Redis's are of the whole server, other users included; Redis commands per event are server-wide too (INFO commandstats).`,
        `Redis: the notification scenarios' own database (${BENCH_NOTIFY_REDIS_URL}; BENCH_NOTIFY_REDIS_URL overrides): the feed is one stream per database, tailed by every gateway of it. At the end the run's feed entries are deleted (XDEL; the stream too if nothing else is left in it), with their dedupe keys and the generation counters (facet:gen:seller:<its seller>, facet:gen:dashboard). Pub/sub is server-wide: gateways of other databases on the same Redis server take each dashboard generation bump as their own (one dashboard cache miss each), so run it under the lock the other benchmarks take.`,
        `RabbitMQ: the local broker (${BENCH_AMQP_URL_SHOWN}), shared with other work; every queue and exchange of the run carries a unique prefix (facet-bench-<random>, AMQP_PREFIX of the gateways and the harness's publisher) and all of them are deleted at the end.`,
        `The machine has 2 cores shared by the harness (publisher and every client), both gateways, Redis, RabbitMQ and other engineers' work: every figure moves with the load average given above. Each figure is the median of the interleaved rounds.`,
      ],
    };
  },
};
