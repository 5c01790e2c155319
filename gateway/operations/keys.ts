// Sellers' API keys as a live resource (platform/keys): operators issue,
// list and revoke a seller's keys (/internal/v1/sellers/{seller_id}/keys);
// a seller rotates its own key and lists its keys (/v1/keys). A key is
// shown once, when it is made; listings show ids and times, never a key.
// Every change is written to the log as an audit line (`audit: true`,
// actor, seller, key id). A seller only ever reaches its own keys: the
// seller comes from the key that authenticated the request, never from the
// request itself.

import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { refusalOf, type KeyRecord, type ListedKey } from '../../platform/keys/seller-keys.ts';
import { kOperator } from '../../platform/pipeline/request-state.ts';
import type { GatewayServices } from '../services.ts';
import { consumerOf } from './orders.ts';
import type { LocalHandlerFactory } from './types.ts';

/** Working keys a seller may hold (config, issued, rotated in their overlap): issuing and rotating stop there. */
export const MAX_KEYS_PER_SELLER = 20;

type KeyAction = 'seller_key.created' | 'seller_key.rotated' | 'seller_key.revoked';

/** An audit line: written whatever LOG_LEVEL says (a child at info), with the request's id. */
function audit(log: FastifyBaseLogger, action: KeyAction, fields: { actor: string; seller: string; key_id: string; [more: string]: unknown }): void {
  log.child({ audit: true }, { level: 'info' }).info({ action, ...fields }, `audit: ${action}`);
}

function operatorOf(request: FastifyRequest): string {
  return `operator:${request[kOperator]?.subject ?? 'unknown'}`;
}

function knownSeller(services: GatewayServices, sellerId: string): void {
  if (!services.consumers.seller(sellerId)) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No seller ${sellerId}` });
}

/** One of the seller's working keys by id (a config key or an API-made one), with its digest; undefined when there is none. */
async function keyOf(services: GatewayServices, sellerId: string, keyId: string): Promise<{ digest: string; record: KeyRecord } | undefined> {
  const configKey = services.consumers.configKeys(sellerId).find((k) => k.id === keyId && !k.revoked);
  if (configKey) {
    const override = await services.keys.find(configKey.sha256);
    const record: KeyRecord =
      override?.source === 'config' ? override : { id: configKey.id, seller_id: sellerId, source: 'config', created_at: null, expires_at: null, revoked_at: null, created_by: null };
    return refusalOf(record) ? undefined : { digest: configKey.sha256, record };
  }
  return (await services.keys.apiKeys(sellerId)).find((k) => k.record.id === keyId);
}

/** Refuses a new key while the seller holds MAX_KEYS_PER_SELLER working ones. */
async function roomForAnother(services: GatewayServices, sellerId: string): Promise<void> {
  const keys = await services.keys.list(sellerId, services.consumers.configKeys(sellerId));
  if (keys.length >= MAX_KEYS_PER_SELLER) throw new FacetError('FACET_ERR_KEY_LIMIT', { detail: `At most ${MAX_KEYS_PER_SELLER} working API keys per seller` });
}

const operatorView = (k: ListedKey) => ({ id: k.id, source: k.source, created_at: k.created_at, last_used_at: k.last_used_at, expires_at: k.expires_at });
const sellerView = (k: ListedKey) => ({ id: k.id, created_at: k.created_at, last_used_at: k.last_used_at, expires_at: k.expires_at });

export const createSellerKey: LocalHandlerFactory = ({ services }) =>
  async function createSellerKeyHandler(request, reply) {
    const { seller_id: sellerId } = request.params as { seller_id: string };
    knownSeller(services, sellerId);
    await roomForAnother(services, sellerId);
    const actor = operatorOf(request);
    const { key, record } = await services.keys.issue(sellerId, actor);
    audit(request.log, 'seller_key.created', { actor, seller: sellerId, key_id: record.id });
    reply.code(201);
    return { id: record.id, seller_id: sellerId, key, created_at: record.created_at };
  };

export const listSellerKeys: LocalHandlerFactory = ({ services }) =>
  async function listSellerKeysHandler(request) {
    const { seller_id: sellerId } = request.params as { seller_id: string };
    knownSeller(services, sellerId);
    const keys = await services.keys.list(sellerId, services.consumers.configKeys(sellerId));
    return { items: keys.map(operatorView) };
  };

export const revokeSellerKey: LocalHandlerFactory = ({ services }) =>
  async function revokeSellerKeyHandler(request, reply) {
    const { seller_id: sellerId, key_id: keyId } = request.params as { seller_id: string; key_id: string };
    knownSeller(services, sellerId);
    const found = await keyOf(services, sellerId, keyId);
    if (!found) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `Seller ${sellerId} has no key ${keyId}` });
    await services.keys.revoke(found.digest, found.record);
    audit(request.log, 'seller_key.revoked', { actor: operatorOf(request), seller: sellerId, key_id: keyId, source: found.record.source });
    return reply.code(204).send();
  };

export const rotateKey: LocalHandlerFactory = ({ services }) =>
  async function rotateKeyHandler(request, reply) {
    const consumer = consumerOf(request);
    const current = await keyOf(services, consumer.id, consumer.keyId);
    // The key just authenticated this request: gone since only if revoked or expired in between.
    if (!current) throw new FacetError('FACET_ERR_AUTH_INVALID_KEY', { detail: 'This API key is no longer valid' });
    await roomForAnother(services, consumer.id);
    const actor = `seller:${consumer.id}`;
    const { key, record } = await services.keys.issue(consumer.id, actor);
    const overlapMs = services.config.keys.rotationOverlapSec * 1000;
    const previous = await services.keys.expire(current.digest, current.record, new Date(Date.now() + overlapMs));
    audit(request.log, 'seller_key.rotated', { actor, seller: consumer.id, key_id: record.id, previous_key_id: previous.id, previous_expires_at: previous.expires_at });
    reply.code(201);
    return { id: record.id, key, created_at: record.created_at, previous: { id: previous.id, expires_at: previous.expires_at } };
  };

export const listKeys: LocalHandlerFactory = ({ services }) =>
  async function listKeysHandler(request) {
    const consumer = consumerOf(request);
    const keys = await services.keys.list(consumer.id, services.consumers.configKeys(consumer.id));
    return { items: keys.map(sellerView) };
  };
