// One helper sends every request of the suite: it names and tags the request
// (op, kind, class, plan, seller), classifies the answer (2xx, 429 by code,
// 503 shed or not, other 5xx, no answer, stale cache answer, unexpected 4xx),
// feeds the custom metrics and runs the same checks for every scenario.

import { check } from 'k6';
import http from 'k6/http';
import type { Response } from 'k6/http';
import { BASE_URL, KEYS, LIMITS, REQUEST_TIMEOUT } from './config.ts';
import type { Plan } from './config.ts';
import {
  goodput,
  okDuration,
  okRate,
  problems,
  quota429,
  rate429,
  rate503,
  rate5xx,
  rejectDuration,
  shedRate,
  staleRate,
  transportErrors,
  unexpected4xx,
} from './metrics.ts';

/** Operations, named as the OpenAPI operationIds (tag `op`). */
export type Op =
  | 'listOrders'
  | 'getOrder'
  | 'listMaterials'
  | 'getUsage'
  | 'uploadModel'
  | 'createQuote'
  | 'getQuote'
  | 'createOrder'
  | 'cancelOrder'
  | 'dashboard'
  | 'healthz'
  | 'readyz';

export const OPS: readonly Op[] = [
  'listOrders',
  'getOrder',
  'listMaterials',
  'getUsage',
  'uploadModel',
  'createQuote',
  'getQuote',
  'createOrder',
  'cancelOrder',
  'dashboard',
  'healthz',
  'readyz',
];

/** Tag `kind`: what sort of traffic a request is. */
export type Kind = 'read' | 'write' | 'operator' | 'probe' | 'setup';

/**
 * Tag `class`: the gateway's priority class for load shedding (critical for
 * operators, write for a seller's POST, paid-read / free-read by plan tier),
 * or builtin for /healthz and /readyz, which have no pipeline.
 */
export type PriorityClass = 'critical' | 'write' | 'paid-read' | 'free-read' | 'builtin';

/** A seller: its API key, its plan, and the label of tag `seller` (the plan's name unless a script says otherwise). */
export interface Seller {
  plan: Plan;
  key: string;
  label: string;
}

export function seller(plan: Plan, key: string = KEYS[plan], label: string = plan): Seller {
  return { plan, key, label };
}

/** An acceptable answer: a status, or a status with its problem code. */
export type Expectation = number | { status: number; code: string };

export interface CallOptions {
  /** Answers this scenario accepts besides the operation's normal ones (e.g. 429 for a seller over its limit). */
  alsoExpect?: Expectation[];
  /** Extra tags, e.g. { phase: 'contended' } (scenario tags are added by k6 itself). */
  tags?: Record<string, string>;
  timeout?: string;
  /** setup()/teardown() traffic: tagged kind=setup, op=setup:<op>, and kept out of the custom metrics and checks. */
  setup?: boolean;
}

export interface RequestSpec {
  op: Op;
  method: 'GET' | 'POST';
  /** Path and query, e.g. /v1/orders?limit=20. */
  path: string;
  /** The URL template, tag `name` (one time series per route, not per id). */
  name: string;
  seller?: Seller;
  operatorToken?: string;
  body?: string | ArrayBuffer | null;
  headers?: Record<string, string>;
  /** The route answers from the gateway's cache (Cache-Status). */
  cached?: boolean;
  /** The operation's normal answers. */
  expect: Expectation[];
}

export interface Answer {
  res: Response;
  status: number;
  /** Problem code of an error answer, '' otherwise. */
  code: string;
  /** 2xx or 3xx. */
  ok: boolean;
  /** One of the answers the operation and the scenario accept. */
  expected: boolean;
  /** A cached answer marked stale (Cache-Status detail=stale-...). */
  stale: boolean;
  header(name: string): string;
  json<T>(): T | null;
}

export function headerOf(res: Response, name: string): string {
  const headers = res.headers ?? {};
  const exact = headers[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const key in headers) {
    if (key.toLowerCase() === lower) return headers[key] ?? '';
  }
  return '';
}

function bodyText(res: Response): string {
  return typeof res.body === 'string' ? res.body : '';
}

function parseJson<T>(text: string): T | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

export function problemCode(res: Response): string {
  if (res.status < 400) return '';
  const problem = parseJson<{ code?: unknown }>(bodyText(res));
  return problem && typeof problem.code === 'string' ? problem.code : '';
}

