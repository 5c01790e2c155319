// The operators' console: the dashboard's first page at once (the gateway's
// cached answer), filters and cursor paging, live updates from the SSE
// stream applied in place, taking an order, and a plain word when the page
// shows a stale copy. Talks only to the internal API, with the operator's
// token (this tab's sessionStorage; `#token=` fills it).

import '../lib/base.css';
import './console.css';
import { ORDER_STATUSES } from '../../contracts/orders.ts';
import type { OrderStatusChangedEvent, OrderTakenEvent, OrderTakeRefusedEvent } from '../../contracts/messages.ts';
import type { components } from '../../openapi/generated/internal-api.ts';
import { ApiError, callApi, describeError, subjectOf } from '../lib/api.ts';
import { ageText, byId, fill, h, when } from '../lib/dom.ts';
import { EventStreamClient, type StreamEvent, type StreamState } from '../lib/event-stream.ts';
import { TabSecret, takeFromFragment } from '../lib/fragment.ts';

type DashboardOrderList = components['schemas']['DashboardOrderList'];
/** A row: the dashboard's order, or what a live event tells of one (no seller name, material, finish yet). */
type DashboardOrder = Omit<components['schemas']['DashboardOrder'], 'seller_id' | 'seller_name' | 'model_id' | 'material' | 'finish'> & {
  seller_id: string | null;
  seller_name: string | null;
  model_id: string | null;
  material: string | null;
  finish: string | null;
};

const PAGE_SIZE = 25;
const tokenStore = new TabSecret('facet.console.token');

interface Filters {
  status: string;
  seller: string;
  /** yyyy-mm-dd from the date inputs, local days. */
  from: string;
  to: string;
}

const board = {
  filters: { status: '', seller: '', from: '', to: '' } as Filters,
  rows: new Map<string, HTMLTableRowElement>(),
  orders: new Map<string, DashboardOrder>(),
  cursor: null as string | null,
  /** Where the shown page came from: stale copies say how old they are. */
  staleness: undefined as { kind: 'stale-if-error' | 'stale-while-revalidate'; ageSec: number; receivedAt: number } | undefined,
};

const el = {
  tokenForm: byId<HTMLFormElement>('token-form'),
  token: byId<HTMLInputElement>('token'),
  forget: byId<HTMLButtonElement>('token-forget'),
  whoami: byId('whoami'),
  connection: byId('connection'),
  filters: byId<HTMLFormElement>('filters'),
  status: byId<HTMLSelectElement>('f-status'),
  seller: byId<HTMLInputElement>('f-seller'),
  from: byId<HTMLInputElement>('f-from'),
  to: byId<HTMLInputElement>('f-to'),
  stale: byId('stale'),
  gap: byId('gap'),
  message: byId('message'),
  takeResult: byId('take-result'),
  orders: byId<HTMLTableSectionElement>('orders'),
  note: byId('board-note'),
  more: byId<HTMLButtonElement>('more'),
};

const token = () => tokenStore.get() ?? '';
const me = () => subjectOf(token());
const auth = () => ({ authorization: `Bearer ${token()}` });

function showMessage(text: string | undefined): void {
  el.message.hidden = text === undefined;
  fill(el.message, text ?? '');
}

// ---- filters -------------------------------------------------------------

