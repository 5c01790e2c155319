// The seller's webhook endpoint (webhook-receiver.ts) as a child of the
// harness on a free loopback port, and the harness's side of it: the URL to
// subscribe, and the endpoint's counts and receipts read back over HTTP.

import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';
import { waitReady } from './processes.ts';
import type { ProcessGroup } from './processes.ts';
import { REPO_ROOT } from './repo-root.ts';
import { HOST } from './service-launcher.ts';
import type { Service } from './service-launcher.ts';

export interface WebhookReceiverStats {
  /** POSTs received. */
  received: number;
  /** Of those, refused by the Standard Webhooks check (signature, timestamp). */
  badSignature: number;
  /** Signed, but without data.order_id. */
  unreadable: number;
  /** Deliveries noted (signed, with an order id): the index the next one gets in receipts(). */
  receipts: number;
}

export interface WebhookReceiver extends Service {
  /** The URL to subscribe. */
  readonly hookUrl: string;
  stats(): Promise<WebhookReceiverStats>;
  /** The deliveries from the `from`-th on: [order id, receipt time in monotonic µs], and the index to ask from next. */
  receipts(from: number): Promise<{ receipts: [string, number][]; next: number }>;
}

/** A seller's endpoint (webhook-receiver.ts) as a child: checks each delivery's signature with `secret`, notes when it arrived, answers 200. */
export async function startWebhookReceiver(group: ProcessGroup, secret: string): Promise<WebhookReceiver> {
  const port = await freePort();
  const handle = group.spawn({ name: 'webhook-receiver', script: fileURLToPath(new URL('./webhook-receiver.ts', import.meta.url)), args: [String(port), secret], env: {}, cwd: REPO_ROOT });
  const url = `http://${HOST}:${port}`;
  await waitReady(handle, `${url}/healthz`);
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`webhook receiver: GET ${path} answered ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    name: 'webhook-receiver',
    url,
    process: handle,
    hookUrl: `${url}/hook`,
    stats: () => get<WebhookReceiverStats>('/stats'),
    receipts: (from) => get<{ receipts: [string, number][]; next: number }>(`/receipts?from=${from}`),
  };
}
