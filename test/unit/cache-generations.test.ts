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
});
