// MES model store: the seed's models plus uploads, streamed to disk.
import { createHash, randomInt } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Order } from '../../contracts/orders.ts';
import { SimHttpError } from '../shared/errors.ts';
import { ModelSniffer } from './sniff.ts';
import type { ModelFormat } from './sniff.ts';

export interface ModelMeta {
  id: string;
  sha256: string;
  size_bytes: number;
  format: ModelFormat;
  polygons: number;
  filename: string;
  created_at: string;
}

export const DEFAULT_MAX_MODEL_BYTES = 200 * 1024 * 1024;
const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export function newId(prefix: string, length = 12): string {
  let out = prefix;
  for (let i = 0; i < length; i++) out += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return out;
}

/** A plausible file size for a seed model (which has no bytes behind it). */
function seedSize(format: ModelFormat, polygons: number): number {
  if (format === 'stl') return 84 + 50 * polygons;
  if (format === '3mf') return polygons * 20;
  return polygons * 60;
}

/** Keeps a plain name: no directories, no control characters, at most 255 chars. */
function cleanFilename(raw: string | undefined, format: ModelFormat): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[\p{Cc}"]/gu, '').trim().slice(0, 255);
  return clean || `model.${format}`;
}

class TooLarge extends Error {}

export class ModelStore {
  private readonly models = new Map<string, ModelMeta>();
  private readonly storageDir: string;
  private readonly maxBytes: number;
  private readonly now: () => string;

  constructor(orders: readonly Order[], storageDir: string, maxBytes: number, now: () => string) {
    this.storageDir = storageDir;
    this.maxBytes = maxBytes;
    this.now = now;
    for (const { model, created_at } of orders) {
      const size_bytes = seedSize(model.format, model.polygons);
      this.models.set(model.id, { ...model, size_bytes, created_at });
    }
  }

  get(id: string): ModelMeta | undefined {
    return this.models.get(id);
  }

  /** Knows a model without its file, as the seeded ones (the demo's example upload). */
  register(meta: ModelMeta): void {
    this.models.set(meta.id, { ...meta });
  }

  get size(): number {
    return this.models.size;
  }

  /**
   * Streams an upload to `<storageDir>/<id>` while hashing and sniffing it.
   * Throws 413 past the size limit and 415 for unknown content (file removed).
   */
  async upload(body: Readable, filename: string | undefined, declaredLength?: number): Promise<ModelMeta> {
    if (declaredLength !== undefined && declaredLength > this.maxBytes) throw this.tooLarge();
    const id = newId('mdl_');
    const path = join(this.storageDir, id);
    const hash = createHash('sha256');
    const sniffer = new ModelSniffer();
    const max = this.maxBytes;
    let seen = 0;
    // Past the limit the rest of the body is read and dropped, so the client
    // finishes sending and reads the 413; only an absurd excess cuts it off.
    const inspect = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        if (seen > max) return callback(seen > 2 * max + 1_048_576 ? new TooLarge() : null);
        hash.update(chunk);
        sniffer.feed(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(body, inspect, createWriteStream(path));
    } catch (error) {
      await rm(path, { force: true });
      if (error instanceof TooLarge) throw this.tooLarge();
      throw error;
    }
    if (seen > max) {
      await rm(path, { force: true });
      throw this.tooLarge();
    }
    const sniffed = sniffer.finish();
    if (!sniffed) {
      await rm(path, { force: true });
      throw new SimHttpError(415, 'unsupported model format');
    }
    const meta: ModelMeta = {
      id,
      sha256: hash.digest('hex'),
      size_bytes: sniffer.size,
      format: sniffed.format,
      polygons: sniffed.polygons,
      filename: cleanFilename(filename, sniffed.format),
      created_at: this.now(),
    };
    this.models.set(id, meta);
    return meta;
  }

  private tooLarge(): SimHttpError {
    return new SimHttpError(413, `model larger than ${this.maxBytes} bytes`, undefined, { max_bytes: this.maxBytes });
  }
}
