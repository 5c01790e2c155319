// Requests the security suites send: through undici (any method, path,
// content type or body bytes), or over a raw socket for what undici refuses
// to send (CR/LF in header values, malformed request lines).

import { connect } from 'node:net';
import { Client } from 'undici';

export interface RawRequest {
  method: string;
  /** Path and query exactly as sent (already encoded). */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** SSE: stop reading after the headers. */
  streaming?: boolean;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: unknown;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export class Http {
  private readonly client: Client;
  readonly origin: string;
  constructor(origin: string) {
    this.origin = origin;
    this.client = new Client(origin, { pipelining: 1, keepAliveTimeout: 10_000, bodyTimeout: 15_000, headersTimeout: 15_000 });
  }

  async send(req: RawRequest): Promise<Answer> {
    const signal = req.streaming ? AbortSignal.timeout(2_000) : undefined;
    const response = await this.client.request({ method: req.method as 'GET', path: req.path, headers: req.headers, body: req.body, signal });
    const headers = flatHeaders(response.headers as Record<string, string | string[] | undefined>);
    // An event stream never ends: status and headers are all there is to check; a problem body is short.
    if (req.streaming && response.statusCode < 300) {
      response.body.destroy();
      return { status: response.statusCode, headers, text: '', json: undefined };
    }
    const text = await response.body.text();
    return { status: response.statusCode, headers, text, json: parseJson(text) };
  }

  close(): Promise<void> {
    // destroy, not close: close() waits for every request undici still counts as
    // running, and a cut-off event stream may stay one forever.
    return this.client.destroy();
  }
}

/** Sends bytes as they are over a fresh connection and parses the one answer (Connection: close). */
export function sendRaw(origin: string, bytes: string | Buffer, timeoutMs = 5_000): Promise<Answer> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('raw request timed out')), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const split = raw.indexOf('\r\n\r\n');
      const head = split >= 0 ? raw.slice(0, split) : raw;
      const [statusLine = '', ...lines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let text = split >= 0 ? raw.slice(split + 4) : '';
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) text = dechunk(text);
      text = Buffer.from(text, 'latin1').toString('utf8');
      resolve({ status, headers, text, json: parseJson(text) });
    });
    socket.write(bytes);
  });
}

function dechunk(body: string): string {
  let out = '';
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(body.slice(at, eol), 16);
    if (!size) break;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}
