// SSRF protection of webhook URLs, at registration (the gateway) and at
// delivery (the sender and its connect-time lookup). Nothing here sends to
// any address but loopback: refused addresses are refused before a socket
// is opened.
//
//   npx node --import tsx --test test/notify/ssrf.test.ts

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { Agent, request as undiciRequest } from 'undici';
import { WebhookSender } from '../../adapters/webhooks/sender.ts';
import { checkWebhookUrl, guardedLookup, refusalOf, urlPolicyFromEnv, type UrlPolicy } from '../../platform/webhooks/url-guard.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const STRICT: UrlPolicy = { requireHttps: false, allowLoopback: false };
const TESTING: UrlPolicy = { requireHttps: false, allowLoopback: true };
const PRODUCTION: UrlPolicy = { requireHttps: true, allowLoopback: false };

describe('webhook URL guard (SSRF)', () => {
  let receiver: Server;
  let port = 0;
  let hits = 0;
  let stack: Stack;

  before(async () => {
    receiver = createServer((_req, res) => {
      hits++;
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const address = receiver.address();
    port = typeof address === 'object' && address ? address.port : 0;
    stack = await startStack({ webhookPolicy: STRICT });
  });
  after(async () => {
    await stack.close();
    await new Promise((r) => receiver.close(r));
  });

  const refusedEverywhere = ['http://10.0.0.1/hook', 'http://169.254.169.254/latest/meta-data/', 'http://[fd00::1]/', 'http://100.64.0.1/', 'http://0.0.0.0/', 'http://224.0.0.1/', 'http://192.168.1.10/', 'http://172.16.0.1/', 'http://[::ffff:10.0.0.1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[fe80::1]/'];
  const loopback = () => [`http://127.0.0.1:${port}/hook`, `http://[::1]:${port}/hook`, `http://localhost:${port}/hook`, `http://[::ffff:127.0.0.1]:${port}/hook`, `http://127.1.2.3:${port}/`];

  it('refuses private, link-local (metadata), CGNAT, unique-local, multicast, unspecified and mapped addresses, also with the loopback flag', async () => {
    for (const url of refusedEverywhere) {
      for (const policy of [STRICT, TESTING]) {
        const result = await checkWebhookUrl(url, policy);
        assert.equal(result.ok, false, `${url} allowed`);
      }
    }
  });

  it('refuses loopback (literal, ::1, a name resolving to it, IPv4-mapped) unless the test flag is set', async () => {
    for (const url of loopback()) {
      assert.equal((await checkWebhookUrl(url, STRICT)).ok, false, `${url} allowed without the flag`);
      assert.equal((await checkWebhookUrl(url, TESTING)).ok, true, `${url} refused with the flag`);
    }
  });

  it('https only in production; no credentials; public addresses pass', async () => {
    assert.equal((await checkWebhookUrl('http://93.184.216.34/hook', PRODUCTION)).ok, false);
    assert.equal((await checkWebhookUrl('https://93.184.216.34/hook', PRODUCTION)).ok, true);
    assert.equal((await checkWebhookUrl('https://u:p@93.184.216.34/hook', PRODUCTION)).ok, false);
    assert.equal(refusalOf('2606:4700::1111', STRICT), undefined);
    assert.ok(refusalOf('2002:7f00:0001::1', STRICT), '6to4 of 127.0.0.1');
    assert.ok(refusalOf('64:ff9b::a9fe:a9fe', STRICT), 'NAT64 of the metadata address');
  });

  it('WEBHOOKS_ALLOW_LOOPBACK=1 with NODE_ENV=production is a start-up error', () => {
    assert.throws(() => urlPolicyFromEnv({ NODE_ENV: 'production', WEBHOOKS_ALLOW_LOOPBACK: '1' }), /refused when NODE_ENV=production/);
    assert.deepEqual(urlPolicyFromEnv({ NODE_ENV: 'production' }), PRODUCTION);
    assert.deepEqual(urlPolicyFromEnv({ WEBHOOKS_ALLOW_LOOPBACK: '1' }), TESTING);
  });

  it('demo hosts (npm start): accepted without resolving, delivered to their loopback receiver; never in production, never to another address', async () => {
    const demo = urlPolicyFromEnv({ WEBHOOKS_DEMO_HOSTS: `hooks.lumen-jewels.example=http://127.0.0.1:${port}` });
    assert.deepEqual(demo.demoHosts, { 'hooks.lumen-jewels.example': `http://127.0.0.1:${port}` });
    const check = await checkWebhookUrl('https://hooks.lumen-jewels.example/facet?x=1', demo);
    assert.ok(check.ok);
    assert.equal(check.url.href, 'https://hooks.lumen-jewels.example/facet?x=1', 'the seller sees the URL it registered');
    assert.equal(check.deliverTo?.href, `http://127.0.0.1:${port}/facet?x=1`);
    // Other hosts are resolved and checked as ever; loopback itself stays refused.
    assert.equal((await checkWebhookUrl('https://other.lumen-jewels.example/facet', demo)).ok, false);
    assert.equal((await checkWebhookUrl(`http://127.0.0.1:${port}/facet`, demo)).ok, false);
    assert.throws(() => urlPolicyFromEnv({ NODE_ENV: 'production', WEBHOOKS_DEMO_HOSTS: 'hooks.lumen-jewels.example=http://127.0.0.1:8093' }), /refused when NODE_ENV=production/);
    for (const bad of ['hooks.example=http://10.0.0.1:80', 'hooks.example=https://127.0.0.1:8093', 'hooks.example=http://example.com', '=http://127.0.0.1:1', 'hooks.example']) {
      assert.throws(() => urlPolicyFromEnv({ WEBHOOKS_DEMO_HOSTS: bad }), /WEBHOOKS_DEMO_HOSTS/, bad);
    }
    // The sender delivers a demo host's webhook to its receiver.
    const sender = new WebhookSender(demo);
    try {
      const before = hits;
      const result = await sender.send('https://hooks.lumen-jewels.example/facet', 'msg_demo0001', '{}', ['whsec_' + Buffer.alloc(24).toString('base64')]);
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.equal(hits, before + 1);
    } finally {
      await sender.close();
    }
  });

  it('registration: 422 for 127.0.0.1, 10.0.0.1, 169.254.169.254, [::1] and localhost without the flag', async () => {
    for (const url of [`http://127.0.0.1:${port}/hook`, 'http://10.0.0.1/hook', 'http://169.254.169.254/latest/meta-data/', `http://[::1]:${port}/hook`, `http://localhost:${port}/hook`]) {
      const res = await request(stack.url).post('/v1/webhooks').set('X-API-Key', 'demo-pro-key').send({ url });
      const problem = assertProblem(res, 422, 'FACET_ERR_WEBHOOK_URL_REFUSED');
      assert.equal(problem.errors[0].field, 'body.url');
    }
  });

  it('delivery: the sender refuses the same addresses again, before any connection', async () => {
    const sender = new WebhookSender(STRICT, { connectTimeoutMs: 300, responseTimeoutMs: 500, maxResponseBytes: 64 });
    try {
      const before = hits;
      for (const url of [...loopback(), 'http://10.0.0.1/hook', 'http://169.254.169.254/latest/meta-data/']) {
        const result = await sender.send(url, 'msg_test', '{}', ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']);
        assert.equal(result.ok, false);
        assert.match(result.error ?? '', /^refused/, url);
      }
      assert.equal(hits, before, 'the receiver was never reached');
    } finally {
      await sender.close();
    }
  });

  it('connect-time guard: a name is resolved and checked by the connector itself (no DNS rebinding window)', async () => {
    const agent = new Agent({ connect: { lookup: guardedLookup(STRICT) } });
    const before = hits;
    try {
      await assert.rejects(undiciRequest(`http://localhost:${port}/hook`, { dispatcher: agent }), (error: Error & { cause?: { code?: string } }) => {
        assert.equal(error.cause?.code ?? (error as { code?: string }).code, 'FACET_WEBHOOK_ADDRESS_REFUSED');
        return true;
      });
      assert.equal(hits, before);
      // With the flag the same name connects (to the checked loopback address).
      const allowed = new Agent({ connect: { lookup: guardedLookup(TESTING) } });
      const res = await undiciRequest(`http://localhost:${port}/hook`, { dispatcher: allowed });
      await res.body.text();
      assert.equal(res.statusCode, 200);
      await allowed.close();
    } finally {
      await agent.close();
    }
  });
});
