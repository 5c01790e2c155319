// One keep-alive undici pool per service endpoint, behind that endpoint's
// resilience policies (resilience.ts). Upstream failures become FacetErrors
// here (failures.ts), so no upstream body or stack ever reaches a client.
// A call that names its upstream contract (contract.ts) has its 2xx answer
// checked inside the attempt, so the breaker counts an answer of the wrong
// shape like any other failure.

import { Transform, type Readable } from 'node:stream';
import { TaskCancelledError } from 'cockatiel';
import { Pool } from 'undici';
import { context } from '@opentelemetry/api';
import type { ServiceEndpointConfig } from './settings.ts';
import { startUpstreamSpan, type UpstreamSpan, type UpstreamTarget } from '../telemetry/upstream-span.ts';
import { addUpstreamWait, secondsSince, type UpstreamWaitSink } from '../metrics/upstream-wait.ts';
import { UpstreamContractError, type UpstreamOperation } from './contract.ts';
import { classify, ClientBodyError, isTransportFailure, outcomeOfStatus, UpstreamStatusError } from './failures.ts';
import { UpstreamResilience, type ResilienceMetrics } from './resilience.ts';

export type QueryValue = string | number | boolean | readonly (string | number)[] | undefined;

export interface UpstreamRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /**
   * A streamed body (uploads): sent as it arrives, never buffered; never
   * retried; under the upload policy (own bulkhead, idle timeout, see
   * resilience.ts). The body stream errors with a ClientBodyError (or any
   * error) when the client breaks it: that is the client's fault, not the upstream's.
   */
  stream?: { body: Readable; contentType: string };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The incoming request this call serves: its wait counts as upstream time, not gateway overhead. */
  caller?: UpstreamWaitSink;
}

export interface UpstreamResponse<T> {
  status: number;
  body: T;
}

/** A call whose 2xx answer is checked against the upstream operation's contract before anyone reads it. */
export type ContractedRequest<T> = UpstreamRequest & { contract: UpstreamOperation<T> };

/**
 * What operation handlers get (gateway/operations): every JSON call names its
 * upstream contract, so an unchecked CRM/MES answer never reaches a handler.
 */
export interface ContractedUpstream {
  readonly name: string;
  json<T>(request: ContractedRequest<T>): Promise<UpstreamResponse<T>>;
}

export function buildQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, String(item));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Only these are ever retried: repeating them changes nothing upstream. */
const IDEMPOTENT_READS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

export class UpstreamClient {
  readonly name: string;
  readonly origin: string;
  readonly basePath: string;
  readonly pool: Pool;
  readonly resilience: UpstreamResilience;
  readonly timeoutMs: number;
  /** What an attempt's client span names (traced requests only). */
  private readonly target: UpstreamTarget;

