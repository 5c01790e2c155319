import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareNewestFirst, generateDataset } from '../../sim/data/seed.ts';
import type { Order, Seller } from '../../contracts/orders.ts';
import { startCrmSim } from '../../sim/index.ts';
import type { CrmSimHandle } from '../../sim/index.ts';
import { http } from './helpers.ts';

const SEED = 7;
const ORDERS = 3000;
const SELLERS = 6;
type Page = { items: Order[]; next_cursor: string | null };

describe('CRM simulator', () => {
  let crm: CrmSimHandle;
  const expected = generateDataset(SEED, SELLERS, ORDERS).orders;

  before(async () => {
    crm = await startCrmSim({ seed: SEED, orderCount: ORDERS, sellerCount: SELLERS, latency: { baseMs: 0, jitterMs: 0 } });
  });
  after(() => crm.close());

  async function walk(query: string, limit: number): Promise<{ items: Order[]; pages: number }> {
    const items: Order[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = `${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await http<Page>(`${crm.url}/crm/orders?${qs}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.items.length <= limit);
      items.push(...res.body.items);
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor !== null);
    return { items, pages };
  }

  it('answers /healthz and lists sellers', async () => {
    assert.deepEqual((await http(`${crm.url}/healthz`)).body, { status: 'ok' });
    const sellers = await http<{ items: Seller[] }>(`${crm.url}/crm/sellers`);
    assert.equal(sellers.body.items.length, SELLERS);
    const one = await http<Seller>(`${crm.url}/crm/sellers/slr_0002`);
    assert.equal(one.body.id, 'slr_0002');
    assert.equal((await http(`${crm.url}/crm/sellers/slr_9999`)).status, 404);
  });

  it('pages through filtered orders newest first, without duplicates or gaps', async () => {
    const want = expected.filter((o) => o.status === 'CLOSED' || o.status === 'SHIPPED');
    const { items, pages } = await walk('status=CLOSED&status=SHIPPED', 250);
    assert.ok(pages >= 3, `walked ${pages} pages`);
    assert.deepEqual(items.map((o) => o.id), want.map((o) => o.id));
    assert.equal(new Set(items.map((o) => o.id)).size, items.length);
    for (let i = 1; i < items.length; i++) assert.ok(compareNewestFirst(items[i - 1]!, items[i]!) < 0);
    // Comma-separated statuses mean the same.
    const comma = await http<Page>(`${crm.url}/crm/orders?status=SHIPPED,CLOSED&limit=5`);
    assert.deepEqual(comma.body.items.map((o) => o.id), want.slice(0, 5).map((o) => o.id));
  });

  it('keeps sellers apart', async () => {
    for (const sellerId of ['slr_0001', 'slr_0006']) {
      const { items } = await walk(`seller_id=${sellerId}`, 500);
      assert.ok(items.every((o) => o.seller_id === sellerId));
      assert.deepEqual(items.map((o) => o.id), expected.filter((o) => o.seller_id === sellerId).map((o) => o.id));
    }
    const none = await http<Page>(`${crm.url}/crm/orders?seller_id=slr_9999`);
    assert.deepEqual(none.body, { items: [], next_cursor: null });
  });

  it('filters by created_from (inclusive) and created_to (exclusive)', async () => {
    const from = expected[900]!.created_at;
    const to = expected[100]!.created_at;
    const { items } = await walk(`created_from=${from}&created_to=${to}`, 200);
    assert.deepEqual(items.map((o) => o.id), expected.slice(101, 901).map((o) => o.id));
  });

  it('defaults to 50 items and reads one order', async () => {
    const page = await http<Page>(`${crm.url}/crm/orders`);
    assert.equal(page.body.items.length, 50);
    assert.ok(page.body.next_cursor);
    const first = expected[0]!;
    const one = await http<Order>(`${crm.url}/crm/orders/${first.id}`);
    assert.deepEqual(one.body, first);
    const missing = await http(`${crm.url}/crm/orders/ord_nope`);
    assert.deepEqual([missing.status, missing.body], [404, { error: 'not found' }]);
  });

  it('rejects bad input with 400 and the field', async () => {
    const cases: [string, string][] = [
      ['status=NOPE', 'status'],
      ['status=CLOSED,', 'status'],
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['created_from=yesterday', 'created_from'],
      ['created_to=2026-13-45T00:00:00Z', 'created_to'],
      ['created_to=2026-01-01T10:00:00', 'created_to'],
      ['cursor=not-a-cursor', 'cursor'],
      [`cursor=${Buffer.from('{"t":1}').toString('base64url')}`, 'cursor'],
    ];
    for (const [qs, field] of cases) {
      const res = await http<{ error: string; field: string }>(`${crm.url}/crm/orders?${qs}`);
      assert.equal(res.status, 400, qs);
      assert.equal(res.body.field, field, qs);
      assert.equal(typeof res.body.error, 'string');
    }
  });

  it('creates orders idempotently and changes their status', async () => {
    const template = expected[0]!;
    const input = {
      id: 'ord_test_create_1',
      seller_id: 'slr_0003',
      customer: template.customer,
      model: template.model,
      parameters: template.parameters,
      shipping: template.shipping,
    };
    const before = (await http<{ orders: number }>(`${crm.url}/crm/stats`)).body.orders;
    const first = await http<Order>(`${crm.url}/crm/orders`, { body: input });
    assert.equal(first.status, 201);
    assert.equal(first.body.status, 'SUBMITTED');
    assert.equal(first.body.price, null);
    const again = await http<Order>(`${crm.url}/crm/orders`, { body: { ...input, status: 'INITIATED' } });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    const stats = await http<{ orders: number; by_status: Record<string, number> }>(`${crm.url}/crm/stats`);
    assert.equal(stats.body.orders, before + 1);
    assert.equal(stats.body.orders, Object.values(stats.body.by_status).reduce((a, b) => a + b, 0));

    // Newest, so first for its seller.
    const top = await http<Page>(`${crm.url}/crm/orders?seller_id=slr_0003&limit=1`);
    assert.equal(top.body.items[0]?.id, input.id);

    const changed = await http<Order & { history: { status: string; reason: string | null }[] }>(
      `${crm.url}/crm/orders/${input.id}/status`,
      { body: { status: 'PRICE_CALCULATED', reason: 'quoted' } },
    );
    assert.equal(changed.status, 200);
    assert.equal(changed.body.status, 'PRICE_CALCULATED');
    assert.deepEqual(changed.body.history.map((h) => [h.status, h.reason]), [
      ['SUBMITTED', 'created'],
      ['PRICE_CALCULATED', 'quoted'],
    ]);
    assert.ok(changed.body.updated_at >= first.body.updated_at);

    const bad = await http(`${crm.url}/crm/orders/${input.id}/status`, { body: { status: 'LOST' } });
    assert.equal(bad.status, 400);
    const unknown = await http(`${crm.url}/crm/orders/ord_nope/status`, { body: { status: 'CLOSED' } });
    assert.equal(unknown.status, 404);
  });

  it('validates created orders', async () => {
    const missing = await http<{ field: string }>(`${crm.url}/crm/orders`, { body: { seller_id: 'slr_0001' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'id');
    const template = expected[1]!;
    const { id: _id, status: _s, created_at: _c, updated_at: _u, price: _p, operator_id: _o, ...rest } = template;
    const unknownSeller = await http<{ field: string }>(`${crm.url}/crm/orders`, {
      body: { ...rest, id: 'ord_x', seller_id: 'slr_9999' },
    });
    assert.deepEqual([unknownSeller.status, unknownSeller.body.field], [400, 'seller_id']);
    const extra = await http<{ field: string }>(`${crm.url}/crm/orders`, { body: { ...rest, id: 'ord_y', color: 'red' } });
    assert.deepEqual([extra.status, extra.body.field], [400, 'color']);
    const badSize = await http<{ field: string }>(`${crm.url}/crm/orders`, {
      body: { ...rest, id: 'ord_z', parameters: { ...rest.parameters, size_mm: 0 } },
    });
    assert.deepEqual([badSize.status, badSize.body.field], [400, 'parameters.size_mm']);
  });
});
