// MES HTTP API: model uploads, price jobs, manufacturing.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { OrderParameters } from '../../contracts/orders.ts';
import { SimHttpError, notFound } from '../shared/errors.ts';
import { parseString } from '../shared/query.ts';
import type { Query } from '../shared/query.ts';
import { idSchema, parametersSchema } from '../shared/schemas.ts';
import type { MesStore } from './store.ts';

interface WorkBody {
  model_id: string;
  parameters: OrderParameters;
  order_id?: string;
  seller_id?: string;
}

const workProperties = { model_id: idSchema, parameters: parametersSchema, order_id: idSchema, seller_id: idSchema };
const priceJobSchema = {
  body: { type: 'object', required: ['model_id', 'parameters'], additionalProperties: false, properties: workProperties },
} as const;
const manufacturingSchema = {
  body: {
    type: 'object',
    required: ['order_id', 'model_id', 'parameters'],
    additionalProperties: false,
    properties: workProperties,
  },
} as const;

export function registerWorkRoutes(app: FastifyInstance, store: MesStore, maxModelBytes: number): void {
  // Uploads arrive as a raw stream: the parser hands it over unread.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.post('/mes/models', { bodyLimit: maxModelBytes }, async (request, reply) => {
    const header = request.headers['x-filename'];
    const length = request.headers['content-length'];
    const meta = await store.models.upload(
      request.body as Readable,
      typeof header === 'string' ? decodeFilename(header) : undefined,
      length === undefined ? undefined : Number(length),
    );
    return reply.code(201).send(meta);
  });

  app.get<{ Params: { id: string } }>('/mes/models/:id', async (request) => {
    const model = store.models.get(request.params.id);
    if (!model) throw notFound();
    return model;
  });

  app.post<{ Body: WorkBody }>('/mes/price-jobs', { schema: priceJobSchema }, async (request, reply) => {
    const { model_id, parameters, order_id, seller_id } = request.body;
    const model = store.models.get(model_id);
    if (!model) throw new SimHttpError(404, 'unknown model', 'model_id');
    const { job, created } = store.prices.submit(model, parameters, order_id, seller_id);
    return reply.code(created ? 202 : 200).send(job);
  });

  // The price jobs of one order, oldest first: how a client that lost track (a crash after
  // submitting) finds out what MES holds for the order.
  app.get('/mes/price-jobs', async (request) => {
    const orderId = parseString(request.query as Query, 'order_id');
    if (orderId === undefined) throw new SimHttpError(400, 'order_id is required', 'order_id');
    return { items: store.prices.forOrder(orderId) };
  });

  app.get<{ Params: { id: string } }>('/mes/price-jobs/:id', async (request) => {
    const job = store.prices.get(request.params.id);
    if (!job) throw notFound();
    return job;
  });

  app.post<{ Body: WorkBody & { order_id: string } }>(
    '/mes/manufacturing',
    { schema: manufacturingSchema },
    async (request, reply) => {
      const { model_id, parameters, order_id, seller_id } = request.body;
      if (!store.models.get(model_id)) throw new SimHttpError(404, 'unknown model', 'model_id');
      const result = store.manufacturing.start({ orderId: order_id, modelId: model_id, parameters, sellerId: seller_id });
      if (result.kind === 'no_capacity') {
        throw new SimHttpError(409, 'no capacity', undefined, { reason: 'capacity' });
      }
      return reply.code(result.kind === 'created' ? 202 : 200).send(result.job);
    },
  );

  app.get<{ Params: { order_id: string } }>('/mes/manufacturing/:order_id', async (request) => {
    const job = store.manufacturing.get(request.params.order_id);
    if (!job) throw notFound();
    return job;
  });

  app.post<{ Params: { order_id: string } }>('/mes/manufacturing/:order_id/cancel', async (request) => {
    const result = store.manufacturing.cancel(request.params.order_id);
    if (result.kind === 'not_found') throw notFound();
    if (result.kind === 'too_late') {
      throw new SimHttpError(409, 'manufacturing already under way', undefined, {
        reason: 'started',
        status: result.job.status,
      });
    }
    return result.job;
  });
}

/** x-filename may be percent-encoded (RFC 8187 style) for non-ASCII names. */
function decodeFilename(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
