// Per-request state set by policies, kept under symbols so no module
// collides with another's or with Fastify's own properties.

import type { FastifyRequest } from 'fastify';
import type { ConditionInput } from './conditions.ts';
import type { Consumer } from './consumers.ts';

export interface Operator {
  subject: string;
  role: string;
  /** When the operator's credential ends (ms since the epoch); what lives on, like a stream, ends with it. */
  expiresAt?: number;
}

export const kConsumer: unique symbol = Symbol('facet.consumer');
export const kOperator: unique symbol = Symbol('facet.operator');
const kConditionInput: unique symbol = Symbol('facet.conditionInput');

declare module 'fastify' {
  interface FastifyRequest {
    [kConsumer]?: Consumer;
    [kOperator]?: Operator;
    [kConditionInput]?: ConditionInput;
  }
  interface FastifyContextConfig {
    pipeline?: string;
    apiEndpoint?: string;
    /** Routes of the gateway itself (health, docs), outside any pipeline. */
    builtin?: boolean;
  }
}

/** Path without the query string, as logs see it (conditions see it decoded: conditionInputOf). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** `decodeURI`, as the router decodes a path before matching it; undecodable input (the router refuses it) stays as it is. */
function decodedPath(path: string): string {
  if (!path.includes('%')) return path;
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

/**
 * What conditions see of a request: its method, headers and path without the
 * query, decoded as the router decoded it (so `/v1/%6Frders` is `/v1/orders`
 * to a condition, as it was to the router). Built once per request.
 */
export function conditionInputOf(request: FastifyRequest): ConditionInput {
  let input = request[kConditionInput];
  if (input === undefined) {
    input = { method: request.method, path: decodedPath(pathOf(request.url)), headers: request.headers };
    request[kConditionInput] = input;
  }
  return input;
}
