// What outlives one config: a reload builds the policies' services again
// from the new config, but the state a policy keeps in process (in-process
// quota counters and cache entries without Redis, metric families on the
// process's registry, one listener on the order changes) must carry over.
// A policy asks for it by name (PolicyHost.retain); the first generation
// makes it, later ones get the same object; it is closed with the gateway.

import type { Retainable } from '../platform/pipeline/policy.ts';

export class RetainedObjects {
  readonly #kept = new Map<string, Retainable<unknown>>();

  retain<T>(name: string, make: () => Retainable<T>): T {
    let kept = this.#kept.get(name);
    if (!kept) {
      kept = make();
      this.#kept.set(name, kept);
    }
    return kept.value as T;
  }

  async close(): Promise<void> {
    const kept = [...this.#kept.values()];
    this.#kept.clear();
    await Promise.all(kept.map((k) => k.close?.()));
  }
}
