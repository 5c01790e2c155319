import { getUsage } from './usage.ts';
import { listDashboardOrders } from './dashboard.ts';
import { uploadModel } from './models.ts';
import { getOrder, listOrders } from './orders.ts';
import { cancelOrder, createOrder } from './orders-write.ts';
import { createQuote, getQuote } from './quotes.ts';
import { streamOrders } from './stream.ts';
import { takeOrder } from './take.ts';
import { createWebhook, deleteWebhook, listWebhookDeliveries, listWebhooks, replayWebhookDelivery, rotateWebhookSecret } from './webhooks.ts';
import type { HandlerFactory, LocalHandlerFactory } from './types.ts';

/** Operation handlers a `proxy` step can name, by OpenAPI operationId. */
export const HANDLERS: Readonly<Record<string, HandlerFactory>> = {
  listOrders,
  getOrder,
  listDashboardOrders,
  uploadModel,
  createQuote,
  getQuote,
  createOrder,
  cancelOrder,
  takeOrder,
};

/** Operations Facet answers itself, for the `respond` policy. */
export const LOCAL_HANDLERS: Readonly<Record<string, LocalHandlerFactory>> = {
  getUsage,
  streamOrders,
  createWebhook,
  listWebhooks,
  deleteWebhook,
  rotateWebhookSecret,
  listWebhookDeliveries,
  replayWebhookDelivery,
};
