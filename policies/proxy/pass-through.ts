// Relayed answers with @fastify/reply-from: a small JSON success is read
// (up to `maxBytes`), checked against the upstream operation's contract
// (contract.ts: fields it does not name are removed) and sent through the
// route's serialiser; anything else becomes a problem+json without the
// upstream's body. Only safe headers cross in either direction.
//
// Why not stream it unread: a relayed answer is the upstream's words, sent to
// a seller as they are; unchecked, an MES answering garbage, internal fields
// or a huge body would have it passed on. The one relayed answer, the
// catalogue, is under 1 KiB, so reading it whole costs nothing; the bound
// keeps a broken upstream from making the gateway buffer megabytes.
//
// Each call runs under the upstream's `stream` policy (resilience.ts): the
// same breaker and bulkhead as the JSON calls, no retry and reply-from's own
// `timeout` per request. The policy's promise settles once the answer is
// sent or refused: a 5xx and an answer outside the contract (not JSON, too
// large, wrong shape) count as breaker failures; an open breaker answers at
// once, without calling reply.from.

import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { sendProblem } from '../../platform/errors/problem.ts';
import { addUpstreamWait, secondsSince } from '../../platform/metrics/upstream-wait.ts';
import type { UpstreamClient } from '../../platform/upstream/client.ts';
import { UpstreamContractError, type UpstreamOperation } from '../../platform/upstream/contract.ts';
import { CallerCancelledError, classify, outcomeOfStatus, UpstreamStatusError } from '../../platform/upstream/failures.ts';

/** The most a relayed answer may hold (the catalogue is ~1 KiB). */
export const MAX_RELAYED_BYTES = 64 * 1024;

// No content-length or content-encoding: the body is re-serialised. Accept-Encoding is not
// forwarded either (an encoded body could not be checked): the upstream answers identity.
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'content-encoding', 'etag', 'last-modified', 'cache-control'];
const RELAYED_RESPONSE_HEADERS = ['content-length', 'content-type', 'content-encoding', 'etag', 'last-modified', 'cache-control'];
const FORWARDED_REQUEST_HEADERS = ['accept', 'if-none-match', 'if-modified-since'];
const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\b/i;

function pick(headers: Record<string, unknown>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** Headers copied from the upstream (rewriteHeaders) that must not describe a problem answer. */
function dropRelayedHeaders(reply: FastifyReply): void {
  for (const name of RELAYED_RESPONSE_HEADERS) reply.removeHeader(name);
}

/** The whole body, or an UpstreamContractError as soon as it passes `maxBytes`. */
function readBounded(stream: Readable, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(tooLarge());
        stream.destroy();
      } else chunks.push(chunk);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks, size)));
    stream.once('error', reject);
    // Closed without an end (after 'end' or 'error', a no-op): the answer is incomplete.
    stream.once('close', () => reject(new Error('the upstream closed the body before its end')));
  });
}

export interface PassThroughOptions {
  upstream: UpstreamClient;
  /** The upstream path, e.g. `/mes/materials`. */
  path: string;
  timeoutMs: number;
  /** The upstream operation whose contract a 2xx answer must keep. */
  contract: UpstreamOperation<unknown>;
  maxBytes?: number;
}

