// One set of cockatiel policies per upstream (MES and CRM apart): a circuit
// breaker and a bulkhead shared by every call to that upstream, composed as
//
//   read   = gate → bulkhead → retry → gate → breaker → cancel → timeout
//   write  = gate → bulkhead →         gate → breaker → cancel → timeout
//   stream = gate → bulkhead →         gate → breaker        (pass-through)
//   upload = gate → upload bulkhead →  gate → breaker        (idle timeout in client.ts)
//
// outermost first. Why this order:
// - Retry around the breaker (not the breaker around the retry; cockatiel
//   issue #107): every attempt is one sample for the breaker, so a failing
//   upstream opens it as fast as the failures come; a half-open trial is a
//   single request, not a whole retry sequence; and once the breaker opens,
//   the next attempt gets BrokenCircuitError, which is not retryable, so the
//   retry stops at once instead of sleeping through its backoffs.
// - Timeout inside the breaker: each attempt has its own deadline and a
//   timeout counts as a failure. Its AbortSignal goes to undici, so the
//   request is really aborted, not just abandoned.
// - Bulkhead outermost: it caps calls in progress, retries and backoffs
//   included, so retries cannot multiply the load on a struggling upstream.
// - The gate makes an open breaker answer in microseconds even when the
//   bulkhead is full, and while a half-open trial is in flight it refuses
//   other calls at once (cockatiel would make them wait for the trial, i.e.
//   up to a full timeout).
// - `cancel` tells a caller's abort from a timeout, so clients that go away
//   never open the breaker.
// Writes are never retried: a POST that timed out may have been applied.
// - Uploads have their own bulkhead (a slow uplink holds a slot for
//   minutes: uploads must not starve the other MES writes, nor they
//   uploads) and no per-attempt timeout: client.ts aborts an upload whose
//   client sends nothing for `uploads.idleTimeoutMs` (408) and one that
//   outlasts `uploads.maxDurationMs`, and gives the upstream `timeoutMs` to
//   answer once the body is complete. A client's slowness or abort is a
//   ClientBodyError, which the breaker never counts.

import {
  BrokenCircuitError,
  CircuitState,
  ExponentialBackoff,
  IsolatedCircuitError,
  NoopPolicy,
  SamplingBreaker,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  isTaskCancelledError,
  retry,
  timeout,
  wrap,
} from 'cockatiel';
import type { BulkheadPolicy, CircuitBreakerPolicy, IDefaultPolicyContext, IPolicy, RetryPolicy } from 'cockatiel';
import { DEFAULT_UPLOAD_SETTINGS, type ServiceEndpointConfig, type UploadSettings } from './settings.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import { observeSeconds } from '../metrics/trace-exemplar.ts';
import { CallerCancelledError, isRetryable, isUpstreamFailure, type UpstreamOutcome } from './failures.ts';

export type BreakerStateName = 'closed' | 'open' | 'half-open' | 'isolated';

export interface ResilienceSnapshot {
  breaker: BreakerStateName;
  bulkhead: { executing: number; queued: number; limit: number };
}

export type ResilienceMetrics = Pick<
  GatewayMetrics,
  'upstreamRequests' | 'upstreamRetries' | 'upstreamBreakerState' | 'upstreamBreakerTransitions' | 'upstreamBulkheadRejections'
> &
  Partial<Pick<GatewayMetrics, 'upstreamRequestDuration'>>;

export type CallKind = 'read' | 'write';

const STATE_NAMES: Record<CircuitState, BreakerStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/** facet_upstream_breaker_state: 0 closed, 1 half-open, 2 open (held open counts as open). */
const STATE_GAUGE: Record<CircuitState, number> = {
  [CircuitState.Closed]: 0,
  [CircuitState.HalfOpen]: 1,
  [CircuitState.Open]: 2,
  [CircuitState.Isolated]: 2,
};

const NEVER_ABORTED = new AbortController().signal;

