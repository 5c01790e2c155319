// The media-type guard: a body must be of a type its operation's requestBody
// lists in the spec (an operation without one, a take or a delete, takes
// JSON at most, which it ignores). Checked in onRequest, before any body
// parser runs: Fastify's own text/plain parser would otherwise hand a string
// to the schema and answer 400, or, with no body schema, accept it.

import type { onRequestHookHandler } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';

/** What an operation without a requestBody tolerates: an empty JSON object, as clients often send. */
const WITHOUT_BODY = ['application/json'];

/** The media types `requestBody.content` lists (lower case, no parameters), or undefined when the operation has no body. */
export function acceptedMediaTypes(requestBody: unknown): string[] | undefined {
  const content = (requestBody as { content?: Record<string, unknown> } | undefined)?.content;
  if (!content) return undefined;
  return Object.keys(content).map((type) => essence(type));
}

/** `type/subtype` of a Content-Type value, without parameters, in lower case. */
export function essence(contentType: string): string {
  return (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
}

function matches(accepted: string, type: string): boolean {
  if (accepted === '*/*') return type !== '';
  if (accepted.endsWith('/*')) return type.startsWith(accepted.slice(0, -1));
  return accepted === type;
}

/**
 * The guard of an operation (`method` and its spec `requestBody`); undefined
 * for reads (GET, HEAD), which take no body.
 */
export function mediaTypeGuard(method: string, requestBody: unknown): onRequestHookHandler | undefined {
  const listed = acceptedMediaTypes(requestBody);
  if (listed === undefined && (method === 'GET' || method === 'HEAD')) return undefined;
  const accepted = listed ?? WITHOUT_BODY;
  const detail = `Send the body as ${accepted.join(' or ')}`;
  return async (request) => {
    const header = request.headers['content-type'];
    const length = request.headers['content-length'];
    const hasBody = request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    const type = typeof header === 'string' ? essence(header) : '';
    // No body and no type: nothing to refuse (a missing required body is the schema's 400).
    if (type === '' && !hasBody) return;
    if (type !== '' && accepted.some((a) => matches(a, type))) return;
    // A declared type with an empty body still says what the client meant to send: refused the same.
    throw new FacetError('FACET_ERR_UNSUPPORTED_MEDIA_TYPE', {
      detail,
      errors: [{ field: 'header.content-type', message: type === '' ? 'is missing for a request with a body' : `${type} is not supported by this operation` }],
    });
  };
}
