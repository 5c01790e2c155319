// The HTTP server of the harness's sink children (otlp-sink.ts,
// webhook-receiver.ts): on 127.0.0.1, GET /healthz answers 200, GET /stats
// the child's counts as JSON, and every other request goes to the child's
// handler once its body has fully arrived. Keep-alive like a real
// collector or endpoint; stops on SIGTERM (from the harness, or its orphan
// guard), closing the connections its clients keep open.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SinkRequest {
  method: string;
  /** The path without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** The port from argv[2], or exits with `usage`. */
export function portArgument(usage: string): number {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return port;
}

export function serveSink(port: number, stats: () => unknown, handle: (request: SinkRequest, response: ServerResponse) => void): void {
  const server = createServer((request, response) => {
    const [path = '', query = ''] = (request.url ?? '').split('?', 2);
    const method = request.method ?? 'GET';
    if (method === 'GET' && path === '/healthz') {
      response.end('ok');
      return;
    }
    if (method === 'GET' && path === '/stats') {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(stats()));
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handle({ method, path, query: new URLSearchParams(query), headers: request.headers, body: Buffer.concat(chunks) }, response));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
