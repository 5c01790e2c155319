// What a scenario is. A scenario starts what it needs (in the group it is
// given), then names the variants the runner measures side by side and how
// to compare them. The runner does the rest: warm-up, interleaved rounds,
// medians, error checks, the report.

import type { CpuProbe, Measurement, RequestSpec } from '../measure.ts';
import type { ProcessGroup } from '../processes.ts';

export interface Variant {
  /** Row label, e.g. "gateway" or "direct". */
  name: string;
  /** One line for the report: what this row sends where. */
  description: string;
  request: RequestSpec;
}

export interface VariantSummary {
  name: string;
  /** One measurement per round, in run order. */
  rounds: Measurement[];
  /** Medians over the rounds. */
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMicrosPerRequest: Record<string, number | undefined>;
  /** Totals over the rounds. */
  requests: number;
  failures: number;
  errorRate: number;
}

export type Summaries = ReadonlyMap<string, VariantSummary>;

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
  /** Notes printed under the tables (conditions, caveats); one starting with two spaces is a sub-item. */
  notes?: string[];
  compare?(summaries: Summaries): Comparison[];
  /** Reasons the measurement is invalid (e.g. the path measured was not the one intended); any fails the run. */
  validate?(summaries: Summaries): string[];
  /** Reported as met / not met; never fails the run. */
  targets?(summaries: Summaries): TargetResult[];
}

export interface ScenarioContext {
  /** Start child processes here; the runner stops them after the scenario. */
  group: ProcessGroup;
}

export interface Scenario {
  /** Kebab-case; used by --scenario and in the docs markers. */
  name: string;
  /** One sentence for the report and --list. */
  description: string;
  prepare(context: ScenarioContext): Promise<PreparedScenario>;
}
