// What a load generator does with each answer: count it by status and
// problem code, record its latency (2xx and expected refusals apart), and
// tally a header if asked. Shared by the closed- and open-loop generators.

import type { RecordableHistogram } from 'node:perf_hooks';
import { createHistogram } from 'node:perf_hooks';

/**
 * A non-2xx answer a variant expects (e.g. 503 FACET_ERR_OVERLOADED from a
 * shedding gateway): counted and reported, not a failure of the run.
 * `code` is the problem+json `code`; omitted, any answer with the status.
 */
export interface ExpectedAnswer {
  status: number;
  code?: string;
}

/** Counts the values of one response header (e.g. Cache-Status), normalised. */
export interface HeaderTally {
  header: string;
  normalise?(value: string): string;
}

const CODE_PATTERN = /"code"\s*:\s*"([A-Za-z0-9_]+)"/;

export function newLatencyHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
}

export function problemCode(body: string): string | undefined {
  return CODE_PATTERN.exec(body)?.[1];
}

/** Whether a non-2xx answer is one the stream expects. */
export function isExpected(expected: readonly ExpectedAnswer[] | undefined, status: number, code: string | undefined): boolean {
  return expected?.some((e) => e.status === status && (e.code === undefined || e.code === code)) ?? false;
}

/** Bookkeeping shared by both load shapes: one call per answer. */
export class AnswerLog {
  readonly okLatencyUs = newLatencyHistogram();
  readonly refusedLatencyUs = newLatencyHistogram();
  readonly statusCounts: Record<string, number> = {};
  readonly tally: Record<string, number> | undefined;
  ok = 0;
  refused = 0;
  non2xx = 0;
  readonly #expected: readonly ExpectedAnswer[] | undefined;
  readonly #normalise: (value: string) => string;

  constructor(expected: readonly ExpectedAnswer[] | undefined, tally: HeaderTally | undefined) {
    this.#expected = expected;
    this.tally = tally ? {} : undefined;
    this.#normalise = tally?.normalise ?? ((v) => v);
  }

  /** A request that got no answer (connection error, timeout), by error code, e.g. "no answer: ECONNRESET". */
  recordError(code: string): void {
    const key = `no answer: ${code}`;
    this.statusCounts[key] = (this.statusCounts[key] ?? 0) + 1;
  }

  /** `body` is only needed (and only read) for non-2xx answers. */
  record(status: number, latencyMs: number, body: string | undefined, headerValue: string | undefined): void {
    const us = Math.max(1, Math.round(latencyMs * 1000));
    if (this.tally) {
      const key = headerValue === undefined ? '(none)' : this.#normalise(headerValue);
      this.tally[key] = (this.tally[key] ?? 0) + 1;
    }
    if (status >= 200 && status < 300) {
      this.ok++;
      this.okLatencyUs.record(us);
      this.statusCounts[String(status)] = (this.statusCounts[String(status)] ?? 0) + 1;
      return;
    }
    this.non2xx++;
    const code = body === undefined ? undefined : problemCode(body);
    const key = code ? `${status} ${code}` : String(status);
    this.statusCounts[key] = (this.statusCounts[key] ?? 0) + 1;
    if (isExpected(this.#expected, status, code)) {
      this.refused++;
      this.refusedLatencyUs.record(us);
    }
  }
}

