// An open-loop load generator: a constant arrival rate, one request every
// 1/rate seconds, sent on schedule whether or not earlier ones have been
// answered, over keep-alive sockets opened as needed.
//
// Why not autocannon's `overallRate`: autocannon caps each connection at
// rate/connections requests per second, sends them back to back as answers
// arrive and then waits for the next second (all connections' timers tick
// together), so the arrivals come in per-second bursts and a slow server
// still slows its clients down: a closed loop with a ceiling. Here a slow
// server sees requests keep arriving, as it would from independent clients.
//
// It speaks just enough HTTP/1.1 over raw sockets (a prebuilt request,
// responses framed by Content-Length or chunked encoding) to stay cheap:
// on two shared CPUs a generator costing a few hundred µs per request (a
// general-purpose HTTP client) would take the CPU the server is measured on.
//
// Latency is measured from each request's scheduled send time, so any delay
// in sending it (the generator's own lateness on a busy machine, or waiting
// for a free socket) counts, as it would for a real client (no coordinated
// omission). The generator's lateness is reported separately. So is the
// timeout: a request without an answer 10 s after its scheduled time is
// given up (sent or still waiting for a socket), as a client would.

import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AnswerLog, newLatencyHistogram } from './answers.ts';
import type { LoadDefaults, OpenLoad, RequestSpec, StreamResult, StreamSpec } from './load-types.ts';
import { histogramPercentileMs } from './statistics.ts';

const MIN_CONNECTIONS = 64;
const MAX_CONNECTIONS = 4096;
/** Sockets for this many seconds of arrivals by default. */
const CONNECTION_SECONDS = 2;
const SWEEP_MS = 250;
const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

function requestBytes(request: RequestSpec, url: URL): Buffer {
  const lower = (h: Record<string, string> | undefined): Record<string, string> => Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const headers: Record<string, string> = { host: url.host, ...lower(request.headers), ...lower(request.perRequestHeaders?.()) };
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  if (body) headers['content-length'] = String(body.length);
  const head = `${request.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

function headerValue(head: string, name: string): string | undefined {
  const match = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r\\n]*)`, 'i').exec(head);
  return match?.[1]?.trim();
}

interface Connection {
  socket: Socket;
  buffer: Buffer;
  /** Scheduled time of the request in flight on it; undefined when idle. */
  scheduledAt: number | undefined;
  sentAt: number;
  /** Whether the request in flight is not the socket's first. */
  reused: boolean;
  /** The request in flight, to send again as is if a reused socket was closed under it. */
  bytes: Buffer;
}

/** One response parsed off `buffer`, or undefined when it is not complete yet. */
function parseResponse(buffer: Buffer, tallyHeader: string | undefined, okBody: boolean): { status: number; body: string | undefined; header: string | undefined; length: number; close: boolean } | undefined {
  const headEnd = buffer.indexOf(HEADER_END);
  if (headEnd === -1) return undefined;
  const head = buffer.toString('latin1', 0, headEnd);
  const status = Number(head.slice(9, 12));
  const bodyStart = headEnd + 4;
  let bodyEnd: number;
  const contentLength = headerValue(head, 'content-length');
  if (contentLength !== undefined) {
    bodyEnd = bodyStart + Number(contentLength);
    if (buffer.length < bodyEnd) return undefined;
  } else if (/chunked/i.test(headerValue(head, 'transfer-encoding') ?? '')) {
    const end = buffer.indexOf(CHUNKED_END, bodyStart - 2);
    if (end === -1) return undefined;
    bodyEnd = end + CHUNKED_END.length;
  } else {
    bodyEnd = bodyStart; // 204/304 or a body we do not frame: treat as empty
  }
  const ok = status >= 200 && status < 300;
  return {
    status,
    body: ok && !okBody ? undefined : buffer.toString('utf8', bodyStart, bodyEnd),
    header: tallyHeader ? headerValue(head, tallyHeader) : undefined,
    length: bodyEnd,
    close: /close/i.test(headerValue(head, 'connection') ?? ''),
  };
}

