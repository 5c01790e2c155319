// What a stream of load is and what running one yields: the request, the
// shape of the load (closed or open loop), the answers expected, and the raw
// result before it becomes a Measurement. Its own module because both load
// generators use it, autocannon's in measure.ts and the open loop in
// open-loop.ts, and measure.ts runs open-loop.ts: with these types in
// measure.ts the two would import each other.

import type { RecordableHistogram } from 'node:perf_hooks';
import type { ExpectedAnswer, HeaderTally } from './answers.ts';

export interface RequestSpec {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /**
   * Headers that differ on every request (e.g. a fresh Idempotency-Key),
   * merged over `headers` each time a request is built. It costs the load
   * generator a request built per send instead of one prebuilt.
   */
  perRequestHeaders?: () => Record<string, string>;
}

/** Closed loop (autocannon): each connection sends its next request when the previous one is answered. */
export interface ClosedLoad {
  kind?: 'closed';
  /** Default: the run's --connections. */
  connections?: number;
  /** Default: the run's --duration. */
  durationS?: number;
  /** Stop after this many answers instead of after a duration. */
  amount?: number;
}

/** Open loop: a constant arrival rate, whatever the answers do. */
export interface OpenLoad {
  kind: 'open';
  ratePerSec: number;
  /** Default: the run's --duration. */
  durationS?: number;
  /** Sockets the generator may open (default: enough for 2 s of arrivals, at least 64, at most 4096). */
  maxConnections?: number;
}

export type LoadShape = ClosedLoad | OpenLoad;

export interface StreamSpec {
  request: RequestSpec;
  load?: LoadShape;
  expected?: readonly ExpectedAnswer[];
  /** Requests left without an answer (10 s timeout, connection reset) are a result here (overload): reported, not an error of the run. */
  unansweredExpected?: boolean;
  tally?: HeaderTally;
  /** Called with the body of every 2xx answer, as it arrives (e.g. to note the order id a 202 assigned, and when). */
  onOk?: (body: string) => void;
}

export interface LoadDefaults {
  durationS: number;
  connections: number;
}

export interface StreamResult {
  /** Completed responses, any status. */
  requests: number;
  durationS: number;
  /** 2xx answers. */
  ok: number;
  /** Expected non-2xx answers (see ExpectedAnswer). */
  refused: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** By status, and by "status code" when the answer was problem+json with a code. */
  statusCounts: Record<string, number>;
  /** Open loop: requests sent per second of schedule. */
  offeredPerSec?: number;
  /** Open loop: p99 of how late the generator sent requests (ms); large = the generator itself was starved. */
  generatorLagP99Ms?: number;
  tally?: Record<string, number>;
  okLatencyUs: RecordableHistogram;
  refusedLatencyUs: RecordableHistogram;
}
