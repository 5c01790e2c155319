// In-process notice of order changes (platform/pipeline/policy.ts:
// OrderChanges): the write handlers and the event consumer say what changed,
// policies that keep derived state (the read cache) listen. The gateway names
// no policy; a writer awaits the listeners.

import type { OrderChange, OrderChanges } from '../platform/pipeline/policy.ts';

export class OrderChangeHub implements OrderChanges {
  readonly #listeners: ((change: OrderChange) => Promise<void>)[] = [];

  onChange(listener: (change: OrderChange) => Promise<void>): void {
    this.#listeners.push(listener);
  }

  async notify(change: OrderChange): Promise<void> {
    await Promise.all(this.#listeners.map((listener) => listener(change)));
  }
}
