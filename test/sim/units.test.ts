import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClock } from '../../sim/shared/clock.ts';
import { decodeCursor, encodeCursor, paginate } from '../../sim/shared/cursor.ts';
import { faultsFromEnv, parseFaultPatch } from '../../sim/shared/faults.ts';
import { ModelSniffer } from '../../sim/mes/sniff.ts';
import { computePrice, pricingSeconds } from '../../sim/mes/catalogue.ts';
import { asciiStl, binaryStl, obj } from './helpers.ts';

function sniff(buf: Buffer, chunkSize: number) {
  const sniffer = new ModelSniffer();
  for (let at = 0; at < buf.length; at += chunkSize) sniffer.feed(buf.subarray(at, at + chunkSize));
  return sniffer.finish();
}

describe('model sniffing', () => {
  it('gives the same answer whatever the chunking', () => {
    for (const size of [1, 3, 64, 100_000]) {
      assert.deepEqual(sniff(asciiStl(5), size), { format: 'stl', polygons: 5 }, `ascii/${size}`);
      assert.deepEqual(sniff(obj(4), size), { format: 'obj', polygons: 4 }, `obj/${size}`);
      assert.deepEqual(sniff(binaryStl(3), size), { format: 'stl', polygons: 3 }, `binary/${size}`);
    }
  });

  it('rejects near misses', () => {
    const truncated = binaryStl(3).subarray(0, 84 + 50 * 3 - 1);
    assert.equal(sniff(truncated, 1024), null);
    assert.equal(sniff(Buffer.from('solid nothing\nendsolid\n'), 1024), null);
    assert.equal(sniff(Buffer.from('v 1 2 3\nv 1 2 3\n'), 1024), null);
    assert.equal(sniff(Buffer.alloc(0), 1024), null);
    // OBJ without a final newline still counts its last face.
    assert.deepEqual(sniff(Buffer.from('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3'), 5), { format: 'obj', polygons: 1 });
  });
});

describe('cursor and pagination', () => {
  it('round-trips and rejects garbage', () => {
    const key = { t: '2026-10-31T23:59:43.608Z', i: 'ord_1' };
    assert.deepEqual(decodeCursor(encodeCursor(key)), key);
    assert.equal(decodeCursor('!!'), null);
    assert.equal(decodeCursor(Buffer.from('{"t":"x","i":"y"}').toString('base64url')), null);
    assert.equal(decodeCursor(Buffer.from('[]').toString('base64url')), null);
  });

  it('orders ties on created_at by id', () => {
    const list = [
      { t: '2026-01-02T00:00:00.000Z', i: 'c' },
      { t: '2026-01-01T00:00:00.000Z', i: 'b' },
      { t: '2026-01-01T00:00:00.000Z', i: 'a' },
    ];
    const first = paginate(list, (x) => x, { limit: 2 });
    assert.deepEqual(first.items.map((x) => x.i), ['c', 'b']);
    const key = decodeCursor(first.next_cursor ?? '');
    const second = paginate(list, (x) => x, { limit: 2, after: key ?? undefined });
    assert.deepEqual([second.items.map((x) => x.i), second.next_cursor], [['a'], null]);
  });
});

describe('faults, clock and pricing', () => {
  it('parses faults from the environment', () => {
    assert.deepEqual(faultsFromEnv('X', { X: '{"latency_ms":10,"down":true}' }), { latency_ms: 10, down: true });
    assert.deepEqual(faultsFromEnv('X', {}), {});
    assert.throws(() => faultsFromEnv('X', { X: '{"error_rate":3}' }), /error_rate/);
    assert.throws(() => faultsFromEnv('X', { X: 'nope' }), /JSON/);
    assert.equal(parseFaultPatch(null).ok, false);
  });

  it('scales simulated time and cancels timers on close', async () => {
    const clock = createClock(1000);
    assert.equal(clock.realMs(60), 60);
    const fired: string[] = [];
    clock.after(5, () => fired.push('soon'));
    clock.after(3600, () => fired.push('late'));
    await new Promise((resolve) => setTimeout(resolve, 40));
    clock.close();
    clock.after(0, () => fired.push('after close'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(fired, ['soon']);
    assert.throws(() => createClock(0));
  });

  it('prices deterministically and times pricing by complexity', () => {
    const p = { material: 'gold_18k_white', size_mm: 20, finish: 'matte' } as const;
    assert.deepEqual(computePrice(p, 100_000), computePrice(p, 100_000));
    assert.ok(computePrice(p, 1_000_000).amount_minor > computePrice(p, 10_000).amount_minor);
    assert.ok(computePrice({ ...p, material: 'silver_925' }, 1000).amount_minor < computePrice(p, 1000).amount_minor);
    assert.equal(pricingSeconds(0), 120);
    assert.ok(pricingSeconds(250_000) > 150 && pricingSeconds(250_000) < 200);
    assert.equal(pricingSeconds(5_000_000), 1800);
  });
});