  constructor(name: string, config: ServiceEndpointConfig, metrics?: ResilienceMetrics) {
    const url = new URL(config.url);
    this.name = name;
    this.origin = url.origin;
    this.target = { name, origin: url.origin, host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
    this.basePath = url.pathname.replace(/\/$/, '');
    this.timeoutMs = config.timeoutMs;
    this.resilience = new UpstreamResilience(name, config, metrics);
    this.pool = new Pool(this.origin, {
      connections: config.connections,
      keepAliveTimeout: 30_000,
      connectTimeout: Math.min(config.timeoutMs, 2_000),
    });
  }

  /**
   * Sends a request and parses a JSON answer; 5xx, network failures, a body
   * that is not JSON and (with `contract`) a 2xx answer of the wrong shape throw.
   * GET/HEAD run under the read policy (retried), anything else under the write
   * policy (never retried); both share the endpoint's breaker and bulkhead.
   */
  async json<T>(request: UpstreamRequest & { contract?: UpstreamOperation<T> }): Promise<UpstreamResponse<T>> {
    const method = request.method ?? 'GET';
    const policy = request.stream ? this.resilience.upload : this.resilience.policy(IDEMPOTENT_READS.has(method) ? 'read' : 'write', request.timeoutMs);
    const started = performance.now();
    try {
      const response = await policy.execute(({ signal }) => (request.stream ? this.upload<T>(method, request, request.stream, signal) : this.attempt<T>(method, request, signal)), request.signal);
      const seconds = secondsSince(started);
      addUpstreamWait(request.caller, seconds);
      this.resilience.record(outcomeOfStatus(response.status), seconds);
      return response;
    } catch (error) {
      const seconds = secondsSince(started);
      addUpstreamWait(request.caller, seconds);
      const { problem, outcome } = classify(this.name, error, () => this.resilience.retryAfterSeconds(), request.signal);
      this.resilience.record(outcome, seconds);
      throw problem;
    }
  }

  /**
   * An upload: the body goes through as fast as the client sends it, with
   * no deadline but an idle one. No byte for `idleTimeoutMs` while the
   * upstream is ready for more, or longer than `maxDurationMs` in all →
   * ClientBodyError('idle'); the body broken (the client went away) →
   * ClientBodyError('closed'); neither counts for the breaker. Once the
   * body is complete the upstream has the endpoint's `timeoutMs` to answer,
   * and a miss counts as a timeout. A body held back because the upstream
   * does not read it is the upstream's slowness: a timeout too.
   */
  private async upload<T>(method: string, request: UpstreamRequest & { contract?: UpstreamOperation<T> }, stream: NonNullable<UpstreamRequest['stream']>, signal: AbortSignal): Promise<UpstreamResponse<T>> {
    const { idleTimeoutMs, maxDurationMs } = this.resilience.uploads;
    if (stream.body.destroyed) throw new ClientBodyError('closed', 'The client stopped sending the upload');
    const stop = new AbortController();
    let fault: Error | undefined;
    const fail = (error: Error): void => {
      if (fault) return;
      fault = error;
      clearTimeout(idle);
      clearTimeout(longest);
      clearTimeout(answer);
      stop.abort(error);
      monitor.destroy(error);
    };
    const upstreamSlow = (what: string) => new TaskCancelledError(`${this.name} ${what} within ${this.timeoutMs} ms`);
    const onIdle = () =>
      fail(monitor.writableNeedDrain ? upstreamSlow('did not read the upload') : new ClientBodyError('idle', `No data of the upload arrived for ${Math.round(idleTimeoutMs / 1000)} s`));
    const idle = setTimeout(onIdle, idleTimeoutMs);
    const longest = setTimeout(() => fail(new ClientBodyError('idle', `The upload took longer than ${Math.round(maxDurationMs / 1000)} s`)), maxDurationMs);
    let answer: NodeJS.Timeout | undefined;
    const monitor = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        idle.refresh();
        callback(null, chunk);
      },
      flush: (callback) => {
        clearTimeout(idle);
        clearTimeout(longest);
        answer = setTimeout(() => fail(upstreamSlow('did not answer the upload')), this.timeoutMs);
        callback();
      },
    });
    // The monitor is what undici reads: while undici waits, the client's bytes wait too (backpressure), and the idle timer tells whose wait it is.
    const broken = (error: Error) => fail(error instanceof ClientBodyError ? error : new ClientBodyError('closed', 'The client stopped sending the upload', { cause: error }));
    stream.body.once('error', broken);
    stream.body.pipe(monitor);
    try {
      return await this.attempt<T>(method, { ...request, stream: { ...stream, body: monitor } }, AbortSignal.any([signal, stop.signal]));
    } catch (error) {
      throw fault ?? error;
    } finally {
      clearTimeout(idle);
      clearTimeout(longest);
      clearTimeout(answer);
      stream.body.removeListener('error', broken);
      if (!stream.body.readableEnded) stream.body.unpipe(monitor);
    }
  }

  /** One attempt, a client span of its own in a sampled trace; `signal` is the attempt's timeout (and the caller's cancel), honoured by undici. */
  private async attempt<T>(method: string, request: UpstreamRequest & { contract?: UpstreamOperation<T> }, signal: AbortSignal): Promise<UpstreamResponse<T>> {
    const path = this.basePath + request.path + buildQuery(request.query);
    const span = startUpstreamSpan(this.target, method, path);
    if (span === undefined) return this.send(method, path, request, signal);
    try {
      return await context.with(span.context, () => this.send(method, path, request, signal, span));
    } catch (error) {
      span.failed(error);
      throw error;
    } finally {
      span.end();
    }
  }

  /** The request and its answer; `span`, in a sampled trace, gets the trace headers and the status. */
  private async send<T>(method: string, path: string, request: UpstreamRequest & { contract?: UpstreamOperation<T> }, signal: AbortSignal, span?: UpstreamSpan): Promise<UpstreamResponse<T>> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(request.stream ? { 'content-type': request.stream.contentType } : request.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...request.headers,
    };
    span?.inject(headers);
    const response = await this.pool.request({
      method,
      path,
      headers,
      body: request.stream ? request.stream.body : request.body === undefined ? null : JSON.stringify(request.body),
      signal,
    });
    span?.answered(response.statusCode);
    if (response.statusCode >= 500) {
      await response.body.dump().catch(() => undefined);
      // Thrown, so the breaker counts it; reported as FACET_ERR_UPSTREAM_BAD_RESPONSE once retries are spent.
      throw new UpstreamStatusError(this.name, response.statusCode);
    }
    let body: unknown;
    try {
      body = await response.body.json();
    } catch (error) {
      if (signal.aborted || isTransportFailure(error)) throw error;
      const operation = request.contract?.name ?? `${method} ${request.path}`;
      throw new UpstreamContractError(this.name, operation, response.statusCode, `${this.name} answered with a body that is not JSON`, ['body is not JSON']);
    }
    const status = response.statusCode;
    return { status, body: request.contract ? request.contract.check(this.name, status, body) : (body as T) };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export class UpstreamRegistry {
  private readonly clients = new Map<string, UpstreamClient>();

  constructor(endpoints: Record<string, ServiceEndpointConfig>, metrics?: ResilienceMetrics) {
    for (const [name, config] of Object.entries(endpoints)) this.clients.set(name, new UpstreamClient(name, config, metrics));
  }

  get(name: string): UpstreamClient {
    const client = this.clients.get(name);
    if (!client) throw new Error(`unknown service endpoint ${name}`);
    return client;
  }

  entries(): IterableIterator<[string, UpstreamClient]> {
    return this.clients.entries();
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}
