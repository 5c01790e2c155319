// Server-Sent Events clients for the benchmark: many streams held open by
// the harness (one socket each, as browsers would), every event's data
// line handed over with the time its chunk arrived (monotonic µs).

import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { monotonicMicros } from './deliveries.ts';

/** The `data:` field of one event (the feed writes one data line per event); undefined for a comment or a retry. */
function dataOf(frame: string): string | undefined {
  const start = frame.startsWith('data: ') ? 0 : frame.indexOf('\ndata: ') + 1;
  if (start === 0 && !frame.startsWith('data: ')) return undefined;
  const end = frame.indexOf('\n', start + 6);
  return frame.slice(start + 6, end === -1 ? undefined : end);
}

export interface SseClients {
  /** Streams that ended or failed after they had opened. */
  readonly dropped: number;
  close(): void;
}

export interface SseClientOptions {
  /** Client i connects to urls[i % urls.length]. */
  urls: readonly string[];
  count: number;
  /** Client i's request headers (each may be a different operator: a replica caps one operator's streams). */
  headers: (client: number) => Record<string, string>;
  /** Each event's `data:` line (without the field name), with the client's index and the arrival time of its chunk. */
  onData(client: number, data: string, atUs: number): void;
  signal: AbortSignal;
  /** How long a stream may take to open (default 10 s). */
  openTimeoutMs?: number;
}

/**
 * Opens `count` streams at once; resolves when every one has answered 200
 * with text/event-stream and sent its first bytes (the gateway's feed
 * writes them once it has registered the client), rejects (closing all)
 * otherwise.
 */
export async function openSseClients(options: SseClientOptions): Promise<SseClients> {
  const requests: ClientRequest[] = [];
  let dropped = 0;
  let closing = false;
  const close = (): void => {
    closing = true;
    for (const req of requests) req.destroy();
  };
  const open = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const url = options.urls[i % options.urls.length] as string;
      const req = request(url, { agent: false, headers: { accept: 'text/event-stream', ...options.headers(i) } }, (res: IncomingMessage) => {
        if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => reject(new Error(`SSE client ${i}: GET ${url} answered ${res.statusCode} ${String(res.headers['content-type'])}: ${body.slice(0, 300)}`)));
          return;
        }
        let buffer = '';
        let opened = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const atUs = monotonicMicros();
          if (!opened) {
            opened = true;
            resolve();
          }
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = dataOf(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (data !== undefined) options.onData(i, data, atUs);
          }
        });
        // A stream destroyed by close() ends with an "aborted" error: expected.
        res.on('error', () => undefined);
        res.on('close', () => {
          if (opened && !closing) dropped++;
        });
      });
      req.setTimeout(options.openTimeoutMs ?? 10_000, () => req.destroy(new Error(`SSE client ${i}: no answer from ${url} within ${options.openTimeoutMs ?? 10_000} ms`)));
      req.on('error', (error) => {
        if (!closing) reject(error);
      });
      requests.push(req);
      req.end();
    });
  const abort = (): void => close();
  options.signal.addEventListener('abort', abort, { once: true });
  try {
    await Promise.all(Array.from({ length: options.count }, (_, i) => open(i)));
    // Open: an idle stream (heartbeats every 15 s) must not time out.
    for (const req of requests) req.setTimeout(0);
  } catch (error) {
    close();
    throw error;
  } finally {
    options.signal.removeEventListener('abort', abort);
  }
  return {
    get dropped() {
      return dropped;
    },
    close,
  };
}
