// A raw HTTP/1.1 client for hostile traffic: sends bytes exactly as given
// (duplicate or conflicting framing headers, raw non-ASCII in the request
// line, anything undici refuses to send) over a keep-alive socket, and
// parses the answers itself. A connection the server closes is replaced.

import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

interface Parsed {
  answer: RawAnswer;
  consumed: number;
  /** The server will close (Connection: close), or the body runs to the close. */
  closes: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** One answer from the start of `buffer`, or undefined while incomplete. `atEof`: the socket has closed. */
export function parseAnswer(buffer: Buffer, bodiless: boolean, atEof: boolean): Parsed | undefined {
  const headEnd = buffer.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const [statusLine = '', ...lines] = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? -1);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const closes = /\bclose\b/i.test(headers.connection ?? '');
  let at = headEnd + 4;
  const done = (body: Buffer, consumed: number, runsToClose = false): Parsed => ({ answer: { status, headers, body }, consumed, closes: closes || runsToClose });
  if (bodiless || status === 204 || status === 304 || (status >= 100 && status < 200)) return done(Buffer.alloc(0), at);
  // An event stream never ends: its head is the answer.
  if ((headers['content-type'] ?? '').startsWith('text/event-stream')) return done(Buffer.alloc(0), buffer.length, true);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = buffer.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = parseInt(buffer.subarray(at, eol).toString('latin1'), 16);
      if (!Number.isFinite(size)) throw new Error(`bad chunk size in an answer: ${buffer.subarray(at, eol).toString('latin1')}`);
      if (size === 0) {
        const end = buffer.indexOf(HEAD_END, eol - 2);
        if (end < 0) return undefined;
        return done(Buffer.concat(parts), end + 4);
      }
      if (buffer.length < eol + 2 + size + 2) return undefined;
      parts.push(buffer.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (buffer.length < at + length) return undefined;
    return done(buffer.subarray(at, at + length), at + length);
  }
  // No length: the body runs to the close.
  return atEof ? done(buffer.subarray(at), buffer.length, true) : undefined;
}

export class RawConnection {
  private socket: Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private eof = false;
  private wake: (() => void) | undefined;
  private readonly port: number;
  private readonly host: string;
  /** The start of bytes the server sent beyond one answer per request (smuggling, desync). */
  readonly strays: string[] = [];
  /** Connections opened (a closed one is replaced on the next request). */
  opened = 0;

  constructor(origin: string) {
    const url = new URL(origin);
    this.port = Number(url.port);
    this.host = url.hostname;
  }

  private open(): Socket {
    this.opened++;
    this.buffer = Buffer.alloc(0);
    this.eof = false;
    const socket = connect(this.port, this.host);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    // Events of a replaced socket say nothing about the current one.
    const ended = () => {
      if (this.socket !== socket) return;
      this.eof = true;
      this.wake?.();
    };
    socket.on('end', ended).on('close', ended).on('error', ended);
    this.socket = socket;
    return socket;
  }

  /**
   * Sends one request's bytes and returns every answer the server gives to
   * them (one normally; a smuggling attempt may get two, or none when the
   * server just closes). `fresh`: on a new connection, read to its close.
   */
  async exchange(bytes: Buffer, options: { bodiless?: boolean; fresh?: boolean; timeoutMs?: number } = {}): Promise<RawAnswer[]> {
    // Bytes left from the last exchange mean the server answered one request twice: report them as a stray answer.
    if (this.buffer.length > 0 && !this.eof) this.strays.push(this.buffer.subarray(0, 300).toString('latin1'));
    if (options.fresh || !this.socket || this.eof || this.socket.destroyed || this.buffer.length > 0) {
      this.socket?.destroy();
      this.open();
    }
    const socket = this.socket as Socket;
    socket.write(bytes);
    const answers: RawAnswer[] = [];
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const parsed = this.buffer.length > 0 ? parseAnswer(this.buffer, options.bodiless === true && answers.length === 0, this.eof) : undefined;
      if (parsed) {
        this.buffer = this.buffer.subarray(parsed.consumed);
        // 100 Continue (and other interim answers) come before the answer.
        if (parsed.answer.status >= 100 && parsed.answer.status < 200) continue;
        answers.push(parsed.answer);
        if (parsed.closes) {
          socket.destroy();
          this.eof = true;
          return answers;
        }
        // Keep-alive: one request, one answer, unless reading a fresh connection to its end.
        if (!options.fresh) return answers;
        continue;
      }
      if (this.eof) return answers;
      const left = deadline - Date.now();
      if (left <= 0) {
        socket.destroy();
        this.eof = true;
        throw new Error(`no complete answer within ${options.timeoutMs ?? 10_000} ms to: ${bytes.subarray(0, 200).toString('latin1')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  close(): void {
    this.socket?.destroy();
  }
}
