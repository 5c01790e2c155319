// JSON errors for the simulators: {"error": "...", "field"?: "..."}.
import type { FastifyError, FastifyInstance } from 'fastify';

export class SimHttpError extends Error {
  readonly statusCode: number;
  readonly field: string | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(statusCode: number, message: string, field?: string, extra?: Record<string, unknown>) {
    super(message);
    this.statusCode = statusCode;
    this.field = field;
    this.extra = extra;
  }
}

export const badRequest = (message: string, field?: string): SimHttpError => new SimHttpError(400, message, field);
export const notFound = (message = 'not found'): SimHttpError => new SimHttpError(404, message);

export interface ErrorBody {
  error: string;
  field?: string;
  [key: string]: unknown;
}

/** Field named by an ajv validation error: the property path, or the missing property. */
function validationField(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (!first) return undefined;
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const params = first.params as { missingProperty?: unknown; additionalProperty?: unknown };
  const named = params.missingProperty ?? params.additionalProperty;
  if (typeof named === 'string') return path ? `${path}.${named}` : named;
  return path || undefined;
}

/** Every error, 404 included, answers JSON in the simulators' shape. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: 'not found' } satisfies ErrorBody);
  });
  app.setErrorHandler((error: FastifyError | SimHttpError, request, reply) => {
    if (error instanceof SimHttpError) {
      const body: ErrorBody = { error: error.message, ...error.extra };
      if (error.field !== undefined) body.field = error.field;
      return reply.code(error.statusCode).send(body);
    }
    if (error.validation) {
      const field = validationField(error);
      const body: ErrorBody = { error: error.message };
      if (field !== undefined) body.field = field;
      return reply.code(400).send(body);
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message } satisfies ErrorBody);
    request.log.error({ err: error }, 'simulator error');
    return reply.code(500).send({ error: 'internal error' } satisfies ErrorBody);
  });
}
