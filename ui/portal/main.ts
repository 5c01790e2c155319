// The seller portal: a seller's plan and limits, usage per quota window as
// meters, recent orders, webhook subscriptions with their recent deliveries
// and a replay button. Talks only to the public seller API with the seller's
// key (this tab's sessionStorage; `#key=` fills it), like any client: each
// look counts towards the seller's usage.

import '../lib/base.css';
import './portal.css';
import type { components } from '../../openapi/generated/seller-api.ts';
import { callApi, describeError } from '../lib/api.ts';
import { byId, fill, h, when } from '../lib/dom.ts';
import { TabSecret, takeFromFragment } from '../lib/fragment.ts';

type Usage = components['schemas']['Usage'];
type OrderList = components['schemas']['OrderList'];
type WebhookList = components['schemas']['WebhookList'];
type Webhook = components['schemas']['Webhook'];
type WebhookDeliveryList = components['schemas']['WebhookDeliveryList'];
type WebhookDelivery = components['schemas']['WebhookDelivery'];

const RECENT_ORDERS = 10;
const RECENT_DELIVERIES = 5;
const keyStore = new TabSecret('facet.portal.key');

const el = {
  keyForm: byId<HTMLFormElement>('key-form'),
  key: byId<HTMLInputElement>('key'),
  refresh: byId<HTMLButtonElement>('refresh'),
  forget: byId<HTMLButtonElement>('key-forget'),
  message: byId('message'),
  announce: byId('announce'),
  plan: byId('plan'),
  orders: byId('orders'),
  webhooks: byId('webhooks'),
};

const headers = () => ({ 'x-api-key': keyStore.get() ?? '' });

function showMessage(text: string | undefined): void {
  el.message.hidden = text === undefined;
  fill(el.message, text ?? '');
}

const WINDOW_WORDS: Record<string, string> = { rate: 'Per second', burst: 'Burst', daily: 'Per day' };

function windowLength(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  return `${seconds} s`;
}

function megabytes(bytes: number): string {
  return `${Math.round(bytes / 1_048_576)} MiB`;
}

function renderUsage(usage: Usage): void {
  const meters = usage.windows.map((window) => {
    const id = `meter-${window.name}`;
    return h(
      'div',
      { class: 'meter', 'data-window': window.name },
      h('div', { class: 'meter-label' }, h('label', { for: id }, `${WINDOW_WORDS[window.name] ?? window.name} (window ${windowLength(window.window_seconds)})`), h('span', { 'data-used': '' }, `${window.used} of ${window.limit} used`)),
      h('meter', { id, min: 0, max: Math.max(1, window.limit), value: window.used, low: window.limit * 0.7, high: window.limit * 0.9, optimum: 0 }, `${window.used} of ${window.limit}`),
      h('p', { class: 'note' }, `${window.remaining} left${window.reset_seconds > 0 ? `, resets in ${window.reset_seconds} s` : ''}`),
    );
  });
  const facts = h(
    'dl',
    { class: 'facts' },
    h('div', {}, h('dt', {}, 'Seller'), h('dd', { 'data-seller': '' }, usage.seller_id)),
    h('div', {}, h('dt', {}, 'Plan'), h('dd', { 'data-plan': '' }, usage.plan)),
    h('div', {}, h('dt', {}, 'Price jobs at once'), h('dd', {}, String(usage.concurrent_price_jobs.limit))),
    h('div', {}, h('dt', {}, 'Largest upload'), h('dd', {}, megabytes(usage.upload_max_bytes))),
  );
  fill(el.plan, facts, h('div', { class: 'meters' }, ...meters));
}

function renderOrders(list: OrderList): void {
  if (list.items.length === 0) {
    fill(el.orders, h('p', { class: 'note' }, 'No orders yet.'));
    return;
  }
  const rows = list.items.map((order) =>
    h(
      'tr',
      { 'data-order-id': order.id },
      h('td', { 'data-label': 'Order' }, h('code', {}, order.id)),
      h('td', { 'data-label': 'Status' }, h('span', { class: 'status' }, order.status)),
      h('td', { class: 'optional', 'data-label': 'Made of' }, `${order.parameters.material}, ${order.parameters.finish}`),
      h('td', { 'data-label': 'Price' }, order.price ? `${(order.price.amount_minor / 100).toFixed(2)} ${order.price.currency}` : '—'),
      h('td', { 'data-label': 'Created' }, when(order.created_at)),
      h('td', { class: 'optional', 'data-label': 'Updated' }, when(order.updated_at)),
    ),
  );
  fill(
    el.orders,
    h(
      'table',
      { class: 'cards' },
      h('caption', { class: 'visually-hidden' }, `Your ${RECENT_ORDERS} most recent orders`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Order'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col', class: 'optional' }, 'Made of'), h('th', { scope: 'col' }, 'Price'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col', class: 'optional' }, 'Updated'))),
      h('tbody', {}, ...rows),
    ),
  );
}

