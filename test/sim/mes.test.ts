import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FINISHES, MATERIALS } from '../../contracts/orders.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { startMesSim } from '../../sim/index.ts';
import type { DashboardOrder, MesSimHandle, ModelMeta } from '../../sim/index.ts';
import { asciiStl, binaryStl, http, obj } from './helpers.ts';

const FAST = { latency: { baseMs: 0, jitterMs: 0 }, dashboardLatency: { baseMs: 0, perOrderMs: 0 } };
type Dashboard = { items: DashboardOrder[]; next_cursor: string | null; total: number };

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  return performance.now() - started;
}

describe('MES dashboard', () => {
  it('gets slower as MES holds more orders', async () => {
    // Far apart (a busy machine adds its own delays to both): 10 + 20 ms against 10 + 2000 ms.
    const dashboardLatency = { baseMs: 10, perOrderMs: 0.5 };
    const small = await startMesSim({ orderCount: 200, sellerCount: 3, ...FAST, dashboardLatency });
    const large = await startMesSim({ orderCount: 4000, sellerCount: 3, ...FAST, dashboardLatency });
    try {
      const t1 = await timed(`${small.url}/mes/dashboard/orders`);
      const t2 = await timed(`${large.url}/mes/dashboard/orders`);
      assert.ok(t1 >= 100, `small took ${t1} ms`);
      assert.ok(t2 >= 2000, `large took ${t2} ms`);
      assert.ok(t2 - t1 > 1000, `${t1} ms vs ${t2} ms`);
      // Other MES endpoints are not slowed by the order count.
      assert.ok((await timed(`${large.url}/mes/materials`)) < 1000);
    } finally {
      await Promise.all([small.close(), large.close()]);
    }
  });

  describe('pages', () => {
    let mes: MesSimHandle;
    const orders = generateDataset(3, 4, 1500).orders;
    before(async () => {
      mes = await startMesSim({ seed: 3, sellerCount: 4, orderCount: 1500, ...FAST });
    });
    after(() => mes.close());

    it('walks newest first with a total', async () => {
      const seen: DashboardOrder[] = [];
      let cursor: string | null = null;
      do {
        const res: { status: number; body: Dashboard } = await http<Dashboard>(
          `${mes.url}/mes/dashboard/orders?limit=200${cursor ? `&cursor=${cursor}` : ''}`,
        );
        assert.equal(res.status, 200);
        assert.equal(res.body.total, 1500);
        seen.push(...res.body.items);
        cursor = res.body.next_cursor;
      } while (cursor);
      assert.deepEqual(seen.map((o) => o.order_id), orders.map((o) => o.id));
      const first = seen[0]!;
      const source = orders[0]!;
      assert.deepEqual(Object.keys(first).sort(), [
        'created_at', 'finish', 'material', 'model_id', 'operator_id', 'order_id', 'seller_id', 'seller_name', 'status', 'updated_at',
      ]);
      assert.equal(first.model_id, source.model.id);
      assert.equal(first.seller_name?.length ? true : false, true);
    });

    it('filters by status and validates input', async () => {
      const want = orders.filter((o) => o.status === 'PACKAGING');
      const res = await http<Dashboard>(`${mes.url}/mes/dashboard/orders?status=PACKAGING&limit=3`);
      assert.equal(res.body.total, want.length);
      assert.deepEqual(res.body.items.map((o) => o.order_id), want.slice(0, 3).map((o) => o.id));
      assert.equal((await http(`${mes.url}/mes/dashboard/orders?limit=201`)).status, 400);
      assert.equal((await http(`${mes.url}/mes/dashboard/orders?status=nope`)).status, 400);
      assert.equal((await http(`${mes.url}/mes/dashboard/orders?cursor=%%%`)).status, 400);
    });

    it('serves the materials catalogue', async () => {
      const res = await http<{ materials: { id: string; density_g_cm3: number; price_per_gram_minor: number }[]; finishes: { id: string }[]; size_mm: unknown }>(
        `${mes.url}/mes/materials`,
      );
      assert.deepEqual(res.body.materials.map((m) => m.id), [...MATERIALS]);
      assert.ok(res.body.materials.every((m) => m.density_g_cm3 > 0 && Number.isInteger(m.price_per_gram_minor)));
      assert.deepEqual(res.body.finishes.map((f) => f.id), [...FINISHES]);
      assert.deepEqual(res.body.size_mm, { min: 1, max: 200 });
    });
  });
});

describe('MES model uploads', () => {
  let mes: MesSimHandle;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'facet-mes-test-'));
    mes = await startMesSim({ orderCount: 100, sellerCount: 2, ...FAST, storageDir: dir, maxModelBytes: 64 * 1024 });
  });
  after(async () => {
    await mes.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function upload(body: Buffer | ReadableStream<Uint8Array>, filename?: string) {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (filename) headers['x-filename'] = filename;
    const res = await fetch(`${mes.url}/mes/models`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
    return { status: res.status, body: (await res.json()) as ModelMeta & { error?: string } };
  }

  const sha256 = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

  it('recognises binary STL, ASCII STL, OBJ and 3MF by content', async () => {
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(2000, 7)]);
    const cases: [Buffer, string, number, string | undefined][] = [
      [binaryStl(12), 'stl', 12, 'ring.stl'],
      [asciiStl(7), 'stl', 7, 'ring-ascii.stl'],
      [obj(9), 'obj', 9, undefined],
      [zip, '3mf', 100, 'pendant.3mf'],
    ];
    for (const [buf, format, polygons, filename] of cases) {
      const res = await upload(buf, filename);
      assert.equal(res.status, 201, format);
      assert.match(res.body.id, /^mdl_[0-9a-z]{12}$/);
      assert.equal(res.body.format, format);
      assert.equal(res.body.polygons, polygons);
      assert.equal(res.body.sha256, sha256(buf));
      assert.equal(res.body.size_bytes, buf.length);
      assert.equal(res.body.filename, filename ?? `model.${format}`);
      const stored = await http<ModelMeta>(`${mes.url}/mes/models/${res.body.id}`);
      assert.deepEqual(stored.body, res.body);
    }
  });

  it('streams a chunked upload', async () => {
    const buf = asciiStl(40);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < buf.length; at += 97) controller.enqueue(buf.subarray(at, at + 97));
        controller.close();
      },
    });
    const res = await upload(stream, 'chunked.stl');
    assert.equal(res.status, 201);
    assert.deepEqual([res.body.format, res.body.polygons, res.body.sha256], ['stl', 40, sha256(buf)]);
  });

  it('rejects unknown content with 415 and too large files with 413, keeping no file', async () => {
    const before = (await readdir(dir)).length;
    const bogus = await upload(Buffer.from('this is a text file, not a model\n'));
    assert.deepEqual([bogus.status, bogus.body.error], [415, 'unsupported model format']);
    const empty = await upload(Buffer.alloc(0));
    assert.equal(empty.status, 415);
    const big = await upload(binaryStl(2000));
    assert.equal(big.status, 413);
    // Without content-length the limit is found while streaming.
    const chunk = Buffer.alloc(16 * 1024, 1);
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await upload(endless);
    assert.equal(streamed.status, 413);
    assert.equal((await readdir(dir)).length, before);
    assert.equal((await http(`${mes.url}/mes/models/mdl_unknown`)).status, 404);
  });

  it('knows the models of the seed orders', async () => {
    const order = generateDataset(42, 2, 100).orders[5]!;
    const res = await http<ModelMeta>(`${mes.url}/mes/models/${order.model.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.polygons, order.model.polygons);
    assert.equal(res.body.sha256, order.model.sha256);
  });
});
