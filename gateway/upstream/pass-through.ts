// Streaming pass-through with @fastify/reply-from: the body is never
// buffered. Only safe headers cross in either direction, and an upstream
// 5xx or network failure becomes a problem+json without the upstream's body.

import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { FacetError } from '../errors/facet-error.ts';
import { sendProblem } from '../errors/problem.ts';
import { UPSTREAM_RETRY_AFTER_SECONDS, type UpstreamClient } from './client.ts';

const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'content-encoding'];
const FORWARDED_REQUEST_HEADERS = ['accept', 'accept-encoding', 'content-type', 'content-length', 'if-none-match', 'if-modified-since'];

function pick(headers: Record<string, unknown>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

function errorFor(code: string | undefined): FacetError {
  if (code === 'FST_REPLY_FROM_GATEWAY_TIMEOUT' || code === 'FST_REPLY_FROM_CONNECT_TIMEOUT') {
    return new FacetError('FACET_ERR_UPSTREAM_TIMEOUT');
  }
  return new FacetError('FACET_ERR_UPSTREAM_UNAVAILABLE', { headers: { 'retry-after': String(UPSTREAM_RETRY_AFTER_SECONDS) } });
}

export function passThrough(upstream: UpstreamClient, path: string, timeoutMs: number): RouteHandlerMethod {
  const target = upstream.origin + upstream.basePath + path;
  return function passThroughHandler(request: FastifyRequest, reply: FastifyReply) {
    const q = request.url.indexOf('?');
    return reply.from(q === -1 ? target : target + request.url.slice(q), {
      timeout: timeoutMs,
      rewriteRequestHeaders: (req) => ({ ...pick(req.headers, FORWARDED_REQUEST_HEADERS), 'x-request-id': req.id }),
      rewriteHeaders: (headers) => pick(headers, FORWARDED_RESPONSE_HEADERS),
      onResponse: (_req, _res, upstreamResponse) => {
        if (upstreamResponse.statusCode >= 500) {
          upstreamResponse.stream.resume();
          reply.removeHeader('content-length');
          reply.removeHeader('content-type');
          sendProblem(request, reply, new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `${upstream.name} answered ${upstreamResponse.statusCode}` }));
          return;
        }
        reply.send(upstreamResponse.stream);
      },
      onError: (_res, { error }) => {
        sendProblem(request, reply, errorFor((error as { code?: string }).code));
      },
    });
  };
}