export function isStale(res: Response): boolean {
  return headerOf(res, 'Cache-Status').indexOf('detail=stale-') !== -1;
}

export function matches(expectations: Expectation[], status: number, code: string): boolean {
  for (const e of expectations) {
    if (typeof e === 'number' ? e === status : e.status === status && e.code === code) return true;
  }
  return false;
}

function priorityClass(spec: RequestSpec): PriorityClass {
  if (spec.operatorToken !== undefined) return 'critical';
  if (!spec.seller) return 'builtin';
  if (spec.method !== 'GET') return 'write';
  return LIMITS[spec.seller.plan].tier === 'paid' ? 'paid-read' : 'free-read';
}

function kindOf(spec: RequestSpec): Kind {
  if (spec.operatorToken !== undefined) return 'operator';
  if (!spec.seller) return 'probe';
  return spec.method === 'GET' ? 'read' : 'write';
}

export function tagsFor(spec: RequestSpec, options: CallOptions = {}): Record<string, string> {
  const tags: Record<string, string> = {
    name: spec.name,
    op: spec.op,
    kind: kindOf(spec),
    class: priorityClass(spec),
    plan: spec.seller ? spec.seller.plan : spec.operatorToken !== undefined ? 'operator' : 'none',
    seller: spec.seller ? spec.seller.label : spec.operatorToken !== undefined ? 'operator' : 'none',
  };
  if (options.setup) {
    tags.op = `setup:${spec.op}`;
    tags.kind = 'setup';
  }
  for (const key in options.tags ?? {}) tags[key] = (options.tags ?? {})[key] ?? '';
  return tags;
}

/** Sends one request, records it and returns the classified answer. */
export function call(spec: RequestSpec, options: CallOptions = {}): Answer {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', ...(spec.headers ?? {}) };
  if (spec.seller) headers['X-API-Key'] = spec.seller.key;
  if (spec.operatorToken !== undefined) headers.Authorization = `Bearer ${spec.operatorToken}`;
  const tags = tagsFor(spec, options);
  const res = http.request(spec.method, `${BASE_URL}${spec.path}`, spec.body ?? null, {
    headers,
    tags,
    timeout: options.timeout ?? REQUEST_TIMEOUT,
  });
  const status = res.status;
  const code = problemCode(res);
  const ok = status >= 200 && status < 400;
  const stale = ok && spec.cached === true && isStale(res);
  const expected = matches(spec.expect, status, code) || matches(options.alsoExpect ?? [], status, code);
  const answer: Answer = {
    res,
    status,
    code,
    ok,
    expected,
    stale,
    header: (name) => headerOf(res, name),
    json: <T>() => parseJson<T>(bodyText(res)),
  };
  if (!options.setup) record(answer, spec, tags);
  return answer;
}

function record(answer: Answer, spec: RequestSpec, tags: Record<string, string>): void {
  const { status, code, ok } = answer;
  const metricTags: Record<string, string> = {};
  for (const key in tags) if (key !== 'name') metricTags[key] = tags[key] ?? '';

  okRate.add(ok, metricTags);
  rate429.add(status === 429, metricTags);
  quota429.add(status === 429 && code === 'FACET_ERR_QUOTA_EXCEEDED', metricTags);
  rate503.add(status === 503, metricTags);
  shedRate.add(status === 503 && code === 'FACET_ERR_OVERLOADED', metricTags);
  rate5xx.add(status >= 500 && status !== 503, metricTags);
  transportErrors.add(status === 0, metricTags);
  unexpected4xx.add(status >= 400 && status < 500 && status !== 429 && !answer.expected, metricTags);
  if (spec.cached && ok) staleRate.add(answer.stale, metricTags);
  if (ok) {
    okDuration.add(answer.res.timings.duration, metricTags);
    goodput.add(1, metricTags);
  } else if (status === 429 || status === 503) {
    rejectDuration.add(answer.res.timings.duration, metricTags);
  }
  if (status >= 400) problems.add(1, { ...metricTags, code: code || `HTTP_${status}` });

  const checks: Record<string, () => boolean> = {
    [`${spec.op}: expected answer`]: () => answer.expected,
  };
  if (status === 429 || status === 503) checks['429/503 carry Retry-After'] = () => answer.header('Retry-After') !== '';
  if (status >= 400) checks['errors are problem+json with a code'] = () => code !== '' && answer.header('Content-Type').indexOf('application/problem+json') !== -1;
  check(answer, checks, metricTags);
}
