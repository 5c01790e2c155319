// The adapters' business metrics: how orders end, which statuses they pass
// through, and how long the saga's work per step takes. The bus's own
// metrics (publish, consume, queues) are in bus/metrics.ts. Labels are
// bounded enums: no order or seller id.

import { Counter, type Histogram, type Registry } from 'prom-client';
import type { OrderStatus } from '../contracts/messages.ts';
import { exemplarHistogram } from '../platform/metrics/exposition.ts';
import { observeSeconds } from '../platform/metrics/trace-exemplar.ts';
import type { SagaStep } from './saga/state.ts';

/** completed: SHIPPED; compensated: ended REJECTED or CANCELLED; failed: a message the saga could not handle was parked. */
export type SagaOutcome = 'completed' | 'compensated' | 'failed';

/** Upstream calls, the event publish and the state write of one step: milliseconds to tens of seconds. */
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class SagaMetrics {
  readonly outcomes: Counter<'outcome'>;
  readonly statusTransitions: Counter<'to'>;
  readonly stepDuration: Histogram<'step'>;

  constructor(registry: Registry) {
    this.outcomes = new Counter({
      name: 'facet_saga_outcomes_total',
      help: 'Orders the saga finished, by outcome: completed (SHIPPED), compensated (ended REJECTED or CANCELLED), failed (a message parked: out of attempts or unusable).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.statusTransitions = new Counter({
      name: 'facet_order_status_transitions_total',
      help: 'Order statuses the saga set and announced (order.status_changed), by new status.',
      labelNames: ['to'],
      registers: [registry],
    });
    this.stepDuration = exemplarHistogram(registry, {
      name: 'facet_saga_step_duration_seconds',
      help: "The saga's work to reach a step within one message (upstream calls, event, state write; not the wait for MES), by the step reached.",
      labelNames: ['step'],
      buckets: STEP_BUCKETS,
    });
  }

  outcome(outcome: SagaOutcome): void {
    this.outcomes.inc({ outcome });
  }

  transition(to: OrderStatus): void {
    this.statusTransitions.inc({ to });
  }

  step(step: SagaStep, seconds: number): void {
    observeSeconds(this.stepDuration, { step }, seconds);
  }
}

const byRegistry = new WeakMap<Registry, SagaMetrics>();

/** The one SagaMetrics of a registry. */
export function sagaMetricsFor(registry: Registry): SagaMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = new SagaMetrics(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
