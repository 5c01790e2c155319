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

import { Webhook } from 'standardwebhooks';
import { portArgument, serveSink } from './sink-server.ts';

const usage = 'node loadtests/bench/webhook-receiver.ts <port> <whsec_ secret>';
const port = portArgument(usage);
const secret = process.argv[3];
if (!secret) {
  console.error(`usage: ${usage}`);
  process.exit(2);
}

const verifier = new Webhook(secret);
const receipts: [key: string, atUs: number][] = [];
const stats = { received: 0, badSignature: 0, unreadable: 0 };

function header(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

serveSink(
  port,
  () => ({ ...stats, receipts: receipts.length }),
  ({ method, path, query, headers, body }, response) => {
    // The time the delivery's body had fully arrived.
    const atUs = Number(process.hrtime.bigint() / 1000n);
    if (method === 'GET' && path === '/receipts') {
      const from = Math.max(0, Number(query.get('from')) || 0);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ receipts: receipts.slice(from), next: receipts.length }));
      return;
    }
    if (method !== 'POST') {
      response.statusCode = 404;
      response.end();
      return;
    }
    stats.received++;
    let payload: { data?: { order_id?: unknown } };
    try {
      payload = verifier.verify(body.toString('utf8'), {
        'webhook-id': header(headers['webhook-id']),
        'webhook-timestamp': header(headers['webhook-timestamp']),
        'webhook-signature': header(headers['webhook-signature']),
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
  },
);
