// A seller's webhook endpoint for the benchmark, run as a child of the
// harness on loopback: `node loadtests/bench/webhook-receiver.ts <port>
// <secret>`. Every POST is a delivery: it is checked as a seller would check
// it (Standard Webhooks signature and timestamp, with the standardwebhooks
// library and the subscription's secret), noted with the time its body had
// fully arrived, and answered 200 with an empty body.
//
//   GET /stats              {"received": n, "badSignature": n, "unreadable": n, "receipts": n}
//   GET /receipts?from=<i>  {"receipts": [[key, atUs], ...], "next": i'}: the
//                           deliveries from the i-th on; key = the order id in
//                           the payload (data.order_id), atUs = CLOCK_MONOTONIC
//                           in µs (process.hrtime: the harness's clock too)
//   GET /healthz            200

import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.argv[2]);
const secret = process.argv[3];
if (!Number.isInteger(port) || port <= 0 || !secret) {
  console.error('usage: node loadtests/bench/webhook-receiver.ts <port> <whsec_ secret>');
  process.exit(2);
}

const verifier = new Webhook(secret);
const receipts: [key: string, atUs: number][] = [];
const stats = { received: 0, badSignature: 0, unreadable: 0 };

function header(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

const server = createServer((request, response) => {
  const [path, query = ''] = (request.url ?? '').split('?', 2);
  if (request.method === 'GET' && path === '/healthz') {
    response.end('ok');
    return;
  }
  if (request.method === 'GET' && path === '/stats') {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ ...stats, receipts: receipts.length }));
    return;
  }
  if (request.method === 'GET' && path === '/receipts') {
    const from = Math.max(0, Number(new URLSearchParams(query).get('from')) || 0);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ receipts: receipts.slice(from), next: receipts.length }));
    return;
  }
  if (request.method !== 'POST') {
    response.statusCode = 404;
    response.end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const atUs = Number(process.hrtime.bigint() / 1000n);
    const body = Buffer.concat(chunks).toString('utf8');
    stats.received++;
    let payload: { data?: { order_id?: unknown } };
    try {
      payload = verifier.verify(body, {
        'webhook-id': header(request.headers['webhook-id']),
        'webhook-timestamp': header(request.headers['webhook-timestamp']),
        'webhook-signature': header(request.headers['webhook-signature']),
      }) as typeof payload;
    } catch {
      // Answered 200 all the same: a refusal would only make the sender retry what the run counts as not delivered.
      stats.badSignature++;
      response.end();
      return;
    }
    const key = payload.data?.order_id;
    if (typeof key === 'string') receipts.push([key, atUs]);
    else stats.unreadable++;
    response.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
