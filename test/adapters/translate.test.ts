// The MES adapter: legacy MES events → canonical messages (pure), and its
// consumer parking what it cannot read.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus, type BusMessage } from '../../platform/bus/index.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { MES_EVENTS_QUEUE, startMesTranslator } from '../../adapters/mes/consumer.ts';
import { parseLegacyEvent } from '../../adapters/mes/legacy.ts';
import { MES_MANUFACTURING_CHANGED } from '../../adapters/mes/messages.ts';
import { translateLegacyEvent } from '../../adapters/mes/translate.ts';
import { waitFor } from './helpers.ts';

const at = '2026-11-26T10:00:00.000Z';
const parameters = { material: 'silver_925', size_mm: 18, finish: 'polished' } as const;
const completed = { type: 'PriceJobCompleted', job_id: 'pj_1', model_id: 'mdl_1', order_id: 'ord_1', parameters, price: { amount_minor: 1234, currency: 'EUR' }, at };
const failed = { type: 'PriceJobFailed', job_id: 'pj_2', model_id: 'mdl_1', order_id: null, parameters, error: 'pricing engine could not process the model', at };
const changed = { type: 'ManufacturingStatusChanged', order_id: 'ord_1', model_id: 'mdl_1', status: 'PACKAGING', previous_status: 'MANUFACTURING_COMPLETED', at };

describe('MES legacy → canonical', () => {
  it('PriceJobCompleted → quote.ready', () => {
    const t = translateLegacyEvent(parseLegacyEvent('mes.legacy.PriceJobCompleted', completed));
    assert.equal(t.routingKey, ROUTING.quoteReady);
    assert.deepEqual(t.message, {
      id: 'quote.ready:pj_1',
      type: 'quote.ready',
      body: { price_job_id: 'pj_1', model_id: 'mdl_1', order_id: 'ord_1', parameters, price: { amount_minor: 1234, currency: 'EUR' }, error: null, at },
    });
  });

  it('PriceJobFailed → quote.failed (also for quotes without an order)', () => {
    const t = translateLegacyEvent(parseLegacyEvent('mes.legacy.PriceJobFailed', failed));
    assert.equal(t.routingKey, ROUTING.quoteFailed);
    assert.equal(t.message.id, 'quote.failed:pj_2');
    assert.deepEqual(t.message.body, { price_job_id: 'pj_2', model_id: 'mdl_1', order_id: null, parameters, price: null, error: failed.error, at });
  });

  it('ManufacturingStatusChanged → mes.manufacturing_changed, id per order and status', () => {
    const t = translateLegacyEvent(parseLegacyEvent('mes.legacy.ManufacturingStatusChanged', changed));
    assert.equal(t.routingKey, MES_MANUFACTURING_CHANGED);
    assert.equal(t.message.id, 'mes.manufacturing_changed:ord_1:PACKAGING');
    assert.deepEqual(t.message.body, { order_id: 'ord_1', model_id: 'mdl_1', status: 'PACKAGING', previous_status: 'MANUFACTURING_COMPLETED', at });
  });

  it('refuses what it cannot read', () => {
    assert.throws(() => parseLegacyEvent('mes.legacy.PriceJobCompleted', changed), /does not match the routing key/);
    assert.throws(() => parseLegacyEvent('mes.legacy.Foo', { type: 'Foo', at }), /unknown event type "Foo"/);
    assert.throws(() => parseLegacyEvent('mes.legacy.PriceJobCompleted', { ...completed, price: null }), /price must be an object/);
    assert.throws(() => parseLegacyEvent('mes.legacy.ManufacturingStatusChanged', { ...changed, status: 'MELTED' }), /status must be one of/);
    assert.throws(() => parseLegacyEvent('mes.legacy.PriceJobFailed', 'text'), /body must be an object/);
  });

  it('the consumer publishes the translation and parks poison with its reason', async () => {
    const bus = new MemoryBus();
    const out: BusMessage[] = [];
    await bus.consume({ queue: 'sink', bindings: [{ exchange: 'events', pattern: 'quote.*' }, { exchange: 'events', pattern: MES_MANUFACTURING_CHANGED }] }, async ({ message }) => (out.push(message), 'ack'));
    await startMesTranslator(bus, { info() {}, warn() {}, error() {}, debug() {} });
    await bus.publish('events', 'mes.legacy.PriceJobCompleted', { id: 'mes:PriceJobCompleted:pj_1', type: 'mes.legacy.PriceJobCompleted', body: completed, headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    await bus.publish('events', 'mes.legacy.ManufacturingStatusChanged', { id: 'bad', type: 'mes.legacy.ManufacturingStatusChanged', body: { ...changed, order_id: 7 } });
    await waitFor(() => out.length === 1 && bus.deadLetters().length === 1, 2_000);
    assert.equal(out[0]?.id, 'quote.ready:pj_1');
    assert.equal(out[0]?.headers?.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    const dead = bus.deadLetters()[0];
    assert.equal(dead?.queue, MES_EVENTS_QUEUE);
    assert.match(dead?.reason ?? '', /^invalid MES event mes\.legacy\.ManufacturingStatusChanged: order_id/);
    await bus.close();
  });
});
