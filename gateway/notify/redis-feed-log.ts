// The feed buffer in a Redis stream, shared by every gateway replica.
// Appending is one Lua call: a dedupe key per event (SET NX) and XADD with
// MAXLEN ~ N, so a redelivered event is never appended twice and the buffer
// stays bounded. Each replica tails the stream with XREAD BLOCK on its own
// connection (a blocked command must not share the client whose commands
// fail fast after 100 ms), one reader per replica whatever its client count.
// Keys share a hash tag so the script also runs on Redis Cluster.

import { duplicateRedis, type RedisClient } from '../../platform/redis.ts';
import { redisScript } from '../../platform/state/redis-script.ts';
import { compareIds, type Backlog, type FeedEntry, type FeedLog, type FeedRecord } from './feed-log.ts';

/** The feed's stream and the prefix of its dedupe keys (exported for the benchmark's clean-up). */
export const STREAM_KEY = 'facet:{orderfeed}:stream';
export const SEEN_PREFIX = 'facet:{orderfeed}:seen:';
const SEEN_TTL_SEC = 7 * 86_400;
const READ_BLOCK_MS = 5_000;
const READ_COUNT = 500;

const APPEND_ONCE = `
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'type', ARGV[3], 'status', ARGV[4], 'data', ARGV[5])
end
return false`;
const appendOnce = redisScript(APPEND_ONCE);

type RawEntry = [id: string, fields: string[]];

function toEntry([id, fields]: RawEntry): FeedEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  const status = map.get('status') ?? '';
  return { id, type: map.get('type') ?? 'message', status: status === '' ? null : status, data: map.get('data') ?? '{}' };
}

export interface RedisFeedLogOptions {
  /** MAXLEN ~ of the stream. */
  bufferSize: number;
  /** Reports a failing tail read (the loop retries on its own). */
  onError?: (error: unknown) => void;
}

export class RedisFeedLog implements FeedLog {
  private readonly redis: RedisClient;
  private readonly options: RedisFeedLogOptions;
  private reader: RedisClient | undefined;
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(redis: RedisClient, options: RedisFeedLogOptions) {
    this.redis = redis;
    this.options = options;
  }

  async append(record: FeedRecord): Promise<boolean> {
    const id = await appendOnce.run(this.redis, [STREAM_KEY, SEEN_PREFIX + record.eventId], [SEEN_TTL_SEC, this.options.bufferSize, record.type, record.status ?? '', record.data]);
    return typeof id === 'string';
  }

  async since(lastId: string, limit: number): Promise<Backlog> {
    const [raw, info] = await Promise.all([
      this.redis.xrange(STREAM_KEY, `(${lastId}`, '+', 'COUNT', limit) as Promise<RawEntry[]>,
      this.redis.call('XINFO', 'STREAM', STREAM_KEY).catch(() => null) as Promise<unknown[] | null>,
    ]);
    return { entries: raw.map(toEntry), gap: this.trimmedAfter(lastId, info) };
  }

  /**
   * Whether entries newer than lastId were trimmed. XDEL records
   * max-deleted-entry-id, but MAXLEN trimming does not (Redis 7.0): then
   * the oldest entry being newer than lastId, after some were trimmed, is
   * the sign (conservative: the trimmed one may have been lastId itself).
   */
  private trimmedAfter(lastId: string, info: unknown[] | null): boolean {
    if (!info) return false;
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
    const maxDeleted = fields.get('max-deleted-entry-id');
    if (typeof maxDeleted === 'string' && compareIds(maxDeleted, lastId) > 0) return true;
    const first = fields.get('first-entry') as RawEntry | null | undefined;
    const added = Number(fields.get('entries-added') ?? Number.POSITIVE_INFINITY);
    const trimmed = added > Number(fields.get('length') ?? 0);
    return trimmed && Array.isArray(first) && compareIds(first[0], lastId) > 0;
  }

  tail(listener: (entries: FeedEntry[]) => void): void {
    if (this.loop) throw new Error('the feed is already tailed');
    // Blocking reads wait without a command timeout and queue while reconnecting.
    const reader = duplicateRedis(this.redis, { commandTimeout: undefined, enableOfflineQueue: true, maxRetriesPerRequest: null, enableAutoPipelining: false });
    reader.on('error', () => {});
    this.reader = reader;
    this.loop = this.read(reader, listener);
  }

  private async read(reader: RedisClient, listener: (entries: FeedEntry[]) => void): Promise<void> {
    let lastId: string | undefined;
    while (!this.closed) {
      try {
        // Start after the newest entry at start-up; afterwards never lose one across reconnects.
        lastId ??= ((await reader.xrevrange(STREAM_KEY, '+', '-', 'COUNT', 1)) as RawEntry[])[0]?.[0] ?? '0-0';
        const result = (await reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', STREAM_KEY, lastId)) as [string, RawEntry[]][] | null;
        const raw = result?.[0]?.[1] ?? [];
        if (raw.length === 0) continue;
        lastId = (raw.at(-1) as RawEntry)[0];
        listener(raw.map(toEntry));
      } catch (error) {
        if (this.closed) return;
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reader?.disconnect();
    await this.loop;
  }
}
