// Saga state in the KeyValueStore (Redis, or in-process for the embedded
// default): `<keyPrefix><order_id>` → SagaState as JSON, kept `ttlSec`
// (default 30 days) after the last write. Only ever written under the
// order's lock (lock.ts), so a plain get/set is enough.

import type { KeyValueStore } from '../../platform/state/kv.ts';
import type { SagaState } from './state.ts';

export const DEFAULT_KEY_PREFIX = 'facet:saga:';
export const DEFAULT_STATE_TTL_SEC = 30 * 24 * 3600;

export class SagaStore {
  readonly keyPrefix: string;
  private readonly kv: KeyValueStore;
  private readonly ttlSec: number;

  constructor(kv: KeyValueStore, options: { keyPrefix?: string; ttlSec?: number } = {}) {
    this.kv = kv;
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.ttlSec = options.ttlSec ?? DEFAULT_STATE_TTL_SEC;
  }

  key(orderId: string): string {
    return this.keyPrefix + orderId;
  }

  async load(orderId: string): Promise<SagaState | null> {
    const raw = await this.kv.get(this.key(orderId));
    return raw === null ? null : (JSON.parse(raw) as SagaState);
  }

  async save(state: SagaState): Promise<void> {
    await this.kv.set(this.key(state.order_id), JSON.stringify(state), this.ttlSec);
  }
}
