// Sellers' API keys made through the API (operators issue and revoke them,
// sellers rotate theirs), in the shared state store so every replica sees
// them: Redis in production, in process in the embedded default. Only the
// SHA-256 of a key is stored, never the key. Config keys (gateway.config.yml)
// keep working; a rotation or revocation of one is stored here as an
// override under its digest.
//
// key-auth asks for a digest on each request it cannot settle from the
// config alone; answers are remembered for MEMO_MS at most, so a revocation
// made on one replica is refused by every replica within that time.
//
// Redis:  facet:keys:k:<sha256>      the key's record (JSON); expiring keys expire a week after
//         facet:keys:s:<seller id>   hash: key id → sha256 of the seller's API-made keys
//         facet:keys:used:<sha256>   last use (ISO time), written at most once a minute per replica
// Each command touches one key, so they spread over a Redis Cluster's slots
// (last uses are read key by key, not with a cross-slot MGET).

import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis.ts';
import { FacetError } from '../errors/facet-error.ts';

/** How long a replica trusts what it read about a key: a revocation reaches every replica within this. */
export const MEMO_MS = 500;
/** Last-use times are written at most this often per key and replica. */
const TOUCH_EVERY_MS = 60_000;
/** A revoked or expired key's record is kept this long, so it is refused as revoked rather than unknown. */
const TOMBSTONE_MS = 7 * 86_400_000;
const MEMO_MAX = 50_000;

export interface KeyRecord {
  id: string;
  seller_id: string;
  /** `api`: made through the API; `config`: an override (rotation, revocation) of a key of gateway.config.yml. */
  source: 'api' | 'config';
  created_at: string | null;
  /** Set by a rotation: refused from then on. */
  expires_at: string | null;
  revoked_at: string | null;
  /** Who made it (`operator:<sub>` or `seller:<id>`), for the audit trail. */
  created_by: string | null;
}

export interface IssuedKey {
  /** The key itself: shown once, stored nowhere. */
  key: string;
  record: KeyRecord;
}

/** A key as a listing shows it (never the key). */
export interface ListedKey extends KeyRecord {
  last_used_at: string | null;
}

/** What every API-made key looks like: anything else is not one, and needs no look-up. */
export const API_KEY_FORMAT = /^fct_[A-Za-z0-9_-]{32}$/;

