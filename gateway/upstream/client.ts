// One keep-alive undici pool per service endpoint. Upstream failures become
// FacetErrors here, so no upstream body or stack ever reaches a client.

import { Pool, errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import type { ServiceEndpointConfig } from '../config/types.ts';
import { FacetError } from '../errors/facet-error.ts';

export type QueryValue = string | number | boolean | readonly (string | number)[] | undefined;

export interface UpstreamRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface UpstreamResponse<T> {
  status: number;
  body: T;
}

/** How long a client should wait before retrying after an upstream outage. */
export const UPSTREAM_RETRY_AFTER_SECONDS = 5;

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

function isTimeout(error: unknown): boolean {
  const e = error as { name?: string; code?: string };
  return (
    e.name === 'TimeoutError' ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    e.code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}

export class UpstreamClient {
  readonly name: string;
  readonly origin: string;
  readonly basePath: string;
  readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(name: string, config: ServiceEndpointConfig) {
    const url = new URL(config.url);
    this.name = name;
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/$/, '');
    this.timeoutMs = config.timeoutMs;
    this.pool = new Pool(this.origin, {
      connections: config.connections,
      keepAliveTimeout: 30_000,
      connectTimeout: Math.min(config.timeoutMs, 2_000),
    });
  }

  /** Sends a request and parses a JSON answer; 5xx and network failures throw. */
  async json<T>(request: UpstreamRequest): Promise<UpstreamResponse<T>> {
    const timeout = AbortSignal.timeout(request.timeoutMs ?? this.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        method: request.method ?? 'GET',
        path: this.basePath + request.path + buildQuery(request.query),
        headers: { accept: 'application/json', ...(request.body === undefined ? {} : { 'content-type': 'application/json' }), ...request.headers },
        body: request.body === undefined ? null : JSON.stringify(request.body),
        signal,
      });
    } catch (error) {
      throw this.failure(error);
    }
    if (response.statusCode >= 500) {
      await response.body.dump();
      throw new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `${this.name} answered ${response.statusCode}` });
    }
    let body: T;
    try {
      body = (await response.body.json()) as T;
    } catch (error) {
      if (isTimeout(error) || signal.aborted) throw this.failure(error);
      throw new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `${this.name} answered with a body that is not JSON`, cause: error });
    }
    return { status: response.statusCode, body };
  }

  private failure(error: unknown): FacetError {
    if (isTimeout(error)) {
      return new FacetError('FACET_ERR_UPSTREAM_TIMEOUT', { detail: `${this.name} did not answer in time`, cause: error });
    }
    return new FacetError('FACET_ERR_UPSTREAM_UNAVAILABLE', {
      detail: `${this.name} is unavailable`,
      headers: { 'retry-after': String(UPSTREAM_RETRY_AFTER_SECONDS) },
      cause: error,
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export class UpstreamRegistry {
  private readonly clients = new Map<string, UpstreamClient>();

  constructor(endpoints: Record<string, ServiceEndpointConfig>) {
    for (const [name, config] of Object.entries(endpoints)) this.clients.set(name, new UpstreamClient(name, config));
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