function dayStart(day: string): string | undefined {
  if (day === '') return undefined;
  const date = new Date(`${day}T00:00:00`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function dayAfter(day: string): string | undefined {
  const start = dayStart(day);
  return start === undefined ? undefined : new Date(Date.parse(start) + 86_400_000).toISOString();
}

function dashboardQuery(cursor?: string): string {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  const { status, seller, from, to } = board.filters;
  if (status) query.append('status', status);
  if (seller) query.set('seller_id', seller);
  const createdFrom = dayStart(from);
  const createdTo = dayAfter(to); // "to" is a whole day: up to its end
  if (createdFrom) query.set('created_from', createdFrom);
  if (createdTo) query.set('created_to', createdTo);
  if (cursor) query.set('cursor', cursor);
  return `/internal/v1/dashboard/orders?${query}`;
}

/** Whether a live order belongs on the board as filtered. */
function matches(order: { status: string; seller_id: string | null; created_at?: string }): boolean {
  const { status, seller, from, to } = board.filters;
  if (status && order.status !== status) return false;
  if (seller && order.seller_id !== seller) return false;
  if (order.created_at !== undefined) {
    const created = Date.parse(order.created_at);
    const start = dayStart(from);
    const end = dayAfter(to);
    if (start && created < Date.parse(start)) return false;
    if (end && created >= Date.parse(end)) return false;
  }
  return true;
}

// ---- the board -----------------------------------------------------------

function operatorCell(order: DashboardOrder): string {
  if (!order.operator_id) return '—';
  return order.operator_id === me() ? `${order.operator_id} (you)` : order.operator_id;
}

function renderRow(order: DashboardOrder, fresh = false): HTMLTableRowElement {
  const takenByMe = order.operator_id !== null && order.operator_id === me();
  // Never disabled: the gateway decides, and a conflict is said in words.
  const take = h('button', { type: 'button', class: 'secondary', 'data-take': order.order_id }, takenByMe ? 'Yours' : 'Take', h('span', { class: 'visually-hidden' }, ` order ${order.order_id}`));
  take.addEventListener('click', () => void takeOrder(order.order_id));
  const seller = order.seller_name ? h('span', {}, order.seller_name, h('span', { class: 'sub' }, order.seller_id)) : (order.seller_id ?? '—');
  return h(
    'tr',
    { 'data-order-id': order.order_id, class: fresh ? 'fresh' : null },
    h('td', { 'data-label': 'Order' }, h('code', {}, order.order_id)),
    h('td', { class: 'wrap', 'data-label': 'Seller' }, seller),
    h('td', { 'data-label': 'Status' }, h('span', { class: 'status', 'data-status': order.status }, order.status)),
    h('td', { class: 'optional', 'data-label': 'Material' }, order.material ?? '—'),
    h('td', { class: 'optional', 'data-label': 'Finish' }, order.finish ?? '—'),
    h('td', { 'data-label': 'Created' }, when(order.created_at)),
    h('td', { class: 'optional', 'data-label': 'Updated' }, when(order.updated_at)),
    h('td', { 'data-operator': '', 'data-label': 'Operator' }, operatorCell(order)),
    h('td', { class: 'action' }, take),
  );
}

function put(order: DashboardOrder, where: 'top' | 'bottom' | 'in-place', fresh = false): void {
  board.orders.set(order.order_id, order);
  const row = renderRow(order, fresh);
  const existing = board.rows.get(order.order_id);
  board.rows.set(order.order_id, row);
  if (existing && where === 'in-place') existing.replaceWith(row);
  else {
    existing?.remove();
    if (where === 'top') el.orders.prepend(row);
    else el.orders.append(row);
  }
}

function drop(orderId: string): void {
  board.rows.get(orderId)?.remove();
  board.rows.delete(orderId);
  board.orders.delete(orderId);
}

function updateNote(): void {
  const count = board.rows.size;
  fill(el.note, count === 0 ? 'No orders match these filters.' : `${count} order${count === 1 ? '' : 's'} shown.`);
  el.more.hidden = board.cursor === null;
}

function renderStale(): void {
  const s = board.staleness;
  el.stale.hidden = s === undefined;
  if (!s) return;
  const age = ageText(s.ageSec + (Date.now() - s.receivedAt) / 1000);
  el.stale.classList.toggle('info', s.kind === 'stale-while-revalidate');
  el.stale.classList.toggle('warn', s.kind === 'stale-if-error');
  fill(
    el.stale,
    s.kind === 'stale-if-error'
      ? `Stale: the MES is not answering, so this board is a saved copy from ${age} ago. Live updates still arrive; press Apply to try again.`
      : `This board was saved ${age} ago; a newer one is being fetched (press Apply to see it).`,
  );
}

function readStaleness(headers: Headers): void {
  const status = headers.get('cache-status') ?? '';
  const detail = /detail=(stale-if-error|stale-while-revalidate)/.exec(status)?.[1] as 'stale-if-error' | 'stale-while-revalidate' | undefined;
  board.staleness = detail ? { kind: detail, ageSec: Number(headers.get('age')) || 0, receivedAt: Date.now() } : undefined;
  renderStale();
}

async function loadFirstPage(): Promise<void> {
  if (!token()) return;
  showMessage(undefined);
  el.gap.hidden = true;
  fill(el.note, 'Loading…');
  try {
    const answer = await callApi<DashboardOrderList>(dashboardQuery(), { headers: auth() });
    el.orders.replaceChildren();
    board.rows.clear();
    board.orders.clear();
    for (const order of answer.body.items) put(order, 'bottom');
    board.cursor = answer.body.next_cursor;
    readStaleness(answer.headers);
  } catch (error) {
    showMessage(describeError(error));
  }
  updateNote();
}

async function loadMore(): Promise<void> {
  if (!board.cursor) return;
  el.more.disabled = true;
  try {
    const answer = await callApi<DashboardOrderList>(dashboardQuery(board.cursor), { headers: auth() });
    for (const order of answer.body.items) if (!board.rows.has(order.order_id)) put(order, 'bottom');
    board.cursor = answer.body.next_cursor;
  } catch (error) {
    showMessage(describeError(error));
  } finally {
    el.more.disabled = false;
  }
  updateNote();
}

// ---- taking an order ---------------------------------------------------------

function announce(text: string): void {
  fill(el.takeResult, text);
}

async function takeOrder(orderId: string): Promise<void> {
  // Read the row after the answer: live events may have changed it meanwhile.
  const current = () => board.orders.get(orderId);
  try {
    await callApi(`/internal/v1/orders/${encodeURIComponent(orderId)}/take`, { method: 'POST', headers: auth() });
    const order = current();
    if (order) put({ ...order, operator_id: me() ?? 'you' }, 'in-place');
    board.rows.get(orderId)?.querySelector('button')?.focus();
    showMessage(undefined);
    announce(`You took order ${orderId}.`);
  } catch (error) {
    if (error instanceof ApiError && error.problem.status === 409) {
      // Someone else holds it: say so, and show it as taken.
      const order = current();
      if (order) put({ ...order, operator_id: order.operator_id ?? 'another operator' }, 'in-place');
      const text = `Order ${orderId} is already taken by another operator.`;
      showMessage(text);
      announce(text);
    } else {
      showMessage(`Could not take order ${orderId}: ${describeError(error)}`);
    }
    board.rows.get(orderId)?.querySelector('button')?.focus();
  }
}

// ---- live updates ---------------------------------------------------------

const STATE_WORDS: Record<StreamState, string> = {
  connecting: 'Live updates: connecting…',
  live: 'Live updates: connected',
  reconnecting: 'Live updates: reconnecting…',
  stopped: 'Live updates: not connected',
};

function showState(state: StreamState, detail?: string): void {
  el.connection.className = `pill ${state}`;
  el.connection.dataset.state = state;
  fill(el.connection, STATE_WORDS[state]);
  if (state === 'stopped' && detail) showMessage(detail);
}

function onEvent(event: StreamEvent): void {
  let data: unknown;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  if (event.type === 'order.created' || event.type === 'order.status_changed') {
    const change = data as OrderStatusChangedEvent;
    const known = board.orders.get(change.order_id);
    if (known) {
      const updated = { ...known, status: change.status, updated_at: change.at };
      if (matches(updated)) put(updated, 'in-place', true);
      else drop(change.order_id);
    } else if (event.type === 'order.created' || board.filters.status !== '') {
      // New, or newly in the filtered status: its first line on the board.
      const order: DashboardOrder = {
        order_id: change.order_id,
        seller_id: change.seller_id,
        seller_name: null,
        status: change.status,
        // A status change does not say when the order was created: shown as unknown.
        created_at: event.type === 'order.created' ? change.at : '',
        updated_at: change.at,
        model_id: null,
        material: null,
        finish: null,
        operator_id: null,
      };
      // Without a creation time (a status change) only status and seller decide.
      if (matches({ status: order.status, seller_id: order.seller_id, ...(order.created_at !== '' && { created_at: order.created_at }) })) put(order, 'top', true);
    }
    updateNote();
  } else if (event.type === 'order.taken') {
    const taken = data as OrderTakenEvent;
    const known = board.orders.get(taken.order_id);
    if (known) put({ ...known, operator_id: taken.operator_id }, 'in-place', true);
  } else if (event.type === 'order.take_refused') {
    const refused = data as OrderTakeRefusedEvent;
    if (refused.operator_id === me()) {
      showMessage(refused.reason === 'taken' ? `The MES refused your take of ${refused.order_id}: another operator holds it.` : `The MES does not know order ${refused.order_id}.`);
      const known = board.orders.get(refused.order_id);
      if (known) put({ ...known, operator_id: refused.holder }, 'in-place');
    }
  } else if (event.type === 'gap') {
    el.gap.hidden = false;
    const reload = h('button', { type: 'button', class: 'secondary' }, 'Reload the board');
    reload.addEventListener('click', () => void loadFirstPage());
    fill(el.gap, 'Some live updates were missed while disconnected. ', reload);
  }
}

const stream = new EventStreamClient({
  url: () => '/internal/v1/orders/stream',
  headers: auth,
  onEvent,
  onState: showState,
});

// ---- wiring ---------------------------------------------------------------

function showIdentity(): void {
  const subject = me();
  fill(el.whoami, token() ? `Signed in as operator ${subject ?? '(token without a sub)'}. The token stays in this tab.` : 'No token yet. `npm start` prints a link that fills it in.');
}

function useToken(value: string): void {
  tokenStore.set(value);
  el.token.value = value;
  showIdentity();
  stream.restart();
  void loadFirstPage();
}

function readFilters(): void {
  board.filters = { status: el.status.value, seller: el.seller.value.trim(), from: el.from.value, to: el.to.value };
}

function start(): void {
  for (const status of ORDER_STATUSES) el.status.append(h('option', { value: status }, status));
  el.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = el.token.value.trim();
    if (value) useToken(value);
  });
  el.forget.addEventListener('click', () => {
    tokenStore.clear();
    el.token.value = '';
    stream.stop();
    el.orders.replaceChildren();
    board.rows.clear();
    board.orders.clear();
    showIdentity();
    updateNote();
  });
  el.filters.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!el.filters.reportValidity()) return;
    readFilters();
    void loadFirstPage();
  });
  el.filters.addEventListener('reset', () => {
    setTimeout(() => {
      readFilters();
      void loadFirstPage();
    });
  });
  el.more.addEventListener('click', () => void loadMore());
  setInterval(renderStale, 1_000);

  const fromFragment = takeFromFragment('token');
  const initial = fromFragment ?? tokenStore.get();
  if (initial) useToken(initial);
  else showIdentity();
}

start();
