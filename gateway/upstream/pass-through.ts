// Streaming pass-through with @fastify/reply-from: the body is never
// buffered. Only safe headers cross in either direction, and anything but a
// JSON success (a 5xx, a 4xx, a redirect, an HTML page) or a network failure
// becomes a problem+json without the upstream's body.
//
// Each call runs under the upstream's `stream` policy (resilience.ts): the
// same breaker and bulkhead as the JSON calls, no retry (it streams) and
// reply-from's own `timeout` per request. The policy's promise settles when
// the upstream's headers arrive (a 5xx counts as a breaker failure) or the
// call fails; an open breaker answers at once, without calling reply.from.

import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { FacetError } from '../errors/facet-error.ts';
import { sendProblem } from '../errors/problem.ts';
import { addUpstreamWait, secondsSince } from '../metrics/request-timing.ts';
import type { UpstreamClient } from './client.ts';
import { CallerCancelledError, classify, outcomeOfStatus, UpstreamStatusError } from './failures.ts';

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

export function passThrough(upstream: UpstreamClient, path: string, timeoutMs: number): RouteHandlerMethod {
  const target = upstream.origin + upstream.basePath + path;
  const { resilience } = upstream;
  return async function passThroughHandler(request: FastifyRequest, reply: FastifyReply) {
    const q = request.url.indexOf('?');
    const url = q === -1 ? target : target + request.url.slice(q);
    // The client going away settles the call (reply-from then calls neither callback)
    // and drops it from the bulkhead queue if it is still waiting there.
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort());
    let answered = false;
    const started = performance.now();
    try {
      const status = await resilience.stream.execute(
        () =>
          new Promise<number>((resolve, reject) => {
            if (gone.signal.aborted) throw new CallerCancelledError(upstream.name);
            gone.signal.addEventListener('abort', () => reject(new CallerCancelledError(upstream.name)), { once: true });
            reply.from(url, {
              timeout: timeoutMs,
              // No reply-from retries (by default it retries a GET answered 503 up to 10 times).
              retryDelay: () => null,
              rewriteRequestHeaders: (req) => ({ ...pick(req.headers, FORWARDED_REQUEST_HEADERS), 'x-request-id': req.id }),
              rewriteHeaders: (headers) => pick(headers, FORWARDED_RESPONSE_HEADERS),
              onResponse: (_req, _res, upstreamResponse) => {
                answered = true;
                const code = upstreamResponse.statusCode;
                // Only a JSON success (or a 304) streams through: an error page, a redirect or a 4xx
                // body is the upstream's words, never the client's answer (every pass-through serves JSON).
                const type = String(reply.getHeader('content-type') ?? ''); // copied from the upstream (rewriteHeaders) before onResponse
                const usable = code === 304 || (code >= 200 && code < 300 && /^application\/([a-z0-9.+-]+\+)?json\b/i.test(type));
                if (!usable) {
                  upstreamResponse.stream.resume();
                  reply.removeHeader('content-length');
                  reply.removeHeader('content-type');
                  reply.removeHeader('etag');
                  reply.removeHeader('last-modified');
                  reply.removeHeader('content-encoding');
                  sendProblem(request, reply, new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `${upstream.name} answered ${code}` }));
                  // A 5xx counts against the breaker; a 4xx or an odd success is an upstream that answers.
                  if (code >= 500) reject(new UpstreamStatusError(upstream.name, code));
                  else resolve(code);
                  return;
                }
                reply.send(upstreamResponse.stream);
                resolve(code);
              },
              onError: (_res, { error }) => reject(error),
            });
          }),
        gone.signal,
      );
      // Until the upstream's headers: the body then streams through at the client's pace.
      const seconds = secondsSince(started);
      addUpstreamWait(request, seconds);
      resilience.record(outcomeOfStatus(status), seconds);
    } catch (error) {
      const seconds = secondsSince(started);
      addUpstreamWait(request, seconds);
      const { problem, outcome } = classify(upstream.name, error, () => resilience.retryAfterSeconds(), gone.signal);
      resilience.record(outcome, seconds);
      if (!answered && outcome !== 'cancelled') sendProblem(request, reply, problem);
    }
    return reply;
  };
}