type Run = (fn: (context: IDefaultPolicyContext) => unknown, signal: AbortSignal) => Promise<unknown>;

/** A policy from one function around the next step; stateless, so one instance serves everywhere. */
class StepPolicy implements IPolicy {
  declare readonly _altReturn: never;
  readonly onSuccess;
  readonly onFailure;
  readonly #run: Run;

  constructor(run: Run) {
    const events = new NoopPolicy();
    this.onSuccess = events.onSuccess;
    this.onFailure = events.onFailure;
    this.#run = run;
  }

  execute<T>(fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T, signal: AbortSignal = NEVER_ABORTED): Promise<T> {
    return this.#run(fn, signal) as Promise<T>;
  }
}

export class UpstreamResilience {
  readonly name: string;
  readonly breaker: CircuitBreakerPolicy;
  readonly bulkhead: BulkheadPolicy;
  /** Idempotent reads (GET/HEAD): retried on connection errors, timeouts, 502/503/504. */
  readonly read: IPolicy;
  /** Everything else: never retried. */
  readonly write: IPolicy;
  /** Pass-through (reply-from streams, with its own per-request timeout): breaker and bulkhead only. */
  readonly stream: IPolicy;
  /** Uploads' own concurrency cap. */
  readonly uploadBulkhead: BulkheadPolicy;
  /** Streamed uploads: their own bulkhead, the endpoint's breaker; timeouts are client.ts's. */
  readonly upload: IPolicy;
  readonly uploads: UploadSettings;
  readonly #retry: RetryPolicy;
  readonly #gate: IPolicy;
  readonly #cancel: IPolicy;
  readonly #timeoutMs: number;
  readonly #halfOpenAfterMs: number;
  readonly #limit: number;
  readonly #queue: number;
  readonly #metrics: ResilienceMetrics | undefined;
  #openedAt = 0;

