// Sellers' webhooks (issue 8): how many deliveries per second the webhook
// path sends to a seller's endpoint, and how soon one event arrives. The
// adapters (`node adapters/main.ts`: fan-out and sender) and a seller's
// endpoint (webhook-receiver.ts, checking every signature) run as children
// on RabbitMQ and Redis; the harness publishes order.status_changed events
// of a seller with one subscription, steadily (latency) or all at once
// (throughput), and times each to its arrival at the endpoint. Side by
// side, the baseline: the adapters' own WebhookSender called in a loop by
// the harness, as many at a time as the deliveries consumer runs, to the
// same endpoint (the endpoint's and the sender's ceiling, without the bus
// and Redis).
//
// Everything the run creates is its own: a unique AMQP prefix (its queues
// and exchanges are deleted at the end), a seller and a subscription of its
// own, and in the notification scenarios' Redis database only the keys it
// wrote (the subscription, its delivery records and log), deleted at the end.

import type { Redis } from 'ioredis';
import { ROUTING } from '../../../contracts/messages.ts';
import { deliveryIdOf, statusPayload } from '../../../adapters/webhooks/fanout.ts';
import { WebhookSender } from '../../../adapters/webhooks/sender.ts';
import { newSecret } from '../../../platform/webhooks/signature.ts';
import { RedisWebhookStore } from '../../../platform/webhooks/store.ts';
import type { Subscription } from '../../../platform/webhooks/store.ts';
import { DeliveryLog, sendOnSchedule } from '../deliveries.ts';
import type { DeliveryBatch, DeliveryRun } from '../deliveries.ts';
import { LOAD_GENERATOR } from '../measure.ts';
import { BENCH_AMQP_URL, BENCH_AMQP_URL_SHOWN, benchBus, brokerCpuProbe, deleteTopologyOnStop, runPrefix } from '../rabbitmq.ts';
import { startAdapters } from '../adapters-service.ts';
import { BENCH_NOTIFY_REDIS_URL, benchRedis } from '../redis.ts';
import { unreachableUpstreams } from '../upstreams.ts';
import { startWebhookReceiver } from '../webhook-receiver-service.ts';
import type { WebhookReceiver } from '../webhook-receiver-service.ts';
import { commandsPerRequest, comparison, micros, ms, ratio, redisCpuProbe, redisProbe } from './common.ts';
import { deleteKeys, OrderEvents, publishTimed, untilRoutable } from './notifications.ts';
import type { OrderEvent } from './notifications.ts';
import type { Comparison, DeliverySummaries, DeliveryVariant, PreparedScenario, Scenario } from './types.ts';

/** Events per second for the latency row. */
const RATE = 20;
/** Events per second of --duration in a burst: about --duration long at the previous hand-run benchmark's ~490 deliveries/s. */
const BURST_PER_SECOND = 500;
/** adapters/webhooks/start.ts: prefetch of the deliveries consumer, i.e. sends in flight. */
const IN_FLIGHT = 32;
/** After its last event, how long a measurement waits for every delivery before counting the missing ones lost (a failed attempt is retried after 5 s ± 20%). */
const DRAIN_MS = { full: 120_000, smoke: 30_000 };
/** How often the harness collects the receiver's receipts. */
const POLL_MS = 100;
const ADAPTERS = 'adapters';
const RECEIVER = 'receiver';

const STEADY = `webhooks, ${RATE} events/s`;
const BURST = 'webhooks, burst';
const DIRECT = 'sender alone';

function steadyEvents(durationS: number): number {
  return Math.max(1, Math.round(RATE * durationS));
}

function burstSize(durationS: number): number {
  return Math.max(1, Math.round(BURST_PER_SECOND * durationS));
}

