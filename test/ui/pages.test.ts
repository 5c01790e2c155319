// The operators' console, the seller portal and the docs portal in a real
// browser (the system Chromium through playwright-core), against the whole
// of `npm start` in this process (test/ui/stack.ts): what an operator and a
// seller see and do, live updates, conflicts, a stale page said in words,
// the stream resuming, webhook deliveries replayed; no console errors, no
// failed requests, nothing fetched from another host, no serious axe-core
// violations. One browser for the file.
//
//   TEST_REDIS_URL=redis://127.0.0.1:6394 npx node --import tsx --test test/ui/pages.test.ts
//   UPDATE_SCREENSHOTS=1 … also writes docs/img/console.png and docs/img/portal.png

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshot, seriousViolations, type Browser } from './browser.ts';
import { startPagesStack, type PagesStack } from './stack.ts';

// The functions given to page.evaluate / waitForFunction run in the browser; this
// file is type-checked with Node's types, so the little of the DOM they use is declared here.
interface DomElement {
  getAttribute(name: string): string | null;
  textContent: string | null;
}
declare const document: { querySelector(selector: string): DomElement | null; querySelectorAll(selector: string): ArrayLike<DomElement> & Iterable<DomElement>; documentElement: { scrollWidth: number; clientWidth: number } };
declare const sessionStorage: { getItem(key: string): string | null };
declare const localStorage: { length: number };

const PRO_KEY = 'demo-pro-key'; // slr_0002, plan standard
const WAIT = { timeout: 20_000 };
/** What crosses the broker and the adapters (a delivery, its retry, a replay): a busy machine can take long. */
const PIPELINE_WAIT = { timeout: 60_000 };

