// Refresh-ahead sends real requests through the dashboard's own route
// (app.inject), as the gateway's internal operator: the refresh is counted as
// such, the MES is asked by the route's handler, the requests stay out of the
// RED metrics, and `Cache-Control: no-cache` from anyone else (an operator,
// here) is served from the cache like any request: only the gateway itself
// can make the cache go to the MES.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startStack, type Stack } from '../helpers/stack.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DASHBOARD = 'GET /mes/dashboard/orders';

async function metric(stack: Stack, pattern: RegExp): Promise<number> {
  const text = (await request(stack.url).get('/metrics')).text;
  return [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('refresh-ahead through the gateway’s own route', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      orderCount: 500,
      mutateConfig: (doc) => {
        // Refreshed every 800 ms (80 % of a 1 s fresh TTL).
        doc.pipelines.operatorDashboard.policies[1].cache.action.freshSec = 1;
      },
    });
  });
  after(() => stack.close());

  it('keeps the configured pages warm: refreshed outcomes counted, the MES asked by the route, no RED metrics for them', async () => {
    // Five pages a round: wait for two rounds (a busy machine may take longer than 1.6 s).
    const refreshedCount = () => metric(stack, /^facet_cache_requests_total\{route="GET \/internal\/v1\/dashboard\/orders",outcome="refreshed"\} (\d+)$/gm);
    for (let i = 0; i < 100 && (await refreshedCount()) < 10; i++) await sleep(100);
    const refreshed = await refreshedCount();
    assert.ok(refreshed >= 10, `refreshed ${refreshed}`);
    assert.ok(stack.mes.requests.get(DASHBOARD) >= 10, `MES dashboard queries ${stack.mes.requests.get(DASHBOARD)}`);
    // No operator has asked yet: the RED histogram has not seen the route.
    assert.equal(await metric(stack, /^facet_http_request_duration_seconds_count\{route="\/internal\/v1\/dashboard\/orders"[^}]*\} (\d+)$/gm), 0);
    const res = await request(stack.url).get('/internal/v1/dashboard/orders').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
    assert.match(res.headers['cache-status'] ?? '', /^facet; hit/);
    assert.equal(await metric(stack, /^facet_http_request_duration_seconds_count\{route="\/internal\/v1\/dashboard\/orders"[^}]*\} (\d+)$/gm), 1);
  });

  it('an operator’s Cache-Control: no-cache is answered from the cache, without asking the MES', async () => {
    // A page refresh-ahead does not keep warm, filled once by this operator.
    const url = '/internal/v1/dashboard/orders?status=SHIPPED&limit=7';
    const auth = { Authorization: `Bearer ${stack.operatorToken}` };
    await request(stack.url).get(url).set(auth).expect(200);
    const again = await request(stack.url).get(url).set(auth).set('Cache-Control', 'no-cache').expect(200);
    // A refresh would have fetched and stored the page, and sent no Cache-Status.
    assert.match(again.headers['cache-status'] ?? '', /^facet; hit/);
  });
});
