// The gateway's operation handlers, by OpenAPI operationId. The terminal
// policies pick a route's handler by its operation: `proxy` from the remote
// ones (they call an upstream), `respond` from the local ones, which include
// operations a policy brings with it (quota's getUsage).

import type { RouteHandlerMethod } from 'fastify';
import type { AnyPolicy, OperationHandlers, PolicyHost } from '../../platform/pipeline/policy.ts';
import type { UpstreamClient } from '../../platform/upstream/client.ts';
import type { GatewayServices } from '../services.ts';
import { listDashboardOrders } from './dashboard.ts';
import { createSellerKey, listKeys, listSellerKeys, revokeSellerKey, rotateKey } from './keys.ts';
import { uploadModel } from './models.ts';
import { cancelOrder, createOrder } from './orders-write.ts';
import { getOrder, listOrders } from './orders.ts';
import { createQuote, getQuote } from './quotes.ts';
import { streamOrders } from './stream.ts';
import { takeOrder } from './take.ts';
import type { HandlerFactory, LocalHandlerFactory } from './types.ts';
import { createWebhook, deleteWebhook, listWebhookDeliveries, listWebhooks, replayWebhookDelivery, rotateWebhookSecret } from './webhooks.ts';

/** Operations answered by an upstream, for the `proxy` policy. */
export const REMOTE_OPERATIONS: Readonly<Record<string, HandlerFactory>> = {
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

/** Operations the gateway answers itself, for the `respond` policy. */
export const LOCAL_OPERATIONS: Readonly<Record<string, LocalHandlerFactory>> = {
  streamOrders,
  createWebhook,
  listWebhooks,
  deleteWebhook,
  rotateWebhookSecret,
  listWebhookDeliveries,
  replayWebhookDelivery,
  createSellerKey,
  listSellerKeys,
  revokeSellerKey,
  rotateKey,
  listKeys,
};

/**
 * What the broker being down takes away, for /readyz: the writes that hand a
 * command to the bus answer 503 (createOrder, cancelOrder, takeOrder,
 * replayWebhookDelivery); quotes are settled and the live stream fed by
 * events that no longer arrive (a quote's poll still reads the MES).
 */
export const BROKER_OPERATIONS = ['cancelOrder', 'createOrder', 'createQuote', 'replayWebhookDelivery', 'streamOrders', 'takeOrder'] as const;

/** What the shared state store (Redis) being down takes away, for /readyz: the operations whose handlers read or write records there. */
export const STATE_OPERATIONS = ['cancelOrder', 'createOrder', 'createQuote', 'createWebhook', 'deleteWebhook', 'getOrder', 'getQuote', 'listWebhookDeliveries', 'listWebhooks', 'replayWebhookDelivery', 'rotateWebhookSecret', 'streamOrders', 'takeOrder', 'uploadModel'] as const;

/** Which operation ids have a handler, for config validation (before anything is built). */
export function operationNames(policies: Iterable<AnyPolicy>): Pick<OperationHandlers, 'remote' | 'local'> {
  const local = new Set(Object.keys(LOCAL_OPERATIONS));
  for (const policy of policies) for (const id of Object.keys(policy.operations ?? {})) local.add(id);
  return { remote: new Set(Object.keys(REMOTE_OPERATIONS)), local };
}

/** A policy whose service is built: what its operations are made from. */
export interface BuiltPolicy {
  definition: AnyPolicy;
  settings: unknown;
  service: unknown;
}

export function operationHandlers(services: GatewayServices, host: PolicyHost, policies: readonly BuiltPolicy[]): OperationHandlers {
  const policyOperations = new Map<string, () => RouteHandlerMethod>();
  for (const { definition, settings, service } of policies) {
    for (const [id, factory] of Object.entries(definition.operations ?? {})) policyOperations.set(id, () => factory({ service, host, settings }));
  }
  const names = operationNames(policies.map((p) => p.definition));
  return {
    ...names,
    remoteHandler(operationId: string, upstream: UpstreamClient) {
      return REMOTE_OPERATIONS[operationId]?.({ upstream, services });
    },
    localHandler(operationId: string) {
      const own = LOCAL_OPERATIONS[operationId];
      if (own) return own({ services });
      return policyOperations.get(operationId)?.();
    },
  };
}