describe('the pages, in a browser', () => {
  let stack: PagesStack;
  let browser: Browser;
  let alice: Page;
  let aliceToken = '';
  let placed = '';

  before(async () => {
    stack = await startPagesStack({
      mutateConfig: (doc) => {
        // A dashboard page is stale after 1 s (not 10), so the MES outage below shows a stale page at once.
        const cache = doc.pipelines.operatorDashboard.policies.find((p: Record<string, unknown>) => 'cache' in p).cache.action;
        Object.assign(cache, { freshSec: 1, staleWhileRevalidateSec: 0 });
      },
    });
    browser = await launchBrowser();
    aliceToken = await stack.operatorToken('op_alice');
  });
  afterEach(() => {
    assert.deepEqual(browser.problems.splice(0), [], 'no console errors, failed requests or foreign hosts');
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** Chromium logs an answer the page expected (a 409, a 401) as "Failed to load resource": not a fault of the page. */
  const expectedAnswer = (status: number) => {
    const kept = browser.problems.filter((p) => !p.includes(`the server responded with a status of ${status}`));
    browser.problems.splice(0, browser.problems.length, ...kept);
  };
  const rows = (page: Page) => page.locator('#orders tr[data-order-id]');
  const row = (page: Page, orderId: string) => page.locator(`#orders tr[data-order-id="${orderId}"]`);

  describe("operators' console", () => {
    it('loads with the token in the fragment, keeps it in this tab only, shows the first page and goes live', async () => {
      alice = await browser.newPage();
      await alice.goto(`${stack.url}/internal/console#token=${aliceToken}`);
      await rows(alice).first().waitFor(WAIT);
      assert.equal(await rows(alice).count(), 25, 'the first page');
      assert.equal(new URL(alice.url()).hash, '', 'the fragment is removed from the address bar');
      assert.equal(await alice.evaluate(() => sessionStorage.getItem('facet.console.token')), aliceToken);
      assert.equal(await alice.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
      await alice.locator('#connection[data-state="live"]').waitFor(WAIT);
      assert.match(await alice.locator('#whoami').innerText(), /op_alice/);
      // 1280×800: the whole board, take buttons included, without sideways scrolling.
      assert.ok(await alice.locator('#board .table-wrap').evaluate((wrap) => wrap.scrollWidth <= wrap.clientWidth), 'the board fits at 1280 px');
      const csp = (await alice.request.get(`${stack.url}/internal/console`)).headers()['content-security-policy'] ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.deepEqual(await seriousViolations(alice), []);
    });

    it('filters by status and pages with the cursor', async () => {
      await alice.selectOption('#f-status', 'CLOSED');
      await alice.click('#filters button[type="submit"]');
      await alice.waitForFunction(() => [...document.querySelectorAll('#orders [data-status]')].every((s) => s.getAttribute('data-status') === 'CLOSED') && document.querySelectorAll('#orders tr').length > 0, undefined, WAIT);
      const first = await rows(alice).count();
      if (await alice.locator('#more').isVisible()) {
        await alice.click('#more');
        await alice.waitForFunction((n) => document.querySelectorAll('#orders tr').length > n, first, WAIT);
      }
      await alice.click('#filters button[type="reset"]');
      await alice.waitForFunction(() => [...document.querySelectorAll('#orders [data-status]')].some((s) => s.getAttribute('data-status') !== 'CLOSED'), undefined, WAIT);
    });

    it('a new order placed through the seller API appears without a reload, and its status moves on', async () => {
      await alice.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
      placed = await stack.placeOrder(PRO_KEY);
      await row(alice, placed).waitFor(WAIT);
      await alice.waitForFunction((id) => document.querySelector(`#orders tr[data-order-id="${id}"] [data-status]`)?.getAttribute('data-status') !== 'SUBMITTED', placed, WAIT);
      assert.equal(await alice.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 42, 'the same page: no reload');
      await screenshot(alice, 'console');
    });

    it('take: the winner sees the order as theirs, a second operator sees the conflict in words', async () => {
      const bob = await browser.newPage();
      await bob.goto(`${stack.url}/internal/console#token=${await stack.operatorToken('op_bob')}`);
      await rows(bob).first().waitFor(WAIT);
      const orderId = (await rows(bob).first().getAttribute('data-order-id')) as string;
      await row(alice, orderId).waitFor(WAIT);

      await row(alice, orderId).getByRole('button', { name: `Take order ${orderId}` }).click();
      await alice.waitForFunction((id) => document.querySelector(`#orders tr[data-order-id="${id}"] [data-operator]`)?.textContent === 'op_alice (you)', orderId, WAIT);
      // The live order.taken may mark the row before the take's own answer arrives: wait for the answer's words.
      await alice.waitForFunction((id) => document.querySelector('#take-result')?.textContent === `You took order ${id}.`, orderId, WAIT);

      // Bob by keyboard: focus the button, press Enter.
      await row(bob, orderId).getByRole('button', { name: `Take order ${orderId}` }).focus();
      await bob.keyboard.press('Enter');
      await bob.locator('#message').waitFor({ state: 'visible', ...WAIT });
      assert.match(await bob.locator('#message').innerText(), new RegExp(`Order ${orderId} is already taken by another operator`));
      // And the live stream tells Bob who holds it.
      await bob.waitForFunction((id) => document.querySelector(`#orders tr[data-order-id="${id}"] [data-operator]`)?.textContent === 'op_alice', orderId, WAIT);
      await bob.close();
      expectedAnswer(409);
    });

    it('the stream resumes with Last-Event-ID after the gateway closes it, and misses nothing', async () => {
      // The page may not reconnect until the new order's events are all in the feed: only the replay can bring them.
      let open = () => {};
      const gate = new Promise<void>((resolve) => (open = resolve));
      const resumedWith: string[] = [];
      await alice.route('**/internal/v1/orders/stream', async (route) => {
        resumedWith.push(route.request().headers()['last-event-id'] ?? '');
        await gate;
        await route.continue();
      });
      stack.gateway.services.feed.endStreams();
      await alice.locator('#connection[data-state="reconnecting"]').waitFor(WAIT);
      const whileAway = await stack.placeOrder(PRO_KEY);
      // The saga has moved it past SUBMITTED: its order.created and a status change are in the feed.
      for (let i = 0; i < 200; i++) {
        const answer = await fetch(`${stack.url}/v1/orders/${whileAway}`, { headers: { 'x-api-key': PRO_KEY } });
        if (answer.status === 200 && ((await answer.json()) as { status: string }).status !== 'SUBMITTED') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await row(alice, whileAway).count(), 0, 'not there before the reconnect');
      open();
      await row(alice, whileAway).waitFor(WAIT);
      await alice.waitForFunction((id) => document.querySelector(`#orders tr[data-order-id="${id}"] [data-status]`)?.getAttribute('data-status') !== 'SUBMITTED', whileAway, WAIT);
      await alice.locator('#connection[data-state="live"]').waitFor(WAIT);
      await alice.unroute('**/internal/v1/orders/stream');
      assert.ok(resumedWith.length >= 1 && resumedWith.every((id) => /^\d+-\d+$/.test(id)), `reconnected with Last-Event-ID: ${JSON.stringify(resumedWith)}`);
    });

    it('is readable on a narrow screen', async () => {
      await alice.setViewportSize({ width: 390, height: 844 });
      const overflow = await alice.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `no sideways scrolling of the page (${overflow}px)`);
      assert.ok(await alice.locator('#orders tr').first().isVisible());
      assert.deepEqual(await seriousViolations(alice), []);
      await alice.setViewportSize({ width: 1280, height: 800 });
    });
  });

  describe('seller portal', () => {
    let receiver: Server;
    let hookUrl = '';
    let failuresLeft = 1;

    before(async () => {
      // The seller's endpoint: the first delivery fails once (500), then everything is accepted.
      receiver = createServer((request, response) => {
        request.resume();
        request.on('end', () => response.writeHead(failuresLeft-- > 0 ? 500 : 204).end());
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const address = receiver.address();
      hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/facet`;
      const created = await fetch(`${stack.url}/v1/webhooks`, { method: 'POST', headers: { 'x-api-key': PRO_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ url: hookUrl, description: 'shop backend' }) });
      assert.equal(created.status, 201);
      await stack.placeOrder(PRO_KEY);
    });
    after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

    it('shows the plan, usage that changes with requests, the orders, and a delivery with its attempts; replay works', async () => {
      const page = await browser.newPage();
      await page.goto(`${stack.url}/portal#key=${PRO_KEY}`);
      await page.locator('[data-plan]').waitFor(WAIT);
      assert.equal(await page.locator('[data-plan]').innerText(), 'standard');
      assert.equal(await page.locator('[data-seller]').innerText(), 'slr_0002');
      assert.equal(new URL(page.url()).hash, '');
      const dailyUsed = async () => Number(/^(\d+)/.exec(await page.locator('[data-window="daily"] [data-used]').innerText())?.[1]);
      const before = await dailyUsed();
      assert.ok(before >= 1);
      await page.locator('#orders tr[data-order-id]').first().waitFor(WAIT);

      // A delivery that failed once and then succeeded: two attempts, 500 then 204.
      let delivery = page.locator('[data-delivery-status="succeeded"]').first();
      for (let i = 0; i < 120 && (await delivery.count()) === 0; i++) {
        await page.click('#refresh');
        await page.waitForTimeout(500);
        delivery = page.locator('[data-delivery-status="succeeded"]').first();
      }
      await delivery.waitFor(PIPELINE_WAIT);
      const deliveryId = (await page.locator('tr[data-delivery-id]', { has: page.locator('[data-delivery-status="succeeded"]') }).first().getAttribute('data-delivery-id')) as string;
      const first = page.locator(`tr[data-delivery-id="${deliveryId}"]`);
      const attempts = Number(await first.locator('[data-attempts]').getAttribute('data-attempts'));
      assert.ok(attempts >= 1);
      // A few requests later (each refresh reads usage, orders, webhooks and deliveries), the meters have moved.
      await page.click('#refresh');
      await page.waitForFunction((n) => Number(/^(\d+)/.exec(document.querySelector('[data-window="daily"] [data-used]')?.textContent ?? '')?.[1]) > n, before, PIPELINE_WAIT);
      assert.ok((await dailyUsed()) >= before + 3, 'usage grows as the portal makes requests');
      await screenshot(page, 'portal');

      await first.getByRole('button', { name: `Replay delivery ${deliveryId}` }).click();
      await page.waitForFunction(
        ({ id, n }) => Number(document.querySelector(`tr[data-delivery-id="${id}"] [data-attempts]`)?.getAttribute('data-attempts')) > n,
        { id: deliveryId, n: attempts },
        { ...PIPELINE_WAIT, polling: 250 },
      );
      assert.match(await page.locator('#announce').innerText(), /Replay of .* requested|Account loaded/);
      assert.deepEqual(await seriousViolations(page), []);
      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `the portal needs no sideways scrolling on a phone (${overflow}px)`);
      await page.close();
    });

    it('a wrong key is said in words, not a blank page', async () => {
      const page = await browser.newPage();
      await page.goto(`${stack.url}/portal#key=not-a-key`);
      await page.locator('#message').waitFor({ state: 'visible', ...WAIT });
      assert.match(await page.locator('#message').innerText(), /key/i);
      await page.close();
      expectedAnswer(401);
    });
  });

  describe('docs portal', () => {
    it("carries Facet's title and logo, without the stock Explore box", async () => {
      const page = await browser.newPage();
      await page.goto(`${stack.url}/docs`);
      await page.locator('.topbar a.link img').waitFor(WAIT);
      assert.equal(await page.title(), 'Facet · Seller API');
      assert.equal(await page.locator('.download-url-wrapper').isVisible(), false, 'no Explore box');
      assert.match((await page.locator('.topbar a.link img').getAttribute('src')) ?? '', /^data:image\/svg\+xml;base64,/);
      assert.ok((await page.locator('link[rel="icon"][href$="facet-logo.svg"]').count()) === 1, 'the favicon too');
      await page.goto(`${stack.url}/internal/docs`);
      await page.locator('.topbar a.link img').waitFor(WAIT);
      assert.equal(await page.title(), 'Facet · Internal API');
      assert.equal(await page.locator('.download-url-wrapper').isVisible(), false);
      await page.close();
    });
  });

  describe('honesty about staleness', () => {
    it('while the MES is down, the console says the board is a stale copy, with its age', async () => {
      await alice.waitForTimeout(1_200); // the cached first page is past its 1 s of freshness
      await stack.mes.faults.set({ down: true });
      try {
        await alice.click('#filters button[type="submit"]');
        await alice.locator('#stale').waitFor({ state: 'visible', ...WAIT });
        assert.match(await alice.locator('#stale').innerText(), /MES is not answering.*saved copy from \d+ s ago/);
        assert.ok((await rows(alice).count()) > 0, 'the rows are still there');
      } finally {
        await stack.mes.faults.reset();
      }
      // The MES is back; its circuit breaker may still be open for a few seconds: ask again until the page is fresh.
      for (let i = 0; i < 40 && (await alice.locator('#stale').isVisible()); i++) {
        await alice.click('#filters button[type="submit"]');
        await alice.waitForTimeout(500);
      }
      await alice.locator('#stale').waitFor({ state: 'hidden', ...WAIT });
    });
  });
});