/** Feeds the receiver's receipts from the `from`-th on into `deliveries` until stopped (then collects once more). */
function follow(receiver: WebhookReceiver, deliveries: DeliveryLog, from: number, signal: AbortSignal): { stop(): Promise<void> } {
  let next = from;
  let stopped = false;
  const collect = async (): Promise<void> => {
    const answer = await receiver.receipts(next);
    next = answer.next;
    for (const [key, atUs] of answer.receipts) deliveries.received(RECEIVER, key, atUs);
  };
  const loop = (async () => {
    while (!stopped) {
      await collect();
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      signal.throwIfAborted();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await collect();
    },
  };
}

/** The subscription, its delivery records and its delivery log. */
async function deleteRunKeys(redis: Redis, store: RedisWebhookStore, subscription: Subscription, events: OrderEvents, log: (line: string) => void): Promise<void> {
  await store.deleteSubscription(subscription);
  const deleted = await deleteKeys(redis, [`facet:wh:log:${subscription.id}`, ...events.messageIds.map((id) => `facet:wh:dlv:${deliveryIdOf(subscription.id, id)}`)]);
  log(`deleted subscription ${subscription.id} and ${deleted} keys of its deliveries from ${BENCH_NOTIFY_REDIS_URL}`);
}

export const webhookDelivery: Scenario = {
  name: 'webhook-delivery',
  description: `Order events on RabbitMQ to a seller's webhook endpoint (one subscription, a signed POST per event) through the adapters' fan-out and sender: deliveries per second for a burst of events and the time from publish to arrival at ${RATE} events/s, against the sender alone called in a loop to the same endpoint.`,
  async prepare({ group, settings, signal, log }): Promise<PreparedScenario> {
    const prefix = runPrefix();
    const events = new OrderEvents();
    const drainMs = DRAIN_MS[settings.mode];
    const secret = newSecret();

    const redis = await benchRedis(group, BENCH_NOTIFY_REDIS_URL);
    const store = new RedisWebhookStore(redis);
    const receiver = await startWebhookReceiver(group, secret);
    const subscription: Subscription = {
      id: `wh_${events.tag}`,
      seller_id: events.sellerId,
      url: receiver.hookUrl,
      event_types: [ROUTING.statusChanged],
      description: 'facet bench',
      created_at: new Date().toISOString(),
      secrets: [{ secret, expires_at: null }],
    };
    // Clean-ups run last registered first: the topology after the bus is closed, the keys before the Redis client goes.
    group.onStop(() => deleteRunKeys(redis, store, subscription, events, log).catch((error: unknown) => log(`could not delete this run's Redis keys: ${String(error)}`)));
    await store.putSubscription(subscription);
    deleteTopologyOnStop(group, prefix, log);
    const bus = await benchBus(group, prefix);
    log(`AMQP prefix ${prefix}, Redis ${BENCH_NOTIFY_REDIS_URL}, subscription ${subscription.id} of seller ${events.sellerId} (order ids ord_${events.tag}_<n>) to ${receiver.hookUrl}`);

    const adapters = await startAdapters(group, await unreachableUpstreams(), {
      AMQP_URL: BENCH_AMQP_URL,
      AMQP_PREFIX: prefix,
      REDIS_URL: BENCH_NOTIFY_REDIS_URL,
      // The URL policy is the only thing NODE_ENV decides in the adapters: production wants https and a public address, and refuses WEBHOOKS_ALLOW_LOOPBACK.
      NODE_ENV: 'development',
      WEBHOOKS_ALLOW_LOOPBACK: '1',
    });
    await untilRoutable(bus, events, signal);

    const refused = { badSignature: 0, unreadable: 0 };
    /**
     * A variant whose events are counted where they arrive, at the endpoint:
     * `start` gets one measurement ready and returns how it sends its events
     * (noting each in the log just before it goes) and what to release after.
     */
    const atEndpoint = (
      name: string,
      description: string,
      load: (durationS: number) => string,
      offeredPerSec: number | undefined,
      start: (durationS: number, deliveries: DeliveryLog, signal: AbortSignal) => { send(): Promise<void>; close?(): Promise<void> },
    ): DeliveryVariant => ({
      kind: 'deliveries',
      name,
      description,
      load,
      async open(durationS, signal): Promise<DeliveryBatch> {
        const deliveries = new DeliveryLog(1, offeredPerSec);
        const { send, close } = start(durationS, deliveries, signal);
        const from = (await receiver.stats()).receipts;
        return {
          async run(): Promise<DeliveryRun> {
            const follower = follow(receiver, deliveries, from, signal);
            try {
              await send();
              await deliveries.complete(drainMs, signal);
            } finally {
              await follower.stop();
            }
            const stats = await receiver.stats();
            refused.badSignature = stats.badSignature;
            refused.unreadable = stats.unreadable;
            return deliveries.result();
          },
          close: async () => close?.(),
        };
      },
    });

    const steady = atEndpoint(
      STEADY,
      `order.status_changed published ${RATE}/s on schedule, each delivery timed from just before its publish to its arrival at the endpoint`,
      (durationS) => `${steadyEvents(durationS)} events at ${RATE}/s`,
      RATE,
      (durationS, deliveries, signal) => ({
        async send() {
          const publishes: Promise<void>[] = [];
          await sendOnSchedule(steadyEvents(durationS), RATE, signal, () => publishes.push(publishTimed(bus, deliveries, events.next())));
          await Promise.all(publishes);
        },
      }),
    );
    const burst = atEndpoint(
      BURST,
      'order.status_changed published all at once (as fast as the broker confirms them): deliveries per second from the first publish to the last arrival',
      (durationS) => `${burstSize(durationS).toLocaleString('en-US')} events at once`,
      undefined,
      (durationS, deliveries) => ({
        async send() {
          await Promise.all(Array.from({ length: burstSize(durationS) }, () => publishTimed(bus, deliveries, events.next())));
        },
      }),
    );
    const direct = atEndpoint(
      DIRECT,
      `the same payloads sent by the harness with the adapters' WebhookSender (SSRF check, signing, undici with 16 connections per origin), ${IN_FLIGHT} at a time as the deliveries consumer's prefetch allows, to the same endpoint: no bus, no Redis`,
      (durationS) => `${burstSize(durationS).toLocaleString('en-US')} deliveries, ${IN_FLIGHT} in flight`,
      undefined,
      (durationS, deliveries, signal) => {
        const sender = new WebhookSender({ requireHttps: false, allowLoopback: true });
        const batch: OrderEvent[] = Array.from({ length: burstSize(durationS) }, () => events.next());
        let next = 0;
        const worker = async (): Promise<void> => {
          for (let event = batch[next++]; event !== undefined; event = batch[next++]) {
            signal.throwIfAborted();
            deliveries.sent(event.key);
            const result = await sender.send(subscription.url, deliveryIdOf(subscription.id, event.message.id), statusPayload(event.body), [secret]);
            if (!result.ok) deliveries.sendFailed();
          }
        };
        return {
          send: async () => void (await Promise.all(Array.from({ length: IN_FLIGHT }, worker))),
          close: () => sender.close(),
        };
      },
    );

    const compare = (_: unknown, deliveries: DeliverySummaries): Comparison[] => {
      const steady = deliveries.get(STEADY);
      const burst = deliveries.get(BURST);
      const alone = deliveries.get(DIRECT);
      return [
        comparison(`deliveries/s, ${BURST} / ${DIRECT}`, ratio(burst?.deliveriesPerSec, alone?.deliveriesPerSec)),
        comparison(`publish → arrival p50 / p99, ${STEADY}`, `${ms(steady?.p50Ms)} / ${ms(steady?.p99Ms)}`),
        comparison(`adapters CPU per delivery, ${BURST} / ${STEADY}`, `${micros(burst?.cpuMicrosPerDelivery[ADAPTERS])} / ${micros(steady?.cpuMicrosPerDelivery[ADAPTERS])}`),
        comparison(`the sender's CPU per delivery, ${DIRECT} (in the load generator)`, micros(alone?.cpuMicrosPerDelivery[LOAD_GENERATOR])),
        comparison(`Redis commands per delivery (INFO commandstats, server-wide), ${BURST}`, burst ? commandsPerRequest(burst.countersPerEvent).text : 'n/a'),
      ];
    };

    return {
      variants: [steady, burst, direct],
      cpu: [{ label: ADAPTERS, pid: adapters.process.pid }, { label: RECEIVER, pid: receiver.process.pid }, ...(await redisCpuProbe(redis)), ...brokerCpuProbe()],
      counters: [redisProbe(redis, adapters.process.pid)],
      validate: () => (refused.badSignature + refused.unreadable > 0 ? [`the endpoint refused ${refused.badSignature} deliveries for their signature or timestamp (Standard Webhooks, the subscription's secret) and could not read ${refused.unreadable}`] : []),
      compare,
      notes: [
        `The stack, each a child of the harness on loopback: \`node adapters/main.ts\` (LOG_LEVEL=warn, AMQP_URL, REDIS_URL=${BENCH_NOTIFY_REDIS_URL}; its saga, MES translator and take consumer run too, idle: nothing here calls the CRM or the MES, whose URLs point at a closed loopback port) and the seller's endpoint (loadtests/bench/webhook-receiver.ts). The adapters run with NODE_ENV=development and WEBHOOKS_ALLOW_LOOPBACK=1: the URL policy is the only thing NODE_ENV decides there, and production's (https, public addresses only) would refuse an endpoint on this machine. No gateway: it is not on the delivery path. The subscription (one, to order.status_changed, one secret) is written to the webhook store in Redis by the harness, as POST /v1/webhooks would write it.`,
        `Path of an event: the harness publishes order.status_changed (PRICE_CALCULATED of a new order each, of the run's own seller, persistent, publisher confirms) on the run's events exchange → quorum queue webhooks.order-events (fan-out, prefetch 32: the seller's subscriptions from Redis, SMEMBERS + MGET; the delivery record, SET NX + LPUSH/LTRIM; webhook.deliver published with a confirm) → quorum queue webhooks.deliveries (sender, prefetch 32: the delivery and the subscription from Redis, SSRF check of the URL, Standard Webhooks signature, POST over undici with 16 connections per origin, the record marked succeeded).`,
        `The endpoint checks every delivery as a seller would (the standardwebhooks library: signature with the subscription's secret, timestamp within 5 minutes), notes when its body had fully arrived and answers 200 with an empty body; the run fails if it refused any. Latency = that arrival (the endpoint's process) − just before publish() (the harness), both on CLOCK_MONOTONIC, one clock for every process of the machine. The harness collects the arrivals from the endpoint every ${POLL_MS} ms while it waits.`,
        `"${BURST}": ${BURST_PER_SECOND} events per second of --duration, published at once; deliveries per second = deliveries / (first publish → last arrival), so the queues' filling and draining are in it. Its latencies are the events' time in that queue, not a delivery's own time: "${STEADY}" gives that.`,
        `"${DIRECT}": the baseline for throughput. The harness calls the adapters' own WebhookSender.send() with the same payloads, webhook ids and secret, ${IN_FLIGHT} calls in flight (the deliveries consumer's prefetch) on the sender's undici agent (16 connections per origin): what the endpoint and the sender manage on this machine without the bus, the fan-out and Redis. Its CPU is in the load generator's column.`,
        `A measurement waits up to ${drainMs / 1000} s after its last event for every delivery (a failed attempt would be retried after 5 s ± 20%); what has not arrived then is lost, and over 0.1% lost fails the run. Deliveries that arrive twice (at-least-once) are counted, not timed again.`,
        `CPU per delivery: over the measurement (sending and waiting for the last arrival). RabbitMQ's column (beam.smp) and Redis's are of the whole server, other users included; Redis commands per delivery are server-wide too (INFO commandstats). At ${RATE} events/s a measurement has few deliveries, so its CPU per delivery is mostly each process's own background work (the broker's schedulers, the adapters' timers and queue-depth sampling) and comes in steps of a clock tick (10 ms) over ${steadyEvents(settings.durationS)} deliveries: compare CPU on the burst rows.`,
        `Redis: the notification scenarios' own database (${BENCH_NOTIFY_REDIS_URL}; BENCH_NOTIFY_REDIS_URL overrides). At the end the run's subscription, its delivery records and its delivery log are deleted.`,
        `RabbitMQ: the local broker (${BENCH_AMQP_URL_SHOWN}), shared with other work; every queue and exchange of the run carries a unique prefix (facet-bench-<random>, AMQP_PREFIX of the adapters and the harness's publisher) and all of them are deleted at the end.`,
        'The machine has 2 cores shared by the harness, the adapters, the endpoint, Redis, RabbitMQ and other engineers\' work: every figure moves with the load average given above. Each figure is the median of the interleaved rounds.',
      ],
    };
  },
};
