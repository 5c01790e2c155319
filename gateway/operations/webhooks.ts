// /v1/webhooks: a seller's webhook subscriptions, their deliveries and
// replays. The URL is checked against SSRF rules at registration (and again
// by the sender at every delivery). The secret is shown once, at creation
// and at rotation; a rotation keeps the previous secret signing for an
// overlap. Another seller's subscription or delivery answers 404, exactly
// like a missing one.

import { ROUTING, type WebhookDeliverCommand } from '../../contracts/messages.ts';
import { WEBHOOK_EVENT_TYPES } from '../../contracts/messages.ts';
import { newSecret } from '../../platform/webhooks/signature.ts';
import type { Delivery, Subscription } from '../../platform/webhooks/store.ts';
import { checkWebhookUrl } from '../../platform/webhooks/url-guard.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import type { GatewayServices } from '../services.ts';
import { consumerOf } from './orders.ts';
import { newId } from './quotes.ts';
import { publishCommand } from './commands.ts';
import type { LocalHandlerFactory } from './types.ts';

export const MAX_SUBSCRIPTIONS_PER_SELLER = 10;
/** Replays per subscription per window: a replay is a delivery attempt like any other, on the shared delivery queue. */
export const REPLAYS_PER_WINDOW = 20;
export const REPLAY_WINDOW_SEC = 600;
const DEFAULT_OVERLAP_SEC = 86_400;

export interface PublicSubscription {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  created_at: string;
  /** When the previous secret stops signing, during a rotation's overlap. */
  previous_secret_expires_at: string | null;
}

function toPublic(s: Subscription): PublicSubscription {
  const now = Date.now();
  const previous = s.secrets.find((x) => x.expires_at !== null && Date.parse(x.expires_at) > now);
  return { id: s.id, url: s.url, event_types: s.event_types, description: s.description, created_at: s.created_at, previous_secret_expires_at: previous?.expires_at ?? null };
}

function toPublicDelivery(d: Delivery) {
  return { id: d.id, event_type: d.event_type, status: d.status, payload: JSON.parse(d.payload) as unknown, attempts: d.attempts, created_at: d.created_at, updated_at: d.updated_at };
}

