// What a scenario is. A scenario starts what it needs (in the group it is
// given), then names the variants the runner measures side by side and how
// to compare them. The runner does the rest: warm-up, interleaved rounds,
// medians, error checks, the report. A variant is either requests (load
// against one request, answers timed) or deliveries (events sent and timed
// to where they arrive: deliveries.ts).

import type { DeliveryBatch, DeliveryCounts, DeliveryLatency, DeliveryMeasurement } from '../deliveries.ts';
import type { ExpectedAnswer, HeaderTally } from '../answers.ts';
import type { LoadShape, RequestSpec, StreamSpec } from '../load-types.ts';
import type { CounterProbe, CpuProbe, Measurement } from '../measure.ts';
import type { ProcessGroup } from '../processes.ts';
import type { BenchSettings } from '../settings.ts';

export interface RequestVariant {
  kind?: 'requests';
  /** Row label, e.g. "gateway" or "direct". */
  name: string;
  /** One line for the report: what this row sends where. */
  description: string;
  request: RequestSpec;
  /** How the load is offered; default: closed loop with the run's --connections and --duration. */
  load?: LoadShape;
  /**
   * Non-2xx answers this variant expects (e.g. 503 FACET_ERR_OVERLOADED
   * from a shedding gateway): reported, and left out of the error budget.
   * Anything else non-2xx (and every connection error) still counts.
   */
  expected?: readonly ExpectedAnswer[];
  /** Requests left without an answer (10 s timeout, connection reset) are an outcome of this variant (open-loop overload): reported, not counted as errors. */
  unansweredExpected?: boolean;
  /** Whose latency the p50/p99 columns show: 2xx answers (default), or the expected refusals (a fast-fail variant). */
  latencyOf?: 'ok' | 'refused';
  /** Count the values of a response header (e.g. Cache-Status) in the report. */
  tally?: HeaderTally;
  /** Other traffic sent at the same time (e.g. another seller's flood), by name; reported alongside. */
  alongside?: Readonly<Record<string, StreamSpec>>;
  /** Seconds of warm-up for this variant (default: the run's --warmup); 0 skips it. */
  warmupS?: number;
  /** Called with the body of each 2xx answer of this variant's own stream, as it arrives (e.g. to note the id a 202 assigned). */
  onOk?: (body: string) => void;
  /**
   * Runs after each measurement of this variant (warm-up included: `phase.warmup`),
   * e.g. to let an overloaded gateway drain before the next one, or to wait
   * for the work a measurement started to finish.
   */
  settle?(signal: AbortSignal, phase: { warmup: boolean; round: number }): Promise<void>;
}

/**
 * Events sent and timed to where they arrive (an SSE client, a webhook
 * receiver) instead of requests timed to their answers. Reported per
 * delivery, in a table of their own.
 */
export interface DeliveryVariant {
  kind: 'deliveries';
  /** Row label. */
  name: string;
  /** One line for the report: what is sent where, and who receives it. */
  description: string;
  /** How one measurement of `durationS` seconds sends (for the report), e.g. "20 events/s for 10 s". */
  load(durationS: number): string;
  /** Seconds of warm-up for this variant (default: the run's --warmup); 0 skips it. */
  warmupS?: number;
  /** Gets one measurement of `durationS` ready (e.g. connects the clients); not measured. */
  open(durationS: number, signal: AbortSignal): Promise<DeliveryBatch>;
}

export type Variant = RequestVariant | DeliveryVariant;

export function isDeliveryVariant(variant: Variant): variant is DeliveryVariant {
  return variant.kind === 'deliveries';
}

export interface VariantSummary {
  name: string;
  /** One measurement per round, in run order. */
  rounds: Measurement[];
  /** Medians over the rounds. */
  reqPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Medians over the rounds: 2xx answers per second, expected refusals (latency, share), offered rate (open loop). */
  okPerSec: number;
  refusedP50Ms: number;
  refusedP99Ms: number;
  refusedShare: number;
  offeredPerSec?: number;
  cpuMicrosPerRequest: Record<string, number | undefined>;
  /** Counter probe differences per completed request (median over rounds), as `label.key`. */
  countersPerRequest: Record<string, number>;
  /** Totals over the rounds. */
  requests: number;
  /** Requests that got no answer within the 10 s timeout. */
  timeouts: number;
  /** Connection errors and unexpected non-2xx answers. */
  failures: number;
  errorRate: number;
  /** Expected non-2xx answers. */
  refused: number;
  /** Answers by status (and problem code), summed over the rounds. */
  statusCounts: Record<string, number>;
  /** Header tally summed over the rounds, if the variant asked for one. */
  tally?: Record<string, number>;
  /** The streams sent alongside, summarised the same way. */
  alongside: Record<string, VariantSummary>;
}

export type Summaries = ReadonlyMap<string, VariantSummary>;

/** Medians over the rounds of a delivery variant (latency, rates, CPU), and totals of the counts. */
export interface DeliverySummary extends DeliveryCounts, DeliveryLatency {
  name: string;
  /** One measurement per round, in run order. */
  rounds: DeliveryMeasurement[];
  deliveriesPerSec: number;
  sentPerSec: number;
  offeredPerSec?: number;
  cpuMicrosPerDelivery: Record<string, number | undefined>;
  /** Counter probe differences per event sent (median over rounds), as `label.key`. */
  countersPerEvent: Record<string, number>;
  /** lost / expected over the rounds. */
  errorRate: number;
}

export type DeliverySummaries = ReadonlyMap<string, DeliverySummary>;

export interface Comparison {
  label: string;
  value: string;
}

export interface TargetResult {
  /** The target as a sentence, e.g. "gateway CPU ≤ 200 µs/request". */
  target: string;
  value: string;
  met: boolean;
}

export interface PreparedScenario {
  variants: Variant[];
  /** Processes whose CPU time per request is reported, one column each. */
  cpu: CpuProbe[];
  /** Counters read before and after each measurement (e.g. Redis commands); differences per request are in the summaries. */
  counters?: CounterProbe[];
  /** Notes printed under the tables (conditions, caveats); one starting with two spaces is a sub-item. */
  notes?: string[];
  /** `deliveries`: the summaries of the delivery variants (`summaries` holds the request variants'). */
  compare?(summaries: Summaries, deliveries: DeliverySummaries): Comparison[];
  /** Reasons the measurement is invalid (e.g. the path measured was not the one intended); any fails the run. */
  validate?(summaries: Summaries, deliveries: DeliverySummaries): string[];
  /** Reported as met / not met; never fails the run. */
  targets?(summaries: Summaries, deliveries: DeliverySummaries): TargetResult[];
}

export interface ScenarioContext {
  /** Start child processes here; the runner stops them after the scenario. */
  group: ProcessGroup;
  /** The run's settings (smoke or full, durations), for scenarios that size their load by them. */
  settings: BenchSettings;
  /** Aborted on Ctrl-C or when a child dies: pass it to any load a scenario runs while preparing. */
  signal: AbortSignal;
  log(line: string): void;
}

export interface Scenario {
  /** Kebab-case; used by --scenario and in the docs markers. */
  name: string;
  /** One sentence for the report and --list. */
  description: string;
  /**
   * Whether `--smoke` without `--scenario` runs it (default true). The
   * smoke run must stay short (about 90 s for all of them, 20 s at most
   * each); a scenario left out still runs in smoke mode when named with
   * --scenario.
   */
  smoke?: boolean;
  prepare(context: ScenarioContext): Promise<PreparedScenario>;
}
