// Quota leases: a replica takes a few units of a seller's window from Redis
// at once (one atomic script) and spends them in process, renewing before
// they run out, so most requests make no Redis call while the count stays
// global. The counter is rate-limiter-flexible's own key (units granted,
// expiring with the window), so usage reads and per-request counting see
// the same number.
//
// Bounds, N replicas, lease L units: every unit is granted in Redis before it
// is spent, and a replica's budget expires when the Redis window does
// (measured from before the call), so admitted ≤ limit per Redis window in
// this design, and the bound documented and tested is limit + N × L (clock
// skew between a replica and Redis, a lease crossing a window's end). The
// price: units leased and not spent when the window ends are lost, so a
// seller may be refused up to N × L units early in a window.

import type { Redis } from 'ioredis';
import { redisScript } from '../../platform/state/redis-script.ts';

const LEASE_SCRIPT = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then used = 0 end
local need = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local free = limit - used
if free < need or free <= 0 then
  if ttl < 0 then ttl = 0 end
  return {0, used, ttl}
end
local grant = math.min(want, free)
if ttl < 0 then
  redis.call('SET', KEYS[1], grant, 'PX', ARGV[4])
  ttl = tonumber(ARGV[4])
else
  redis.call('INCRBY', KEYS[1], grant)
end
return {grant, used + grant, ttl}
`;

type LeaseReply = [granted: number, used: number, ttlMs: number];
interface LeaseClient {
  facetQuotaLease(key: string, need: number, want: number, limit: number, windowMs: number): Promise<LeaseReply>;
}

const leaseScript = redisScript(LEASE_SCRIPT);

function leaseClient(redis: Redis): LeaseClient {
  return {
    async facetQuotaLease(key, need, want, limit, windowMs) {
      return (await leaseScript.run(redis, [key], [need, want, limit, windowMs])) as LeaseReply;
    },
  };
}

export interface SpendResult {
  allowed: boolean;
  /** Units left in the window as far as this replica knows (for the RateLimit header). */
  remaining: number;
  /** Until the window resets. */
  msBeforeNext: number;
}

/** One seller's window on this replica: the units it holds and until when. */
export class LeasedWindow {
  private remaining = 0;
  private expiresAt = 0;
  /** Units granted in the window, all replicas, at the last lease. */
  private granted = 0;
  private pending: Promise<void> | undefined;

  private readonly client: LeaseClient;
  private readonly key: string;
  private readonly limit: number;
  private readonly windowMs: number;
  /** Units leased at a time. */
  private readonly units: number;

  constructor(redis: Redis, key: string, limit: number, windowMs: number, units: number) {
    this.client = leaseClient(redis);
    this.key = key;
    this.limit = limit;
    this.windowMs = windowMs;
    this.units = units;
  }

  /** Spends `cost` units: from this replica's lease when it holds enough, else leasing first. Throws when Redis fails. */
  async spend(cost: number): Promise<SpendResult> {
    for (let attempt = 0; ; attempt++) {
      const now = Date.now();
      if (now >= this.expiresAt) this.remaining = 0;
      if (this.remaining >= cost) {
        this.remaining -= cost;
        this.renewAhead();
        return { allowed: true, remaining: this.estimate(), msBeforeNext: Math.max(0, this.expiresAt - now) };
      }
      if (this.pending && attempt < 2) {
        // Another request of this replica is leasing: its units may cover this one too.
        await this.pending;
        continue;
      }
      // A lease of its own, for the whole cost: what it grants covers this request whatever
      // others of this replica spend meanwhile (the local count never goes below zero).
      const call = this.lease(cost, cost + this.units);
      if (!this.pending) this.track(call);
      const [grantedNow, used, ttlMs] = await call;
      if (grantedNow === 0) return { allowed: false, remaining: Math.max(0, this.limit - used), msBeforeNext: ttlMs };
      this.remaining -= cost;
      this.renewAhead();
      return { allowed: true, remaining: this.estimate(), msBeforeNext: Math.max(0, this.expiresAt - Date.now()) };
    }
  }

  /** Units this replica holds and has not spent yet (counted as used in Redis). */
  unspent(): number {
    return Date.now() < this.expiresAt ? Math.max(0, this.remaining) : 0;
  }

  /** Gives back units of a request refused by another window (they stay this replica's, in this window). */
  giveBack(cost: number): void {
    if (Date.now() < this.expiresAt) this.remaining += cost;
  }

  /** Global units left: the limit less what was granted, plus what this replica holds unspent. */
  private estimate(): number {
    return Math.max(0, Math.min(this.limit, this.limit - this.granted + this.remaining));
  }

  /** Takes the next lease in the background when half of this one is spent. */
  private renewAhead(): void {
    if (this.pending || this.remaining * 2 >= this.units) return;
    this.track(this.lease(0, this.units));
  }

  /** One lease call at a time per window: others wait for it instead of calling Redis too. */
  private track(call: Promise<LeaseReply>): void {
    const settled = call.then(
      () => undefined,
      () => undefined,
    );
    this.pending = settled;
    void settled.then(() => {
      if (this.pending === settled) this.pending = undefined;
    });
  }

  private async lease(need: number, want: number): Promise<LeaseReply> {
    const sentAt = Date.now();
    const reply = await this.client.facetQuotaLease(this.key, need, want, this.limit, this.windowMs);
    const [grantedNow, used, ttlMs] = reply;
    // Measured from before the call, this budget ends no later than the Redis window.
    const expiresAt = sentAt + ttlMs;
    if (grantedNow > 0) {
      // A much later end is the next window: what this replica held belonged to the last one.
      if (sentAt >= this.expiresAt || expiresAt > this.expiresAt + this.windowMs / 2) this.remaining = 0;
      this.remaining += grantedNow;
      this.expiresAt = this.remaining === grantedNow ? expiresAt : Math.min(this.expiresAt, expiresAt);
    }
    this.granted = used;
    return reply;
  }
}
