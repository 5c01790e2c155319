// What the bus reports to Prometheus, the same for the gateway's publisher
// and the adapters' consumers (and for the in-process bus). Labels are the
// logical names without the topology prefix: exchanges (commands, events,
// dlx, retry.<ms>ms, default), consumer queues (saga.commands, …, dead).
// A bus without metrics counts nothing.

import { Counter, Gauge, type Histogram, type Registry } from 'prom-client';
import { exemplarHistogram } from '../metrics/exposition.ts';
import { observeSeconds } from '../metrics/trace-exemplar.ts';

/** How a publish ended: acked by the broker, nacked, returned as unroutable (then acked), or no answer (not connected, channel closed, timeout). */
export type PublishOutcome = 'confirmed' | 'nacked' | 'returned' | 'failed';
/** What became of a delivery: acked, sent to a delay queue, parked, or put back on its queue because that could not be done. */
export type HandledOutcome = 'ack' | 'retry' | 'dead' | 'requeued';

/** Some queues' ready messages: their logical names, and a sample (name → count; undefined when unknown now). */
export interface QueueDepthSource {
  queues(): string[];
  sample(): Promise<Map<string, number> | undefined>;
}

/** A scrape waits at most this long for queue depths; a slower broker leaves the last known values. */
export const QUEUE_DEPTH_TIMEOUT_MS = 250;

const CONFIRM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800];

export class BusMetrics {
  readonly publishConfirmSeconds: Histogram<'exchange'>;
  readonly published: Counter<'exchange' | 'outcome'>;
  readonly queueMessages: Gauge<'queue'>;
  readonly consumerLagSeconds: Histogram<'queue'>;
  readonly redeliveries: Counter<'queue'>;
  readonly deadLetters: Counter<'queue'>;
  readonly handled: Counter<'queue' | 'outcome'>;
  readonly confirmChannelRenewals: Counter;
  private readonly depthSources = new Set<QueueDepthSource>();

  constructor(registry: Registry) {
    this.publishConfirmSeconds = exemplarHistogram(registry, {
      name: 'facet_bus_publish_confirm_seconds',
      help: "Time from publish to the broker's answer (ack, nack, or return then ack), by exchange.",
      labelNames: ['exchange'],
      buckets: CONFIRM_BUCKETS,
    });
    this.published = new Counter({
      name: 'facet_bus_published_total',
      help: 'Publishes by exchange and outcome (confirmed|nacked|returned|failed; failed = no broker answer: not connected, channel closed, confirm timeout).',
      labelNames: ['exchange', 'outcome'],
      registers: [registry],
    });
    const sources = this.depthSources;
    this.queueMessages = new Gauge({
      name: 'facet_bus_queue_messages',
      help: 'Ready messages in the queues this process consumes and in the parking queue (dead), sampled at scrape time.',
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        await sampleDepths(this, sources);
      },
    });
    this.consumerLagSeconds = exemplarHistogram(registry, {
      name: 'facet_bus_consumer_lag_seconds',
      help: 'Age of a message when its handler starts, from its publish time, by queue; first attempts only (retries wait on purpose).',
      labelNames: ['queue'],
      buckets: LAG_BUCKETS,
    });
    this.redeliveries = new Counter({
      name: 'facet_bus_redeliveries_total',
      help: 'Deliveries the broker made again because a consumer died or its channel closed before acking, by queue.',
      labelNames: ['queue'],
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: 'facet_bus_dead_letters_total',
      help: 'Messages parked in the dead-letter queue by a consumer (poison, or out of attempts), by the queue they came from.',
      labelNames: ['queue'],
      registers: [registry],
    });
    this.handled = new Counter({
      name: 'facet_bus_handled_total',
      help: 'Deliveries settled by a consumer, by queue and outcome (ack|retry|dead|requeued).',
      labelNames: ['queue', 'outcome'],
      registers: [registry],
    });
    this.confirmChannelRenewals = new Counter({
      name: 'facet_bus_confirm_channel_renewals_total',
      help: 'Confirm channels replaced by a new one after the broker nacked a publish on them (a stale quorum-queue leader after a node loss, or a full queue).',
      registers: [registry],
    });
  }

  publish(exchange: string, outcome: PublishOutcome, confirmSeconds?: number): void {
    this.published.inc({ exchange, outcome });
    if (confirmSeconds !== undefined && outcome !== 'failed') observeSeconds(this.publishConfirmSeconds, { exchange }, confirmSeconds);
  }

  /** A delivery reaches its handler. `publishedAtMs`: when it was first published, if known. */
  delivered(queue: string, delivery: { redelivered: boolean; attempt: number; publishedAtMs: number | undefined }): void {
    if (delivery.redelivered) this.redeliveries.inc({ queue });
    if (delivery.attempt === 1 && delivery.publishedAtMs !== undefined) {
      // Clocks of other hosts may run ahead of ours: never a negative age.
      observeSeconds(this.consumerLagSeconds, { queue }, Math.max(0, Date.now() - delivery.publishedAtMs) / 1000);
    }
  }

  settled(queue: string, outcome: HandledOutcome): void {
    this.handled.inc({ queue, outcome });
    if (outcome === 'dead') this.deadLetters.inc({ queue });
  }

  /** Adds queues to facet_bus_queue_messages; returns a function that removes them. */
  watchQueues(source: QueueDepthSource): () => void {
    this.depthSources.add(source);
    return () => this.depthSources.delete(source);
  }
}

async function sampleDepths(gauge: Gauge<'queue'>, sources: ReadonlySet<QueueDepthSource>): Promise<void> {
  await Promise.all(
    [...sources].map(async (source) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, QUEUE_DEPTH_TIMEOUT_MS, 'timeout')));
      const depths = await Promise.race([source.sample().catch(() => undefined), timedOut]).finally(() => clearTimeout(timer));
      if (depths === 'timeout') return; // slow broker: the last known values stay
      if (depths === undefined) {
        // Unknown (disconnected): report nothing rather than old numbers.
        for (const queue of source.queues()) gauge.remove({ queue });
        return;
      }
      for (const [queue, count] of depths) gauge.set({ queue }, count);
    }),
  );
}

const byRegistry = new WeakMap<Registry, BusMetrics>();

/** The one BusMetrics of a registry (several buses in one process share it). */
export function busMetricsFor(registry: Registry): BusMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = new BusMetrics(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
