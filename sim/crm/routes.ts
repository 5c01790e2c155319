// CRM HTTP API: sellers, orders (list, read, create, status), stats.
import type { FastifyInstance } from 'fastify';
import type { OrderStatus, Price } from '../../contracts/orders.ts';
import { badRequest, notFound } from '../shared/errors.ts';
import { parseCursor, parseDateTime, parseLimit, parseStatuses, parseString } from '../shared/query.ts';
import type { Query } from '../shared/query.ts';
import {
  customerSchema,
  idSchema,
  orderModelSchema,
  parametersSchema,
  priceSchema,
  shippingSchema,
  statusSchema,
} from '../shared/schemas.ts';
import type { CrmStore, NewOrder } from './store.ts';

export const CRM_MAX_LIMIT = 500;
export const CRM_DEFAULT_LIMIT = 50;

const createOrderSchema = {
  body: {
    type: 'object',
    required: ['id', 'seller_id', 'customer', 'model', 'parameters', 'shipping'],
    additionalProperties: false,
    properties: {
      id: idSchema,
      seller_id: idSchema,
      customer: customerSchema,
      model: orderModelSchema,
      parameters: parametersSchema,
      price: { anyOf: [{ type: 'null' }, priceSchema] },
      shipping: shippingSchema,
      status: statusSchema,
      operator_id: { anyOf: [{ type: 'null' }, idSchema] },
    },
  },
} as const;

const statusChangeSchema = {
  body: {
    type: 'object',
    required: ['status'],
    additionalProperties: false,
    properties: {
      status: statusSchema,
      reason: { type: 'string', maxLength: 1000 },
      price: { anyOf: [{ type: 'null' }, priceSchema] },
    },
  },
} as const;

export function registerCrmRoutes(app: FastifyInstance, store: CrmStore): void {
  app.get('/crm/sellers', async () => ({ items: store.sellers }));

  app.get<{ Params: { id: string } }>('/crm/sellers/:id', async (request) => {
    const seller = store.getSeller(request.params.id);
    if (!seller) throw notFound();
    return seller;
  });

  app.get('/crm/orders', async (request) => {
    const query = request.query as Query;
    return store.listOrders({
      sellerId: parseString(query, 'seller_id'),
      statuses: parseStatuses(query),
      createdFrom: parseDateTime(query, 'created_from'),
      createdTo: parseDateTime(query, 'created_to'),
      after: parseCursor(query),
      limit: parseLimit(query, CRM_MAX_LIMIT, CRM_DEFAULT_LIMIT),
    });
  });

  app.get<{ Params: { id: string } }>('/crm/orders/:id', async (request) => {
    const order = store.getOrder(request.params.id);
    if (!order) throw notFound();
    return order;
  });

  app.post<{ Body: NewOrder }>('/crm/orders', { schema: createOrderSchema }, async (request, reply) => {
    if (!store.getSeller(request.body.seller_id)) throw badRequest('unknown seller', 'seller_id');
    const { order, created } = store.createOrder(request.body);
    return reply.code(created ? 201 : 200).send(order);
  });

  app.post<{ Params: { id: string }; Body: { status: OrderStatus; reason?: string; price?: Price | null } }>(
    '/crm/orders/:id/status',
    { schema: statusChangeSchema },
    async (request) => {
      const { status, reason, price } = request.body;
      const order = store.setStatus(request.params.id, status, reason, price);
      if (!order) throw notFound();
      return order;
    },
  );

  app.get('/crm/stats', async (request) => store.stats(parseString(request.query as Query, 'seller_id')));
}
