// Operator tokens name their holder and end: jwt-auth refuses a token
// without `sub` or `exp` (401 problem+json), and one whose lifetime passes
// maxLifetimeSeconds (12 h by default); a take records the token's `sub`;
// an SSE stream ends when the token that opened it expires (`event:
// expired`, then the response closes). Before: a token without `exp` read
// the dashboard, one without `sub` took orders as "unknown", streams
// outlived their token.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import request from 'supertest';
import { claimProblem } from '../../policies/jwt-auth/index.ts';
import { DEMO_JWT_SECRET, demoOperatorToken } from '../../entries/demo.ts';
import { assertProblem, startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts';
import { SseClient } from '../notify/sse-client.ts';

const KEY = new TextEncoder().encode(TEST_JWT_SECRET);
const nowSec = (): number => Math.floor(Date.now() / 1000);

/** A token with exactly these claims (iat and exp as given, none added). */
function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(KEY);
}

describe('operator tokens: sub and exp required, lifetime bounded, streams end with the token', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ orderCount: 50 });
    // Stands in for the MES adapter: take commands are routed and confirmed.
    await stack.gateway.services.bus.consume({ queue: 'test.tokens.takes', bindings: [{ exchange: 'commands', pattern: 'order.take' }] }, async () => 'ack');
  });
  after(() => stack.close());

  const dashboard = (bearer: string) => request(stack.url).get('/internal/v1/dashboard/orders?limit=1').set('Authorization', `Bearer ${bearer}`);
  const anOrder = (skip = 0): string => {
    const order = stack.mes.store.orders.page({ limit: 50 }).items.filter((o) => o.operator_id === null && stack.crm.store.getOrder(o.order_id))[skip];
    assert.ok(order, 'a seeded order nobody has taken');
    return order.order_id;
  };

  it('a token without exp is refused: 401 problem+json naming exp', async () => {
    const res = await dashboard(await token({ role: 'operator', sub: 'op_1', iat: nowSec() }));
    assertProblem(res, 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    assert.match(res.body.detail, /exp/);
    assert.match(res.headers['www-authenticate'] ?? '', /invalid_token/);
  });

  it('a token without sub is refused, on the dashboard and on a take (never taken as "unknown")', async () => {
    const noSub = await token({ role: 'operator', iat: nowSec(), exp: nowSec() + 300 });
    const refused = await dashboard(noSub);
    assertProblem(refused, 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    assert.match(refused.body.detail, /sub/);
    const take = await request(stack.url).post(`/internal/v1/orders/${anOrder()}/take`).set('Authorization', `Bearer ${noSub}`).send({});
    assertProblem(take, 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    const empty = await token({ role: 'operator', sub: '', iat: nowSec(), exp: nowSec() + 300 });
    assertProblem(await dashboard(empty), 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
  });

  it('a token that lives longer than 12 h is refused, whether it has iat or not; 12 h itself is admitted', async () => {
    const now = nowSec();
    assertProblem(await dashboard(await token({ role: 'operator', sub: 'op_1', iat: now, exp: now + 13 * 3600 })), 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    assertProblem(await dashboard(await token({ role: 'operator', sub: 'op_1', exp: now + 13 * 3600 })), 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    // Issued a year ago, valid for another hour: its lifetime is what counts.
    assertProblem(await dashboard(await token({ role: 'operator', sub: 'op_1', iat: now - 365 * 86_400, exp: now + 3600 })), 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    const res = await dashboard(await token({ role: 'operator', sub: 'op_1', iat: now, exp: now + 12 * 3600 }));
    assert.equal(res.status, 200, res.text);
  });

  it('the limit is the config\'s (maxLifetimeSeconds); the claim check names what is wrong', () => {
    const action = { maxLifetimeSeconds: 600, clockToleranceSec: 5 };
    assert.equal(claimProblem({ sub: 'op', iat: 1000, exp: 1600 }, action, 1000), undefined);
    assert.match(claimProblem({ sub: 'op', iat: 1000, exp: 1700 }, action, 1000) ?? '', /600/);
    assert.match(claimProblem({ sub: 'op', exp: 1700 }, action, 1000) ?? '', /600/);
    assert.equal(claimProblem({ sub: 'op', exp: 1700 }, action, 1200), undefined);
    assert.match(claimProblem({ iat: 1000, exp: 1100 }, action, 1000) ?? '', /sub/);
    assert.match(claimProblem({ sub: 'op', iat: 1000 }, action, 1000) ?? '', /exp/);
    assert.match(claimProblem({ sub: 7, iat: 1000, exp: 1100 }, action, 1000) ?? '', /sub/);
  });

  it('a take records the token\'s sub as the operator', async () => {
    const bearer = await token({ role: 'operator', sub: 'op_alice', iat: nowSec(), exp: nowSec() + 300 });
    const res = await request(stack.url).post(`/internal/v1/orders/${anOrder(1)}/take`).set('Authorization', `Bearer ${bearer}`).send({}).expect(202);
    assert.equal(res.body.operator_id, 'op_alice');
  });

  it('an SSE stream ends when its token expires: event expired, then the response closes', async () => {
    const bearer = await token({ role: 'operator', sub: 'op_brief', iat: nowSec(), exp: nowSec() + 2 });
    const stream = await SseClient.open(`${stack.url}/internal/v1/orders/stream`, { authorization: `Bearer ${bearer}` });
    try {
      await stream.waitFor((c) => c.ended, 30_000, 'the stream to end with its token');
      const expired = stream.events.find((e) => e.event === 'expired');
      assert.ok(expired, `an expired event before the end; got ${JSON.stringify(stream.events)}`);
      assert.match(JSON.parse(expired.data).detail, /expired/);
    } finally {
      stream.close();
    }
    // A long-lived token's stream stays open meanwhile.
    const lasting = await SseClient.open(`${stack.url}/internal/v1/orders/stream`, { authorization: `Bearer ${stack.operatorToken}` });
    try {
      await lasting.waitFor((c) => c.comments.includes('connected'), 10_000, 'connected');
      assert.equal(lasting.ended, false);
    } finally {
      lasting.close();
    }
  });

  it('npm start\'s demo token names its operator and ends within the limit, and is admitted', async () => {
    const demo = decodeJwt(await demoOperatorToken(DEMO_JWT_SECRET));
    assert.equal(typeof demo.sub, 'string');
    assert.equal(typeof demo.exp, 'number');
    assert.ok((demo.exp as number) - (demo.iat as number) <= 12 * 3600);
    assert.equal((await dashboard(stack.operatorToken)).status, 200);
  });
});

describe('operator tokens: the lifetime limit comes from the config', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      orderCount: 20,
      mutateConfig(doc) {
        for (const step of doc.pipelines.operatorDashboard.policies) if (step['jwt-auth']) step['jwt-auth'].action.maxLifetimeSeconds = 600;
      },
    });
  });
  after(() => stack.close());

  it('maxLifetimeSeconds: 600 refuses a one-hour token and admits a ten-minute one', async () => {
    const now = nowSec();
    const page = (bearer: string) => request(stack.url).get('/internal/v1/dashboard/orders?limit=1').set('Authorization', `Bearer ${bearer}`);
    const long = await page(await token({ role: 'operator', sub: 'op_1', iat: now, exp: now + 3600 }));
    assertProblem(long, 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    assert.match(long.body.detail, /600/);
    assert.equal((await page(await token({ role: 'operator', sub: 'op_1', iat: now, exp: now + 600 }))).status, 200);
  });
});
