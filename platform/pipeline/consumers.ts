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

export class ConsumerDirectory {
  private readonly byDigest = new Map<string, KeyEntry>();

  constructor(consumers: readonly ConsumerConfig[]) {
    for (const c of consumers) {
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
    const digest = hash('sha256', apiKey, 'buffer');
    const entry = this.byDigest.get(digest.toString('hex'));
    if (!entry || !timingSafeEqual(entry.digest, digest)) return { outcome: 'unknown' };
    if (entry.revoked) return { outcome: 'revoked' };
    return { outcome: 'ok', consumer: entry.consumer };
  }
}
