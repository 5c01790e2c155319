import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEMS, problemType, type ProblemCode } from './catalogue.ts';
import { FacetError, isFacetError, type FieldError } from './facet-error.ts';
import { activeTraceId } from '../telemetry/api.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: ProblemCode;
  request_id: string;
  /** The W3C trace this answer belongs to (tracing on, or the caller sent a traceparent). */
  trace_id?: string;
  errors?: FieldError[];
}

/** The specs' `Problem.errors` maxItems: a document never lists more invalid inputs than that. */
export const MAX_FIELD_ERRORS = 20;

export function problemBody(error: FacetError, requestId: string, instance?: string, traceId?: string): ProblemBody {
  const kind = PROBLEMS[error.code];
  const body: ProblemBody = { type: problemType(error.code), title: kind.title, status: kind.status, code: error.code, request_id: requestId };
  if (traceId !== undefined) body.trace_id = traceId;
  if (error.detail !== undefined) body.detail = error.detail;
  if (instance !== undefined) body.instance = instance;
  if (error.errors !== undefined && error.errors.length > 0) body.errors = error.errors.slice(0, MAX_FIELD_ERRORS);
  return body;
}

/**
 * The request path as a valid URI reference for `instance`: a stray `%`
 * (as in `/v1/orders/%ZZ`) and characters RFC 3986 does not allow are
 * percent-encoded, so the problem document still validates.
 */
export function instanceOf(url: string): string {
  const path = url.split('?', 1)[0] ?? '';
  return path.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~:/@!$&'()*+,;=%]/gu, (c) => encodeURIComponent(c === '%' ? '%' : c.isWellFormed() ? c : '\ufffd'));
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: FacetError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  const path = instanceOf(request.url);
  return reply
    .code(error.statusCode)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send(JSON.stringify(problemBody(error, request.id, path, activeTraceId(request.headers))));
}

const VALIDATION_CONTEXT: Record<string, string> = { querystring: 'query', params: 'path', body: 'body', headers: 'header' };

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/items/0/name` in the body → `body.items[0].name`. */
function fieldName(context: string, issue: AjvIssue): string {
  const segments = (issue.instancePath ?? '').split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = issue.params?.missingProperty ?? issue.params?.additionalProperty;
  if (typeof missing === 'string') segments.push(missing);
  let out = VALIDATION_CONTEXT[context] ?? context;
  for (const s of segments) out += /^\d+$/.test(s) ? `[${s}]` : `.${s}`;
  return out;
}

function issueMessage(issue: AjvIssue): string {
  if (issue.keyword === 'additionalProperties') return 'is not allowed';
  if (issue.keyword === 'required') return 'is required';
  return issue.message ?? 'is invalid';
}

/** Turns whatever was thrown into a FacetError; never exposes internals. */
export function toFacetError(error: unknown): FacetError {
  if (isFacetError(error)) return error;
  const e = error as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(e.validation)) {
    const context = e.validationContext ?? 'request';
    const errors = e.validation.map((issue) => ({ field: fieldName(context, issue), message: issueMessage(issue) }));
    const first = errors[0];
    return new FacetError('FACET_ERR_VALIDATION', { errors, detail: first ? `${first.field} ${first.message}` : undefined });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new FacetError('FACET_ERR_BAD_JSON', { detail: 'The body is not valid JSON', errors: [{ field: 'body', message: 'is not valid JSON' }] });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new FacetError('FACET_ERR_BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new FacetError(e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'FACET_ERR_UNSUPPORTED_MEDIA_TYPE' : 'FACET_ERR_BAD_REQUEST', {
        errors: [{ field: 'header.content-type', message: 'is not supported by this operation' }],
      });
  }
  if (error instanceof SyntaxError && e.statusCode === 400) {
    return new FacetError('FACET_ERR_BAD_JSON', { detail: 'The body is not valid JSON', errors: [{ field: 'body', message: 'is not valid JSON' }] });
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 404) return new FacetError('FACET_ERR_NOT_FOUND');
  if (status === 413) return new FacetError('FACET_ERR_BODY_TOO_LARGE');
  if (status === 415) return new FacetError('FACET_ERR_UNSUPPORTED_MEDIA_TYPE');
  if (status >= 400 && status < 500) return new FacetError('FACET_ERR_BAD_REQUEST');
  return new FacetError('FACET_ERR_INTERNAL', { cause: error });
}

/** Installs problem+json answers for errors, unknown routes and broken HTTP. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const problem = toFacetError(error);
    if (problem.statusCode >= 500 && problem.code === 'FACET_ERR_INTERNAL') {
      request.log.error({ err: error }, 'unhandled error');
    } else if (problem.statusCode >= 500 && problem.code !== 'FACET_ERR_OVERLOADED') {
      // Shed requests are counted by metrics; a log line each would add load under overload.
      request.log.warn({ code: problem.code, err: problem.cause ?? problem }, 'upstream problem');
    }
    return sendProblem(request, reply, problem);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, new FacetError('FACET_ERR_ROUTE_NOT_FOUND', { detail: `No route for ${request.method} ${request.url.split('?', 1)[0]}` })));
}

/**
 * Node's HTTP parser rejects some requests before Fastify sees them
 * (oversized headers, garbage). They still get a problem+json answer.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const problem =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new FacetError('FACET_ERR_HEADERS_TOO_LARGE')
      : new FacetError('FACET_ERR_BAD_REQUEST', { detail: 'The request could not be parsed as HTTP' });
  const requestId = randomUUID();
  const body = JSON.stringify(problemBody(problem, requestId));
  // The same headers as any other answer: the request id the body quotes, no caching, no sniffing.
  socket.end(
    `HTTP/1.1 ${problem.statusCode} ${problem.code === 'FACET_ERR_HEADERS_TOO_LARGE' ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
      `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
}