  constructor(name: string, endpoint: ServiceEndpointConfig, metrics?: ResilienceMetrics) {
    const { retry: retrySettings, breaker: breakerSettings, bulkhead: bulkheadSettings } = endpoint.resilience;
    this.name = name;
    this.#metrics = metrics;
    this.#timeoutMs = endpoint.timeoutMs;
    this.#halfOpenAfterMs = breakerSettings.halfOpenAfterMs;
    this.#limit = bulkheadSettings.limit;
    this.#queue = bulkheadSettings.queue;

    if (!(breakerSettings.failureRateThreshold < 1)) {
      throw new RangeError(`serviceEndpoints.${name}.resilience.breaker.failureRateThreshold must be below 1, got ${breakerSettings.failureRateThreshold}`);
    }
    this.bulkhead = bulkhead(bulkheadSettings.limit, bulkheadSettings.queue);
    this.breaker = circuitBreaker(handleWhen(isUpstreamFailure), {
      halfOpenAfter: breakerSettings.halfOpenAfterMs,
      breaker: new SamplingBreaker({
        threshold: breakerSettings.failureRateThreshold,
        duration: breakerSettings.samplingDurationMs,
        minimumRps: breakerSettings.minimumRps,
      }),
    });
    // maxAttempts is cockatiel's: retries after the first attempt (0 = no retry).
    this.#retry = retry(handleWhen(isRetryable), {
      maxAttempts: retrySettings.maxAttempts,
      backoff: new ExponentialBackoff({ initialDelay: retrySettings.initialDelayMs, maxDelay: retrySettings.maxDelayMs }), // decorrelated jitter by default
    });

    this.#gate = new StepPolicy(async (fn, signal) => {
      const refusal = this.#refusal();
      if (refusal) throw refusal;
      return fn({ signal });
    });
    this.#cancel = new StepPolicy(async (fn, signal) => {
      try {
        return await fn({ signal });
      } catch (error) {
        // The timeout's signal derives from the caller's: if the caller's is aborted, this was no timeout.
        if (isTaskCancelledError(error) && signal.aborted) throw new CallerCancelledError(name);
        throw error;
      }
    });

    this.read = this.#compose('read', endpoint.timeoutMs);
    this.write = this.#compose('write', endpoint.timeoutMs);
    this.stream = wrap(this.#gate, this.bulkhead, this.#gate, this.breaker);
    this.uploads = endpoint.uploads ?? DEFAULT_UPLOAD_SETTINGS;
    this.uploadBulkhead = bulkhead(this.uploads.bulkhead.limit, this.uploads.bulkhead.queue);
    this.upload = wrap(this.#gate, this.uploadBulkhead, this.#gate, this.breaker);

    this.breaker.onBreak(() => {
      this.#openedAt = Date.now();
    });
    if (metrics) {
      metrics.upstreamBreakerState.set({ upstream: name }, STATE_GAUGE[this.breaker.state]);
      this.breaker.onStateChange((state) => {
        metrics.upstreamBreakerState.set({ upstream: name }, STATE_GAUGE[state]);
        metrics.upstreamBreakerTransitions.inc({ upstream: name, to: STATE_NAMES[state] });
      });
      this.bulkhead.onReject(() => metrics.upstreamBulkheadRejections.inc({ upstream: name }));
      this.uploadBulkhead.onReject(() => metrics.upstreamBulkheadRejections.inc({ upstream: name }));
      this.#retry.onRetry(() => metrics.upstreamRetries.inc({ upstream: name }));
    }
  }

  /** The composed policy for a call; `timeoutMs` overrides the endpoint's per-attempt timeout. */
  policy(kind: CallKind, timeoutMs: number = this.#timeoutMs): IPolicy {
    if (timeoutMs !== this.#timeoutMs) return this.#compose(kind, timeoutMs);
    return kind === 'read' ? this.read : this.write;
  }

  #compose(kind: CallKind, timeoutMs: number): IPolicy {
    // Every attempt reads its whole answer before returning, so there is
    // nothing to abort on success (aborting costs a DOMException per call).
    const perAttempt = timeout(timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
    return kind === 'read'
      ? wrap(this.#gate, this.bulkhead, this.#retry, this.#gate, this.breaker, this.#cancel, perAttempt)
      : wrap(this.#gate, this.bulkhead, this.#gate, this.breaker, this.#cancel, perAttempt);
  }

  /**
   * Why a call must not reach the breaker now, if it must not: open and not
   * yet due for a trial, half-open with its single trial in flight, or held
   * open. An open breaker that is due lets the call through: cockatiel makes
   * it the half-open trial, in the same tick, so two calls never both pass.
   */
  #refusal(): Error | undefined {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return undefined;
      case CircuitState.Open:
        return Date.now() - this.#openedAt >= this.#halfOpenAfterMs ? undefined : new BrokenCircuitError();
      case CircuitState.HalfOpen:
        return new BrokenCircuitError('Execution prevented because a half-open trial call is in flight');
      default:
        return new IsolatedCircuitError();
    }
  }

  /** Whole seconds until the breaker lets a trial call through (at least 1). */
  retryAfterSeconds(): number {
    if (this.breaker.state !== CircuitState.Open) return 1;
    return Math.max(1, Math.ceil((this.#openedAt + this.#halfOpenAfterMs - Date.now()) / 1000));
  }

  snapshot(): ResilienceSnapshot {
    return {
      breaker: STATE_NAMES[this.breaker.state],
      bulkhead: { executing: this.#limit - this.bulkhead.executionSlots, queued: this.#queue - this.bulkhead.queueSlots, limit: this.#limit },
    };
  }

  /** Counts one finished call (after its retries) in facet_upstream_requests_total, and its duration when given. */
  record(outcome: UpstreamOutcome, seconds?: number): void {
    const metrics = this.#metrics;
    if (!metrics) return;
    metrics.upstreamRequests.inc({ upstream: this.name, outcome });
    if (seconds !== undefined && metrics.upstreamRequestDuration) observeSeconds(metrics.upstreamRequestDuration, { upstream: this.name, outcome }, seconds);
  }
}
