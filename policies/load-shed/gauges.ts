// The load shedder's state as gauges, read at scrape time: each upstream's
// adaptive concurrency limit, requests in flight and the two RTT averages it
// is computed from, and the event-loop delay the process guard acts on.
// Ops read why requests are shed (the decisions are counted in
// facet_shed_decisions_total) and where the limit settled.

import { Gauge, type Registry } from 'prom-client';
import type { SheddingService } from './shedding-service.ts';

/**
 * Registers the gauges once per registry; they read the shedding service
 * `current()` returns at scrape time (a reload builds a new one), nothing
 * while it is disabled.
 */
export function registerSheddingGauges(registry: Registry, current: () => SheddingService): void {
  const snapshotOf = () => current().snapshot();
  const perUpstream = (name: string, help: string, read: (u: ReturnType<typeof snapshotOf>['upstreams'][string]) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['upstream'],
      registers: [registry],
      collect() {
        this.reset();
        if (!current().enabled) return;
        for (const [upstream, state] of Object.entries(snapshotOf().upstreams)) this.set({ upstream }, read(state));
      },
    });
  };
  perUpstream('facet_shed_concurrency_limit', 'Adaptive concurrency limit per upstream (all classes; lower classes may fill a share of it).', (u) => u.limit);
  perUpstream('facet_shed_inflight', 'Requests holding an upstream slot of the load shedder.', (u) => u.inflight);
  perUpstream('facet_shed_rtt_baseline_seconds', 'The adaptive limit’s baseline upstream round trip (slow average, learned under light load).', (u) => u.longRttMs / 1000);
  perUpstream('facet_shed_rtt_recent_seconds', 'The adaptive limit’s recent upstream round trip (fast average).', (u) => u.shortRttMs / 1000);
  new Gauge({
    name: 'facet_shed_event_loop_delay_seconds',
    help: 'p99 event-loop delay of the last sampled interval, what the process guard sheds on.',
    registers: [registry],
    collect() {
      if (current().enabled) this.set(snapshotOf().eventLoopDelayMs / 1000);
    },
  });
}
