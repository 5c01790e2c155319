// Per-request state set by policies, kept under symbols so no module
// collides with another's or with Fastify's own properties.

import type { Consumer } from './consumers.ts';

export interface Operator {
  subject: string;
  role: string;
}

export const kConsumer: unique symbol = Symbol('facet.consumer');
export const kOperator: unique symbol = Symbol('facet.operator');

declare module 'fastify' {
  interface FastifyRequest {
    [kConsumer]?: Consumer;
    [kOperator]?: Operator;
  }
  interface FastifyContextConfig {
    pipeline?: string;
    apiEndpoint?: string;
    /** Routes of the gateway itself (health, docs), outside any pipeline. */
    builtin?: boolean;
  }
}

/** Path without the query string, as conditions and logs see it. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