export function digestOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Whether the record refuses the key now, and why. */
export function refusalOf(record: KeyRecord | undefined, now = Date.now()): 'revoked' | 'expired' | undefined {
  if (!record) return undefined;
  if (record.revoked_at) return 'revoked';
  if (record.expires_at && Date.parse(record.expires_at) <= now) return 'expired';
  return undefined;
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
function newKeyId(): string {
  return `key_${[...randomBytes(12)].map((b) => ALPHABET[b % 32]).join('')}`;
}

/** Where records live: Redis, or this process. */
interface KeyBackend {
  getRecord(digest: string): Promise<KeyRecord | undefined>;
  putRecord(digest: string, record: KeyRecord, expireAtMs: number | undefined): Promise<void>;
  index(sellerId: string): Promise<Map<string, string>>;
  indexAdd(sellerId: string, id: string, digest: string): Promise<void>;
  indexRemove(sellerId: string, id: string): Promise<void>;
  lastUsed(digests: string[]): Promise<(string | null)[]>;
  touch(digest: string, at: string): Promise<void>;
}

function unavailable(error: unknown): FacetError {
  return new FacetError('FACET_ERR_STATE_UNAVAILABLE', { headers: { 'retry-after': '2' }, detail: 'The key store is unavailable; retry later', cause: error });
}

class RedisKeyBackend implements KeyBackend {
  readonly #redis: RedisClient;
  constructor(redis: RedisClient) {
    this.#redis = redis;
  }
  async #run<T>(operation: () => Promise<T>): Promise<T> {
    // Not connected: fail at once rather than queue behind a reconnect.
    if (this.#redis.status !== 'ready') throw unavailable(new Error(`redis ${this.#redis.status}`));
    try {
      return await operation();
    } catch (error) {
      throw unavailable(error);
    }
  }
  async getRecord(digest: string): Promise<KeyRecord | undefined> {
    const text = await this.#run(() => this.#redis.get(`facet:keys:k:${digest}`));
    return text ? (JSON.parse(text) as KeyRecord) : undefined;
  }
  async putRecord(digest: string, record: KeyRecord, expireAtMs: number | undefined): Promise<void> {
    const key = `facet:keys:k:${digest}`;
    await this.#run(() => (expireAtMs === undefined ? this.#redis.set(key, JSON.stringify(record)) : this.#redis.set(key, JSON.stringify(record), 'PXAT', expireAtMs)));
  }
  async index(sellerId: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.#run(() => this.#redis.hgetall(`facet:keys:s:${sellerId}`))));
  }
  async indexAdd(sellerId: string, id: string, digest: string): Promise<void> {
    await this.#run(() => this.#redis.hset(`facet:keys:s:${sellerId}`, id, digest));
  }
  async indexRemove(sellerId: string, id: string): Promise<void> {
    await this.#run(() => this.#redis.hdel(`facet:keys:s:${sellerId}`, id));
  }
  async lastUsed(digests: string[]): Promise<(string | null)[]> {
    if (digests.length === 0) return [];
    // One GET per key (pipelined per node), not MGET: on a Redis Cluster the keys sit in different slots.
    return this.#run(() => Promise.all(digests.map((d) => this.#redis.get(`facet:keys:used:${d}`))));
  }
  async touch(digest: string, at: string): Promise<void> {
    await this.#run(() => this.#redis.set(`facet:keys:used:${digest}`, at, 'EX', 400 * 86_400));
  }
}

/** The embedded default: this process only (keys made here are gone with it). Never evicted. */
class MemoryKeyBackend implements KeyBackend {
  readonly #records = new Map<string, { record: KeyRecord; expireAtMs: number | undefined }>();
  readonly #indexes = new Map<string, Map<string, string>>();
  readonly #used = new Map<string, string>();
  async getRecord(digest: string): Promise<KeyRecord | undefined> {
    const entry = this.#records.get(digest);
    if (entry?.expireAtMs !== undefined && entry.expireAtMs <= Date.now()) {
      this.#records.delete(digest);
      return undefined;
    }
    return entry?.record;
  }
  async putRecord(digest: string, record: KeyRecord, expireAtMs: number | undefined): Promise<void> {
    this.#records.set(digest, { record, expireAtMs });
  }
  async index(sellerId: string): Promise<Map<string, string>> {
    return new Map(this.#indexes.get(sellerId));
  }
  async indexAdd(sellerId: string, id: string, digest: string): Promise<void> {
    const index = this.#indexes.get(sellerId) ?? new Map<string, string>();
    index.set(id, digest);
    this.#indexes.set(sellerId, index);
  }
  async indexRemove(sellerId: string, id: string): Promise<void> {
    this.#indexes.get(sellerId)?.delete(id);
  }
  async lastUsed(digests: string[]): Promise<(string | null)[]> {
    return digests.map((d) => this.#used.get(d) ?? null);
  }
  async touch(digest: string, at: string): Promise<void> {
    this.#used.set(digest, at);
  }
}

/** A key of gateway.config.yml, as the listing and a revocation need it. */
export interface ConfigKey {
  id: string;
  sha256: string;
  revoked: boolean;
}

export class SellerKeyStore {
  readonly #backend: KeyBackend;
  /** The request path's reads: the client that fails fast (its fallback is #backend). */
  readonly #fast: KeyBackend;
  readonly #memo = new Map<string, { record: KeyRecord | undefined; at: number }>();
  readonly #touched = new Map<string, number>();

  /**
   * `redis`: the client whose commands fail fast (the request path reads
   * with it first); `stateRedis`: the patient one (writes, listings, and a
   * read the fast one could not finish). Neither: in process.
   */
  constructor(redis: RedisClient | undefined, stateRedis: RedisClient | undefined = redis) {
    const patient = stateRedis ?? redis;
    this.#backend = patient ? new RedisKeyBackend(patient) : new MemoryKeyBackend();
    this.#fast = redis && redis !== patient ? new RedisKeyBackend(redis) : this.#backend;
  }

  /**
   * The record of a digest (an API-made key, or a config key's override);
   * remembered for MEMO_MS. `patient`: when the fast read fails, wait for
   * the patient client (an issued key has no other source of truth); a
   * config key's override check does not.
   */
  async find(digest: string, patient = true, now = Date.now()): Promise<KeyRecord | undefined> {
    const fresh = this.remembered(digest, now);
    if (fresh) return fresh.record;
    // A stale answer is still what stands if the store cannot be read (see #read).
    return this.#read(digest, patient, now, this.#memo.get(digest));
  }

  /**
   * What find() would answer without a store read, if it would: the record
   * remembered in the last MEMO_MS (`record` may be undefined: none), or
   * undefined when the store must be asked. Lets the request path decide
   * without a promise.
   */
  remembered(digest: string, now = Date.now()): { record: KeyRecord | undefined } | undefined {
    const memo = this.#memo.get(digest);
    return memo && now - memo.at < MEMO_MS ? memo : undefined;
  }

  async #read(digest: string, patient: boolean, now: number, memo: { record: KeyRecord | undefined } | undefined): Promise<KeyRecord | undefined> {
    const read = this.#fast.getRecord(digest);
    let record: KeyRecord | undefined;
    if (patient) {
      record = await read.catch(() => this.#backend.getRecord(digest));
    } else {
      try {
        record = await read;
      } catch {
        // Store unreachable: what was last known stands (a revoked config key stays revoked), asked again in MEMO_MS.
        record = memo?.record;
      }
    }
    if (this.#memo.size >= MEMO_MAX) this.#memo.clear();
    this.#memo.set(digest, { record, at: now });
    return record;
  }

  /** Issues a new key for a seller; the key is returned once and only its digest is stored. `id`: a fixed id (the demo's example key). */
  async issue(sellerId: string, createdBy: string, id: string = newKeyId()): Promise<IssuedKey> {
    const key = `fct_${randomBytes(24).toString('base64url')}`;
    const digest = digestOf(key);
    const record: KeyRecord = { id, seller_id: sellerId, source: 'api', created_at: new Date().toISOString(), expires_at: null, revoked_at: null, created_by: createdBy };
    await this.#backend.putRecord(digest, record, undefined);
    await this.#backend.indexAdd(sellerId, record.id, digest);
    this.#memo.delete(digest);
    return { key, record };
  }

  /** The seller's API-made keys that still work, with their digests. */
  async apiKeys(sellerId: string): Promise<{ digest: string; record: KeyRecord }[]> {
    const index = await this.#backend.index(sellerId);
    const out: { digest: string; record: KeyRecord }[] = [];
    for (const [id, digest] of index) {
      const record = await this.#backend.getRecord(digest);
      if (!record || record.seller_id !== sellerId || refusalOf(record)) {
        // Gone, revoked or expired: no longer the seller's key.
        await this.#backend.indexRemove(sellerId, id);
        continue;
      }
      out.push({ digest, record });
    }
    return out;
  }

  /** Every working key of a seller: its config keys (with their overrides) and its API-made keys. */
  async list(sellerId: string, configKeys: readonly ConfigKey[]): Promise<ListedKey[]> {
    const entries: { digest: string; record: KeyRecord }[] = [];
    for (const key of configKeys) {
      if (key.revoked) continue;
      const override = await this.#backend.getRecord(key.sha256);
      const record: KeyRecord = override?.source === 'config' ? override : { id: key.id, seller_id: sellerId, source: 'config', created_at: null, expires_at: null, revoked_at: null, created_by: null };
      if (!refusalOf(record)) entries.push({ digest: key.sha256, record });
    }
    entries.push(...(await this.apiKeys(sellerId)));
    const used = await this.#backend.lastUsed(entries.map((e) => e.digest));
    return entries.map((e, i) => ({ ...e.record, last_used_at: used[i] ?? null }));
  }

  /** Ends a key at `expiresAt` (a rotation's overlap), or keeps an earlier end it already had. */
  async expire(digest: string, current: KeyRecord, expiresAt: Date): Promise<KeyRecord> {
    const earlier = current.expires_at && Date.parse(current.expires_at) < expiresAt.getTime() ? current.expires_at : expiresAt.toISOString();
    const record = { ...current, expires_at: earlier };
    await this.#backend.putRecord(digest, record, Date.parse(earlier) + TOMBSTONE_MS);
    this.#memo.delete(digest);
    return record;
  }

  /** Revokes a key at once (on this replica now, on the others within MEMO_MS). */
  async revoke(digest: string, current: KeyRecord): Promise<KeyRecord> {
    const record = { ...current, revoked_at: new Date().toISOString() };
    // A config key stays in the config: its revocation must outlive any tombstone.
    await this.#backend.putRecord(digest, record, current.source === 'api' ? Date.now() + TOMBSTONE_MS : undefined);
    if (current.source === 'api') await this.#backend.indexRemove(current.seller_id, current.id);
    this.#memo.delete(digest);
    return record;
  }

  /** Records a use, at most once a minute per key on this replica; failures are not the caller's problem. */
  touch(digest: string, now = Date.now()): void {
    const last = this.#touched.get(digest);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    if (this.#touched.size >= MEMO_MAX) this.#touched.clear();
    this.#touched.set(digest, now);
    this.#backend.touch(digest, new Date(now).toISOString()).catch(() => this.#touched.delete(digest));
  }
}
