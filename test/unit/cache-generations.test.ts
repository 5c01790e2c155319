// The in-process view of cache generations: one Redis read per scope at a
// time, re-read in the background before it expires, so a busy scope never
// sends every request in flight to Redis for its generation.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationView } from '../../policies/cache/generations.ts';
import type { CacheStore } from '../../policies/cache/store.ts';

function fakeStore(generation: () => number): CacheStore & { reads: number; release: () => void } {
  let waiting: (() => void)[] = [];
  const store = {
    kind: 'redis' as const,
    available: true,
    reads: 0,
    release: () => {
      for (const go of waiting) go();
      waiting = [];
    },
    get: async () => undefined,
    set: async () => {},
    readGeneration: async () => {
      store.reads++;
      await new Promise<void>((resolve) => waiting.push(resolve));
      return generation();
    },
    bumpGeneration: async () => generation(),
    onGeneration: () => {},
    tryLock: async () => true,
    unlock: async () => {},
    close: async () => {},
  };
  return store;
}

describe('cache generation view', () => {
  it('concurrent reads of an unknown generation share one Redis read', async () => {
    const store = fakeStore(() => 7);
    const view = new GenerationView(store, 2000);
    const reads = Array.from({ length: 50 }, () => view.current('seller:a'));
    store.release();
    assert.deepEqual(new Set(await Promise.all(reads)), new Set([7]));
    assert.equal(store.reads, 1);
  });

  it('past half its age the generation is still served, and re-read once in the background', async () => {
    let generation = 3;
    const store = fakeStore(() => generation);
    const view = new GenerationView(store, 2000);
    const first = view.current('seller:b');
    store.release();
    assert.equal(await first, 3);
    const readAt = Date.now();
    assert.equal(view.peek('seller:b', readAt + 500), 3);
    assert.equal(store.reads, 1, 'young: no read');
    generation = 4;
    for (let i = 0; i < 20; i++) assert.equal(view.peek('seller:b', readAt + 1500), 3, 'served while the re-read runs');
    assert.equal(store.reads, 2, 'one background re-read');
    store.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(view.peek('seller:b'), 4);
  });

  it('bumps asked for in one turn of the event loop are one bump per scope; a bump already sent is not shared', async () => {
    const { MemoryCacheStore } = await import('../../policies/cache/memory-store.ts');
    const store = new MemoryCacheStore();
    const sent: string[] = [];
    const bumpGeneration = store.bumpGeneration.bind(store);
    store.bumpGeneration = async (scope: string) => {
      sent.push(scope);
      return bumpGeneration(scope);
    };
    const view = new GenerationView(store, 2000);
    // A burst: ten status events of one seller, each bumping the seller and the dashboard.
    const burst = Array.from({ length: 10 }, () => Promise.all([view.bump('seller:a'), view.bump('dashboard')]));
    assert.deepEqual(sent, [], 'nothing sent before the turn ends: later askers can still share it');
    const answers = await Promise.all(burst);
    assert.deepEqual(sent.sort(), ['dashboard', 'seller:a']);
    assert.ok(answers.every(([seller, dashboard]) => seller === 1 && dashboard === 1), JSON.stringify(answers));
    assert.equal(view.peek('seller:a'), 1);
    // Asked while the first is on its way (sent, not answered): a change made now needs a bump of its own.
    sent.length = 0;
    const first = view.bump('seller:a');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sent, ['seller:a'], 'the first was sent');
    const second = view.bump('seller:a');
    assert.equal(await first, 2);
    assert.equal(await second, 3);
    assert.deepEqual(sent, ['seller:a', 'seller:a']);
    assert.equal(view.peek('seller:a'), 3);
  });
});
