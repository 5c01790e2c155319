// The MES's own ("legacy") events as it publishes them on the `events`
// exchange under `mes.legacy.<EventType>`. The adapter's view of that
// format, checked field by field: the MES is another system, not our code.

import type { OrderParameters, Price } from '../../contracts/orders.ts';
import { checker, InvalidMessageError } from '../shared/guards.ts';

export const MES_MANUFACTURING_STATUSES = ['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED', 'CANCELLED'] as const;
export type MesManufacturingStatus = (typeof MES_MANUFACTURING_STATUSES)[number];

interface PriceJobBase {
  job_id: string;
  model_id: string;
  order_id: string | null;
  parameters: OrderParameters;
  at: string;
}

export interface LegacyPriceJobCompleted extends PriceJobBase {
  type: 'PriceJobCompleted';
  price: Price;
}

export interface LegacyPriceJobFailed extends PriceJobBase {
  type: 'PriceJobFailed';
  error: string;
}

export interface LegacyManufacturingStatusChanged {
  type: 'ManufacturingStatusChanged';
  order_id: string;
  model_id: string;
  status: MesManufacturingStatus;
  previous_status: MesManufacturingStatus | null;
  at: string;
}

export type LegacyMesEvent = LegacyPriceJobCompleted | LegacyPriceJobFailed | LegacyManufacturingStatusChanged;

const LEGACY_PREFIX = 'mes.legacy.';

/** Reads a legacy event; throws InvalidMessageError for an unknown type or a malformed body. */
export function parseLegacyEvent(routingKey: string, raw: unknown): LegacyMesEvent {
  const c = checker(`MES event ${routingKey}`);
  const body = c.object(raw);
  const type = c.string(body, 'type');
  if (routingKey.startsWith(LEGACY_PREFIX) && routingKey.slice(LEGACY_PREFIX.length) !== type) {
    throw new InvalidMessageError(`MES event ${routingKey}`, `type "${type}" does not match the routing key`);
  }
  const at = c.string(body, 'at');
  if (type === 'ManufacturingStatusChanged') {
    const previous = body.previous_status === null ? null : c.oneOf(body, 'previous_status', MES_MANUFACTURING_STATUSES);
    return {
      type,
      order_id: c.string(body, 'order_id'),
      model_id: c.string(body, 'model_id'),
      status: c.oneOf(body, 'status', MES_MANUFACTURING_STATUSES),
      previous_status: previous,
      at,
    };
  }
  if (type !== 'PriceJobCompleted' && type !== 'PriceJobFailed') throw new InvalidMessageError(`MES event ${routingKey}`, `unknown event type "${type}"`);
  const base: PriceJobBase = {
    job_id: c.string(body, 'job_id'),
    model_id: c.string(body, 'model_id'),
    order_id: c.stringOrNull(body, 'order_id'),
    parameters: c.object(body.parameters, 'parameters') as unknown as OrderParameters,
    at,
  };
  if (type === 'PriceJobFailed') return { type, ...base, error: c.string(body, 'error') };
  const price = c.object(body.price, 'price');
  if (typeof price.amount_minor !== 'number' || typeof price.currency !== 'string') {
    throw new InvalidMessageError(`MES event ${routingKey}`, 'price must have amount_minor and currency');
  }
  return { type, ...base, price: price as unknown as Price };
}
