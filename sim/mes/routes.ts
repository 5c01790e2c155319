// MES HTTP API: operators' dashboard, catalogue, taking an order.
import type { FastifyInstance } from 'fastify';
import { SimHttpError, notFound } from '../shared/errors.ts';
import { parseCursor, parseLimit, parseStatuses, parseString } from '../shared/query.ts';
import type { Query } from '../shared/query.ts';
import { idSchema } from '../shared/schemas.ts';
import { CATALOGUE } from './catalogue.ts';
import type { MesStore } from './store.ts';

export const DASHBOARD_MAX_LIMIT = 200;
export const DASHBOARD_DEFAULT_LIMIT = 50;

const takeSchema = {
  body: { type: 'object', required: ['operator_id'], additionalProperties: false, properties: { operator_id: idSchema } },
} as const;

export function registerMesRoutes(app: FastifyInstance, store: MesStore): void {
  // Slow like the real one: see dashboardLatency in start.ts.
  app.get('/mes/dashboard/orders', async (request) => {
    const query = request.query as Query;
    return store.orders.page({
      statuses: parseStatuses(query),
      sellerId: parseString(query, 'seller_id'),
      after: parseCursor(query),
      limit: parseLimit(query, DASHBOARD_MAX_LIMIT, DASHBOARD_DEFAULT_LIMIT),
    });
  });

  app.get('/mes/materials', async () => CATALOGUE);

  app.post<{ Params: { order_id: string }; Body: { operator_id: string } }>(
    '/mes/orders/:order_id/take',
    { schema: takeSchema },
    async (request) => {
      const result = store.orders.take(request.params.order_id, request.body.operator_id);
      if (result.ok) return result.order;
      if (!result.order) throw notFound();
      throw new SimHttpError(409, 'order already taken', undefined, { operator_id: result.order.operator_id });
    },
  );
}