async function ownSubscription(services: GatewayServices, sellerId: string, id: string): Promise<Subscription> {
  const subscription = await services.webhooks.getSubscription(id).catch(unavailable);
  if (!subscription || subscription.seller_id !== sellerId) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No webhook ${id}` });
  return subscription;
}

function unavailable(error: unknown): never {
  throw new FacetError('FACET_ERR_STATE_UNAVAILABLE', { headers: { 'retry-after': '2' }, cause: error });
}

const replaysKey = (subscriptionId: string) => `facet:wh:replays:${subscriptionId}`;

/**
 * Counts a replay against its subscription's sliding window (a time-bounded
 * set in the shared state, so every replica counts together); over the cap
 * → 429 with Retry-After: when the oldest replay of the window leaves it.
 */
async function holdReplaySlot(services: GatewayServices, subscriptionId: string, replayId: string): Promise<void> {
  const key = replaysKey(subscriptionId);
  const live = await services.state.addUntil(key, replayId, Date.now() + REPLAY_WINDOW_SEC * 1000);
  if (live <= REPLAYS_PER_WINDOW) return;
  await services.state.removeMember(key, replayId);
  const freeAt = (await services.state.nextExpiry(key)) ?? Date.now() + REPLAY_WINDOW_SEC * 1000;
  throw new FacetError('FACET_ERR_REPLAY_LIMIT', {
    detail: `At most ${REPLAYS_PER_WINDOW} replays per webhook every ${REPLAY_WINDOW_SEC / 60} minutes`,
    headers: { 'retry-after': String(Math.max(1, Math.ceil((freeAt - Date.now()) / 1000))) },
  });
}

export const createWebhook: LocalHandlerFactory = ({ services }) =>
  async function createWebhookHandler(request, reply) {
    const sellerId = consumerOf(request).id;
    const body = request.body as { url: string; event_types?: string[]; description?: string };
    const check = await checkWebhookUrl(body.url, services.webhookPolicy);
    if (!check.ok) throw new FacetError('FACET_ERR_WEBHOOK_URL_REFUSED', { detail: `body.url ${check.reason}`, errors: [{ field: 'body.url', message: check.reason }] });
    const secret = newSecret();
    const subscription: Subscription = {
      id: newId('wh_'),
      seller_id: sellerId,
      url: check.url.href,
      event_types: [...new Set(body.event_types ?? WEBHOOK_EVENT_TYPES)],
      description: body.description ?? null,
      created_at: new Date().toISOString(),
      secrets: [{ secret, expires_at: null }],
    };
    const added = await services.webhooks.addSubscription(subscription, MAX_SUBSCRIPTIONS_PER_SELLER).catch(unavailable);
    if (!added) throw new FacetError('FACET_ERR_WEBHOOK_LIMIT', { detail: `At most ${MAX_SUBSCRIPTIONS_PER_SELLER} webhooks per seller` });
    reply.code(201).header('location', `/v1/webhooks/${subscription.id}`);
    return { ...toPublic(subscription), secret };
  };

export const listWebhooks: LocalHandlerFactory = ({ services }) =>
  async function listWebhooksHandler(request) {
    const items = await services.webhooks.listSubscriptions(consumerOf(request).id).catch(unavailable);
    return { items: items.map(toPublic) };
  };

export const deleteWebhook: LocalHandlerFactory = ({ services }) =>
  async function deleteWebhookHandler(request, reply) {
    const { id } = request.params as { id: string };
    const subscription = await ownSubscription(services, consumerOf(request).id, id);
    await services.webhooks.deleteSubscription(subscription).catch(unavailable);
    return reply.code(204).send();
  };

export const rotateWebhookSecret: LocalHandlerFactory = ({ services }) =>
  async function rotateWebhookSecretHandler(request) {
    const { id } = request.params as { id: string };
    const overlapSec = (request.body as { overlap_seconds?: number } | undefined)?.overlap_seconds ?? DEFAULT_OVERLAP_SEC;
    const subscription = await ownSubscription(services, consumerOf(request).id, id);
    const now = Date.now();
    const expiresAt = new Date(now + overlapSec * 1000).toISOString();
    const secret = newSecret();
    // The current secret signs on until the overlap ends; older ones are dropped.
    const current = subscription.secrets.find((s) => s.expires_at === null);
    const secrets = [{ secret, expires_at: null }, ...(current && overlapSec > 0 ? [{ secret: current.secret, expires_at: expiresAt }] : [])];
    const rotated = { ...subscription, secrets };
    await services.webhooks.putSubscription(rotated).catch(unavailable);
    return { ...toPublic(rotated), secret };
  };

export const listWebhookDeliveries: LocalHandlerFactory = ({ services }) =>
  async function listWebhookDeliveriesHandler(request) {
    const { id } = request.params as { id: string };
    const { limit } = request.query as { limit?: number };
    await ownSubscription(services, consumerOf(request).id, id);
    const items = await services.webhooks.listDeliveries(id, limit ?? 20).catch(unavailable);
    return { items: items.map(toPublicDelivery) };
  };

export const replayWebhookDelivery: LocalHandlerFactory = ({ services }) =>
  async function replayWebhookDeliveryHandler(request, reply) {
    const { id, delivery_id: deliveryId } = request.params as { id: string; delivery_id: string };
    await ownSubscription(services, consumerOf(request).id, id);
    const delivery = await services.webhooks.getDelivery(deliveryId).catch(unavailable);
    if (!delivery || delivery.subscription_id !== id) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No delivery ${deliveryId}` });
    const replayId = `${deliveryId}:replay:${newId('', 8)}`;
    await holdReplaySlot(services, id, replayId);
    const command: WebhookDeliverCommand = { delivery_id: deliveryId, replay: true };
    try {
      await publishCommand(services.bus, ROUTING.webhookDeliver, { id: replayId, body: command }, 'The replay could not be handed to the broker; retry.');
    } catch (error) {
      if (!(error instanceof FacetError && error.code === 'FACET_ERR_OUTCOME_UNKNOWN')) await services.state.removeMember(replaysKey(id), replayId).catch(() => {});
      throw error;
    }
    reply.code(202);
    return { id: deliveryId, status: 'replay_requested' as const };
  };