function attemptCodes(delivery: WebhookDelivery): HTMLElement {
  const codes = delivery.attempts.map((attempt) => {
    const ok = attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300;
    return h('span', { class: ok ? 'code-ok' : 'code-bad', title: attempt.error ?? `${attempt.duration_ms} ms at ${when(attempt.at)}` }, attempt.status_code === null ? 'no answer' : String(attempt.status_code));
  });
  const cell = h('span', {});
  codes.forEach((code, index) => {
    if (index > 0) cell.append(' → ');
    cell.append(code);
  });
  return cell;
}

async function replay(webhook: Webhook, delivery: WebhookDelivery, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await callApi(`/v1/webhooks/${encodeURIComponent(webhook.id)}/deliveries/${encodeURIComponent(delivery.id)}/replay`, { method: 'POST', headers: headers() });
    fill(el.announce, `Replay of ${delivery.id} requested.`);
    button.replaceChildren('Replay requested', h('span', { class: 'visually-hidden' }, ` delivery ${delivery.id}`));
    // The new attempt shows once the sender has made it: look again a few times until it does.
    for (let look = 0; look < 8; look++) {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const now = await callApi<WebhookDeliveryList>(`/v1/webhooks/${encodeURIComponent(webhook.id)}/deliveries?limit=${RECENT_DELIVERIES}`, { headers: headers() });
      const again = now.body.items.find((d) => d.id === delivery.id);
      if (again && again.attempts.length > delivery.attempts.length) break;
    }
    await loadWebhooks();
  } catch (error) {
    showMessage(`Could not replay ${delivery.id}: ${describeError(error)}`);
    button.disabled = false;
  }
}

function renderDeliveries(webhook: Webhook, list: WebhookDeliveryList): HTMLElement {
  const recent = list.items.slice(0, RECENT_DELIVERIES);
  if (recent.length === 0) return h('p', { class: 'note' }, 'No deliveries yet.');
  const rows = recent.map((delivery) => {
    const button = h('button', { type: 'button', class: 'secondary' }, 'Replay', h('span', { class: 'visually-hidden' }, ` delivery ${delivery.id}`));
    button.addEventListener('click', () => void replay(webhook, delivery, button));
    return h(
      'tr',
      { 'data-delivery-id': delivery.id },
      h('td', { 'data-label': 'Event' }, delivery.event_type),
      h('td', { 'data-label': 'Status' }, h('span', { class: 'status', 'data-delivery-status': delivery.status }, delivery.status)),
      h('td', { 'data-attempts': String(delivery.attempts.length), 'data-label': 'Attempts' }, `${delivery.attempts.length}`),
      h('td', { 'data-label': 'Answers' }, attemptCodes(delivery)),
      h('td', { class: 'optional', 'data-label': 'Last' }, when(delivery.updated_at)),
      h('td', { class: 'action' }, button),
    );
  });
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'cards' },
      h('caption', { class: 'visually-hidden' }, `Recent deliveries to ${webhook.url}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Attempts'), h('th', { scope: 'col' }, 'Answers'), h('th', { scope: 'col', class: 'optional' }, 'Last'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Action')))),
      h('tbody', {}, ...rows),
    ),
  );
}

async function loadWebhooks(): Promise<void> {
  const { body } = await callApi<WebhookList>('/v1/webhooks', { headers: headers() });
  if (body.items.length === 0) {
    fill(el.webhooks, h('p', { class: 'note' }, 'No webhook subscriptions. Create one with POST /v1/webhooks (see the API reference).'));
    return;
  }
  const blocks = await Promise.all(
    body.items.map(async (webhook) => {
      const deliveries = await callApi<WebhookDeliveryList>(`/v1/webhooks/${encodeURIComponent(webhook.id)}/deliveries?limit=${RECENT_DELIVERIES}`, { headers: headers() });
      return h(
        'div',
        { class: 'webhook', 'data-webhook-id': webhook.id },
        h('h3', {}, webhook.url),
        h('p', { class: 'note' }, `${webhook.event_types.join(', ')} · since ${when(webhook.created_at)}${webhook.description ? ` · ${webhook.description}` : ''}`),
        renderDeliveries(webhook, deliveries.body),
      );
    }),
  );
  fill(el.webhooks, ...blocks);
}

async function loadAccount(): Promise<void> {
  if (!keyStore.get()) return;
  showMessage(undefined);
  try {
    // One after another: a free plan allows only a few requests per second.
    renderUsage((await callApi<Usage>('/v1/usage', { headers: headers() })).body);
    renderOrders((await callApi<OrderList>(`/v1/orders?limit=${RECENT_ORDERS}`, { headers: headers() })).body);
    await loadWebhooks();
    fill(el.announce, 'Account loaded.');
  } catch (error) {
    showMessage(describeError(error));
  }
}

function useKey(value: string): void {
  keyStore.set(value);
  el.key.value = value;
  void loadAccount();
}

function start(): void {
  el.keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = el.key.value.trim();
    if (value) useKey(value);
  });
  el.refresh.addEventListener('click', () => void loadAccount());
  el.forget.addEventListener('click', () => {
    keyStore.clear();
    el.key.value = '';
    fill(el.plan, h('p', { class: 'note' }, 'Enter your key to see your plan.'));
    el.orders.replaceChildren();
    el.webhooks.replaceChildren();
  });
  const initial = takeFromFragment('key') ?? keyStore.get();
  if (initial) useKey(initial);
}

start();
