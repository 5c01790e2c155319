// idempotency: `Idempotency-Key` semantics of draft-ietf-httpapi-idempotency-key-header
// for unsafe operations. The key is scoped per seller and route and kept
// 24 h with a fingerprint of the request body:
//   missing key → 400; same key, other body → 422; same key while the first
//   is still running → 409; same key and body → the first answer again.
// A request that fails (4xx or 5xx, e.g. the broker refused) created
// nothing, so its key is forgotten and the same request may be retried. A
// request whose outcome is unknown (FACET_ERR_OUTCOME_UNKNOWN: the broker
// never confirmed, the command may still arrive) keeps its key, marked
// `unknown`, for ttlSec: the same request again runs again (and carries the
// same derived ids, so nothing is created twice); another one is 422.

import { createHash } from 'node:crypto';
import type { FastifyReply, RouteHandlerMethod } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import type { PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { kConsumer } from '../../platform/pipeline/request-state.ts';
import { canonicalJson } from '../../platform/pipeline/fingerprint.ts';

export interface IdempotencyAction {
  ttlSec: number;
  /** How long an unfinished request holds its key (a crashed replica's key frees itself). */
  inFlightTtlSec: number;
}

interface InFlight {
  state: 'in_flight';
  fingerprint: string;
}

interface Done {
  state: 'done';
  fingerprint: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The first request's outcome is unknown: the same request may run again, another may not use the key. */
interface Unknown {
  state: 'unknown';
  fingerprint: string;
}

type IdempotencyRecord = InFlight | Done | Unknown;

const KEY = /^[\x21-\x7e]{1,255}$/;
const REPLAYED_HEADERS = ['location', 'retry-after', 'content-type'];

export function fingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${canonicalJson(body)}`).digest('base64url');
}

export const idempotencyPolicy: PolicyDefinition<IdempotencyAction> = {
  name: 'idempotency',
  terminal: false,
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ttlSec: { type: 'integer', minimum: 60, default: 86_400 },
      inFlightTtlSec: { type: 'integer', minimum: 1, default: 60 },
    },
  },
  check(_action, { routes }) {
    return routes.some((r) => r.method === 'GET' || r.method === 'HEAD') ? ['ttlSec: idempotency keys are for unsafe methods (POST, PUT, PATCH, DELETE)'] : [];
  },
  build(steps, route, services) {
    const action = steps[0]?.action;
    if (!action) return {};
    const { state } = services;

    const replay = (reply: FastifyReply, record: Done) => {
      reply.code(record.status).headers(record.headers).header('idempotent-replayed', 'true');
      return reply.send(record.body);
    };

    const wrapHandler = (inner: RouteHandlerMethod): RouteHandlerMethod =>
      async function idempotent(request, reply) {
        const consumer = request[kConsumer];
        const key = request.headers['idempotency-key'];
        if (typeof key !== 'string' || !KEY.test(key)) {
          throw new FacetError('FACET_ERR_IDEMPOTENCY_KEY_MISSING', {
            detail: 'Send an Idempotency-Key header (1-255 printable characters) so a retry cannot create a second order',
            errors: [{ field: 'header.idempotency-key', message: typeof key === 'string' ? 'must be 1-255 printable ASCII characters' : 'is required' }],
          });
        }
        const storeKey = `facet:idem:${consumer?.id ?? 'anonymous'}:${route.method}:${route.path}:${createHash('sha256').update(key).digest('base64url')}`;
        const print = fingerprint(route.method, request.url.split('?', 1)[0] ?? '', request.body);
        const inFlight = JSON.stringify({ state: 'in_flight', fingerprint: print } satisfies InFlight);
        const claimed = await state.setIfAbsent(storeKey, inFlight, action.inFlightTtlSec);
        if (!claimed) {
          const raw = await state.get(storeKey);
          const existing = raw ? (JSON.parse(raw) as IdempotencyRecord) : undefined;
          if (!existing) throw new FacetError('FACET_ERR_IDEMPOTENCY_IN_FLIGHT', { headers: { 'retry-after': '1' } });
          if (existing.fingerprint !== print) {
            throw new FacetError('FACET_ERR_IDEMPOTENCY_KEY_REUSED', { detail: 'This Idempotency-Key was used with a different request; use a new key for a new request' });
          }
          if (existing.state === 'in_flight') throw new FacetError('FACET_ERR_IDEMPOTENCY_IN_FLIGHT', { headers: { 'retry-after': '1' } });
          if (existing.state === 'done') return replay(reply, existing);
          // unknown: the same request runs again. Two such retries at once both run: harmless, as they carry the same ids.
          await state.set(storeKey, inFlight, action.inFlightTtlSec);
        }
        try {
          const result = await inner.call(this, request, reply);
          const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
          for (const name of REPLAYED_HEADERS) {
            const value = reply.getHeader(name);
            if (typeof value === 'string' || typeof value === 'number') headers[name] = String(value);
          }
          const done: Done = { state: 'done', fingerprint: print, status: reply.statusCode, headers, body: JSON.stringify(result) };
          await state.set(storeKey, JSON.stringify(done), action.ttlSec).catch((error: unknown) => {
            request.log.error({ err: error }, 'could not store the idempotent answer; a retry will be refused as in flight until the key expires');
          });
          return result;
        } catch (error) {
          if (error instanceof FacetError && error.code === 'FACET_ERR_OUTCOME_UNKNOWN') {
            // Something may have been created: the key stays bound to this request.
            await state.set(storeKey, JSON.stringify({ state: 'unknown', fingerprint: print } satisfies Unknown), action.ttlSec).catch((stored: unknown) => {
              request.log.error({ err: stored }, 'could not keep the idempotency key of a request with an unknown outcome');
            });
          } else {
            // Nothing was created: forget the key so the same request can be retried.
            await state.delete(storeKey).catch(() => {});
          }
          throw error;
        }
      };
    return { wrapHandler };
  },
};