export function runOpenLoop(spec: StreamSpec, load: OpenLoad, defaults: LoadDefaults, signal: AbortSignal, timeoutMs: number): Promise<StreamResult> {
  const rate = load.ratePerSec;
  if (!(rate > 0)) return Promise.reject(new Error(`open-loop rate must be > 0, got ${rate}`));
  const durationS = load.durationS ?? defaults.durationS;
  const total = Math.max(1, Math.round(rate * durationS));
  const intervalMs = 1000 / rate;
  const maxConnections = load.maxConnections ?? Math.min(MAX_CONNECTIONS, Math.max(MIN_CONNECTIONS, Math.ceil(rate * CONNECTION_SECONDS)));
  const url = new URL(spec.request.url);
  const port = Number(url.port || 80);
  // One prebuilt request, unless each must differ (perRequestHeaders).
  const prebuilt = spec.request.perRequestHeaders ? undefined : requestBytes(spec.request, url);
  const nextBytes = (): Buffer => prebuilt ?? requestBytes(spec.request, url);
  const onOk = spec.onOk;
  const tallyHeader = spec.tally?.header;
  const log = new AnswerLog(spec.expected, spec.tally);
  const lateUs = newLatencyHistogram();
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  /** Scheduled times of requests waiting for a socket. */
  const waiting: number[] = [];
  let waitingHead = 0;
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let timeouts = 0;
  let lastAnswerAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  const start = performance.now();

  return new Promise<StreamResult>((resolve, reject) => {
    let settled = false;
    const cleanup = (): void => {
      clearTimeout(timer);
      clearInterval(sweeper);
      for (const c of all) c.socket.destroy();
      all.clear();
      signal.removeEventListener('abort', onAbort);
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      const scheduleS = (total * intervalMs) / 1000;
      resolve({
        requests: completed,
        durationS: Math.max((lastAnswerAt - start) / 1000, scheduleS),
        ok: log.ok,
        refused: log.refused,
        errors,
        timeouts,
        non2xx: log.non2xx,
        statusCounts: log.statusCounts,
        offeredPerSec: sent / scheduleS,
        generatorLagP99Ms: lateUs.count > 0 ? histogramPercentileMs(lateUs, 99) : 0,
        ...(log.tally ? { tally: log.tally } : {}),
        okLatencyUs: log.okLatencyUs,
        refusedLatencyUs: log.refusedLatencyUs,
      });
    };
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(signal.reason);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });

    const maybeDone = (): void => {
      if (sent >= total && completed + errors >= total) finish();
    };

    const send = (c: Connection, scheduledAt: number): void => {
      c.reused = c.scheduledAt === undefined;
      c.scheduledAt = scheduledAt;
      c.sentAt = performance.now();
      c.bytes = nextBytes();
      c.socket.write(c.bytes);
    };

    /** A socket is free: give it the oldest waiting request, or park it. */
    const release = (c: Connection): void => {
      if (waitingHead < waiting.length) {
        send(c, waiting[waitingHead++] as number);
        if (waitingHead > 1024 && waitingHead * 2 > waiting.length) {
          waiting.splice(0, waitingHead);
          waitingHead = 0;
        }
      } else {
        idle.push(c);
      }
    };

    const fail = (c: Connection, reason: string): void => {
      if (!all.delete(c)) return;
      const i = idle.indexOf(c);
      if (i !== -1) idle.splice(i, 1);
      c.socket.destroy();
      const scheduledAt = c.scheduledAt;
      c.scheduledAt = undefined;
      if (scheduledAt !== undefined) {
        if (c.reused && c.buffer.length === 0 && reason !== 'timeout') {
          // A kept-alive socket the server closed as we reused it (its idle
          // timeout): no byte of the answer came back, so send the request
          // again on a fresh socket, as HTTP clients do for idempotent requests.
          open(scheduledAt, c.bytes);
          return;
        }
        errors++;
        if (reason === 'timeout') timeouts++;
        log.recordError(reason);
      }
      // Requests still waiting get a new socket.
      if (waitingHead < waiting.length && all.size < maxConnections) open(waiting[waitingHead++] as number);
      maybeDone();
    };
    const errorCode = (error: unknown): string => (error as { code?: string }).code ?? 'error';

    const open = (scheduledAt: number, bytes?: Buffer): void => {
      const socket = connect({ host: url.hostname, port, noDelay: true });
      const c: Connection = { socket, buffer: Buffer.alloc(0), scheduledAt, sentAt: performance.now(), reused: false, bytes: bytes ?? nextBytes() };
      all.add(c);
      socket.once('connect', () => {
        if (c.scheduledAt === undefined) return;
        c.sentAt = performance.now();
        socket.write(c.bytes);
      });
      socket.on('data', (chunk: Buffer) => {
        c.buffer = c.buffer.length === 0 ? chunk : Buffer.concat([c.buffer, chunk]);
        const response = parseResponse(c.buffer, tallyHeader, onOk !== undefined);
        if (!response || c.scheduledAt === undefined) return;
        const now = performance.now();
        lastAnswerAt = now;
        completed++;
        const ok = response.status >= 200 && response.status < 300;
        log.record(response.status, now - c.scheduledAt, ok ? undefined : response.body, response.header);
        if (ok && onOk) onOk(response.body ?? '');
        c.scheduledAt = undefined;
        c.buffer = c.buffer.subarray(response.length);
        if (response.close) {
          all.delete(c);
          socket.destroy();
          if (waitingHead < waiting.length) open(waiting[waitingHead++] as number);
        } else {
          release(c);
        }
        maybeDone();
      });
      socket.on('error', (error) => fail(c, errorCode(error)));
      socket.on('close', () => fail(c, 'closed by the server'));
    };

    const fire = (scheduledAt: number): void => {
      const c = idle.pop();
      if (c) send(c, scheduledAt);
      else if (all.size < maxConnections) open(scheduledAt);
      else waiting.push(scheduledAt);
    };

    sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of all) if (c.scheduledAt !== undefined && now - c.scheduledAt > timeoutMs) fail(c, 'timeout');
      // Requests still waiting for a socket past their time are given up too, unsent.
      while (waitingHead < waiting.length && now - (waiting[waitingHead] as number) > timeoutMs) {
        waitingHead++;
        errors++;
        timeouts++;
        log.recordError('timeout');
      }
      maybeDone();
    }, SWEEP_MS);

    const tick = (): void => {
      if (settled) return;
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      while (sent < due) {
        const scheduledAt = start + sent * intervalMs;
        lateUs.record(Math.max(1, Math.round((now - scheduledAt) * 1000)));
        sent++;
        fire(scheduledAt);
      }
      if (sent < total) timer = setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
      else maybeDone();
    };
    tick();
  });
}
