// Sellers and their API keys. Keys are kept only as SHA-256 digests.

import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { ConsumerConfig } from './config.ts';

export interface Consumer {
  id: string;
  name: string;
  plan: string;
  keyId: string;
}

interface KeyEntry {
  digest: Buffer;
  consumer: Consumer;
  revoked: boolean;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export type KeyLookup = { outcome: 'ok'; consumer: Consumer } | { outcome: 'unknown' } | { outcome: 'revoked' };

/** A seller of the config, without a key. */
export type Seller = Omit<Consumer, 'keyId'>;

export class ConsumerDirectory {
  private readonly byDigest = new Map<string, KeyEntry>();
  private readonly sellers = new Map<string, { seller: Seller; keys: { id: string; sha256: string; revoked: boolean }[] }>();

  constructor(consumers: readonly ConsumerConfig[]) {
    for (const c of consumers) {
      this.sellers.set(c.id, { seller: { id: c.id, name: c.name, plan: c.plan }, keys: c.keys.map((k) => ({ id: k.id, sha256: k.sha256, revoked: k.revoked })) });
      for (const key of c.keys) {
        this.byDigest.set(key.sha256, {
          digest: Buffer.from(key.sha256, 'hex'),
          revoked: key.revoked,
          consumer: { id: c.id, name: c.name, plan: c.plan, keyId: key.id },
        });
      }
    }
  }

  /**
   * The map is indexed by the digest of the presented key, so lookup timing
   * depends only on that digest, which a guesser cannot steer; the final
   * comparison of digests is constant-time.
   */
  lookup(apiKey: string): KeyLookup {
    // One-shot: no Hash object per request.
    return this.lookupDigest(hash('sha256', apiKey, 'buffer'));
  }

  /** lookup() for a key already hashed (SHA-256, raw bytes). */
  lookupDigest(digest: Buffer): KeyLookup {
    const entry = this.byDigest.get(digest.toString('hex'));
    if (!entry || !timingSafeEqual(entry.digest, digest)) return { outcome: 'unknown' };
    if (entry.revoked) return { outcome: 'revoked' };
    return { outcome: 'ok', consumer: entry.consumer };
  }

  /** A seller the config names (API-made keys belong to one: its plan applies). */
  seller(id: string): Seller | undefined {
    return this.sellers.get(id)?.seller;
  }

  /** The seller's keys in the config (digests only). */
  configKeys(sellerId: string): readonly { id: string; sha256: string; revoked: boolean }[] {
    return this.sellers.get(sellerId)?.keys ?? [];
  }
}
