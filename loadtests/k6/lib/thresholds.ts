// Threshold builders. A failed threshold makes `k6 run` exit 99 (and CI
// fail). Latency limits are multiplied by LATENCY_SCALE.
//
// "Report-only" entries (max>=0, count>=0, rate>=0) never fail: they exist
// because k6 only puts a tagged sub-metric such as
// http_req_duration{op:getOrder} into the end-of-test data when a threshold
// names it, and the summary wants to show it.

import { LATENCY_SCALE } from './config.ts';
import { PROBLEM_CODES } from './metrics.ts';
import type { Op } from './http.ts';

export type Thresholds = Record<string, string[]>;

export const REPORT_ONLY: readonly string[] = ['max>=0', 'count>=0', 'rate>=0', 'value>=0'];

/** A latency limit in ms, scaled by LATENCY_SCALE. */
export function ms(limit: number): number {
  return Math.round(limit * LATENCY_SCALE * 10) / 10;
}

/** metric{tag:value,...} */
export function sub(metric: string, tags: Record<string, string> = {}): string {
  const parts: string[] = [];
  for (const key in tags) parts.push(`${key}:${tags[key]}`);
  return parts.length === 0 ? metric : `${metric}{${parts.join(',')}}`;
}

export class ThresholdSet {
  readonly thresholds: Thresholds = {};

  add(metric: string, ...expressions: string[]): this {
    const list = this.thresholds[metric] ?? (this.thresholds[metric] = []);
    for (const e of expressions) if (list.indexOf(e) === -1) list.push(e);
    return this;
  }

  /** p(95) and p(99) ceilings in ms (scaled). */
  latency(metric: string, tags: Record<string, string>, p95: number, p99: number): this {
    return this.add(sub(metric, tags), `p(95)<${ms(p95)}`, `p(99)<${ms(p99)}`);
  }

  /** A Rate must stay below a share (0.01 = 1%). */
  below(metric: string, tags: Record<string, string>, share: number): this {
    return this.add(sub(metric, tags), `rate<${share}`);
  }

  /** A Rate must reach a share. */
  atLeast(metric: string, tags: Record<string, string>, share: number): this {
    return this.add(sub(metric, tags), `rate>=${share}`);
  }

  trendReport(metric: string, tags: Record<string, string> = {}): this {
    return this.add(sub(metric, tags), 'max>=0');
  }

  rateReport(metric: string, tags: Record<string, string> = {}): this {
    return this.add(sub(metric, tags), 'rate>=0');
  }

  counterReport(metric: string, tags: Record<string, string> = {}): this {
    return this.add(sub(metric, tags), 'count>=0');
  }

  /**
   * What every script asserts: answers come back (no transport errors), no
   * 5xx other than 503, no unexpected 4xx, the checks pass, and the load
   * generator really offered the planned load (dropped_iterations).
   */
  baseline(planned: number, limits: { serverErrors?: number; transportErrors?: number; dropped?: boolean } = {}): this {
    this.below('facet_transport_error', {}, limits.transportErrors ?? 0.001);
    this.below('facet_5xx', {}, limits.serverErrors ?? 0.001);
    this.below('facet_unexpected_4xx', {}, 0.001);
    this.add('checks', 'rate>0.99');
    if (limits.dropped !== false) this.add('dropped_iterations', `count<${Math.max(10, Math.ceil(planned * 0.01))}`);
    return this;
  }

  /** Report-only entries behind the summary's breakdowns: answers by problem code, latency by operation. */
  breakdowns(ops: readonly Op[]): this {
    for (const code of PROBLEM_CODES) this.counterReport('facet_problems', { code });
    for (const op of ops) {
      this.trendReport('http_req_duration', { op });
      this.rateReport('facet_ok', { op });
    }
    this.rateReport('facet_ok');
    this.rateReport('facet_429');
    this.rateReport('facet_503');
    this.rateReport('facet_shed');
    this.rateReport('facet_stale');
    this.trendReport('facet_ok_duration');
    this.trendReport('facet_reject_duration');
    return this;
  }
}