export function passThrough({ upstream, path, timeoutMs, contract, maxBytes = MAX_RELAYED_BYTES }: PassThroughOptions): RouteHandlerMethod {
  const target = upstream.origin + upstream.basePath + path;
  const { resilience, name } = upstream;
  const outside = (status: number, problem: string, detail = `${name} sent ${contract.what} that does not match its contract`) =>
    new UpstreamContractError(name, contract.name, status, detail, [problem]);
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
            if (gone.signal.aborted) throw new CallerCancelledError(name);
            gone.signal.addEventListener('abort', () => reject(new CallerCancelledError(name)), { once: true });
            reply.from(url, {
              // Relays are reads (RELAYED in platform/upstream/operations.ts): a HEAD is answered from a checked GET (Fastify drops the body).
              method: 'GET',
              timeout: timeoutMs,
              // No reply-from retries (by default it retries a GET answered 503 up to 10 times).
              retryDelay: () => null,
              rewriteRequestHeaders: (req) => ({ ...pick(req.headers, FORWARDED_REQUEST_HEADERS), 'accept-encoding': 'identity', 'x-request-id': req.id }),
              rewriteHeaders: (headers) => pick(headers, FORWARDED_RESPONSE_HEADERS),
              onResponse: (_req, _res, upstreamResponse) => {
                const code = upstreamResponse.statusCode;
                const body = upstreamResponse.stream;
                gone.signal.addEventListener('abort', () => body.destroy(), { once: true });
                if (code === 304) {
                  // Not modified: no body to check; the client keeps the copy it validated.
                  answered = true;
                  reply.send(body);
                  resolve(code);
                  return;
                }
                if (code < 200 || code >= 300) {
                  // An error page, a redirect or a 4xx body is the upstream's words, never the client's answer.
                  body.resume();
                  dropRelayedHeaders(reply);
                  answered = true;
                  sendProblem(request, reply, new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `${name} answered ${code}` }));
                  // A 5xx counts against the breaker; a 4xx is an upstream that answers.
                  if (code >= 500) reject(new UpstreamStatusError(name, code));
                  else resolve(code);
                  return;
                }
                // Copied from the upstream (rewriteHeaders) before onResponse.
                const type = String(reply.getHeader('content-type') ?? '');
                const encoding = String(reply.getHeader('content-encoding') ?? 'identity');
                const declared = Number(reply.getHeader('content-length') ?? 0);
                const refusal = !JSON_TYPE.test(type)
                  ? outside(code, `content-type ${JSON.stringify(type.slice(0, 64))} is not JSON`, `${name} answered with a body that is not JSON`)
                  : encoding !== 'identity'
                    ? outside(code, `content-encoding ${JSON.stringify(encoding.slice(0, 32))} was not asked for`)
                    : declared > maxBytes
                      ? outside(code, `content-length ${declared} is over ${maxBytes} bytes`, `${name} sent ${contract.what} larger than its contract allows`)
                      : undefined;
                if (refusal) {
                  body.destroy();
                  reject(refusal);
                  return;
                }
                readBounded(body, maxBytes, () => outside(code, `body is over ${maxBytes} bytes`, `${name} sent ${contract.what} larger than its contract allows`))
                  .then((buffer) => {
                    let parsed: unknown;
                    try {
                      parsed = JSON.parse(buffer.toString('utf8'));
                    } catch {
                      throw outside(code, 'body is not JSON', `${name} answered with a body that is not JSON`);
                    }
                    const checked = contract.check(name, code, parsed);
                    reply.removeHeader('content-length');
                    reply.removeHeader('content-encoding');
                    reply.header('content-type', 'application/json; charset=utf-8');
                    answered = true;
                    // An object: serialised by the route's response schema, if it has one.
                    reply.send(checked);
                    resolve(code);
                  })
                  .catch(reject);
              },
              onError: (_res, { error }) => reject(error),
            });
          }),
        gone.signal,
      );
      // Until the answer was read and checked: the client's pace does not count.
      const seconds = secondsSince(started);
      addUpstreamWait(request, seconds);
      resilience.record(outcomeOfStatus(status), seconds);
    } catch (error) {
      const seconds = secondsSince(started);
      addUpstreamWait(request, seconds);
      const { problem, outcome } = classify(name, error, () => resilience.retryAfterSeconds(), gone.signal);
      resilience.record(outcome, seconds);
      if (outcome !== 'cancelled') request.log.warn({ code: problem.code, err: problem.cause ?? problem }, 'upstream problem');
      if (!answered && outcome !== 'cancelled') {
        dropRelayedHeaders(reply);
        sendProblem(request, reply, problem);
      }
    }
    return reply;
  };
}
