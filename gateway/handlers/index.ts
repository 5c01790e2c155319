import { listDashboardOrders } from './dashboard.ts';
import { getOrder, listOrders } from './orders.ts';
import type { HandlerFactory } from './types.ts';

/** Operation handlers a `proxy` step can name, by OpenAPI operationId. */
export const HANDLERS: Readonly<Record<string, HandlerFactory>> = {
  listOrders,
  getOrder,
  listDashboardOrders,
};
