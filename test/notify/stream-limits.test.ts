// The operators' live stream holds a socket and a buffer for as long as it
// is open, so its number is bounded: per operator (the token's `sub`) on a
// replica, and per replica. A refusal is a problem+json with Retry-After,
// and a closed stream gives its slot back.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { demoOperatorToken } from '../../entries/demo.ts';
import { assertProblem, startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts';
import { SseClient } from './sse-client.ts';

const PER_OPERATOR = 2;
const PER_REPLICA = 3;

describe('operators’ live stream: open streams are bounded', () => {
  let stack: Stack;
  const bearer = async (subject: string) => ({ authorization: `Bearer ${await demoOperatorToken(TEST_JWT_SECRET, '1h', subject)}` });
  const open = (headers: Record<string, string>) => SseClient.open(`${stack.url}/internal/v1/orders/stream`, headers);
  const openStreams = () => stack.gateway.services.feed.clientCount;

  before(async () => {
    stack = await startStack({
      mutateConfig: (doc) => {
        doc.notifications = { stream: { maxStreamsPerOperator: PER_OPERATOR, maxStreams: PER_REPLICA } };
      },
    });
  });
  after(() => stack.close());

  /** Until the gateway has seen `n` streams close (a socket's close reaches it a little later). */
  async function streamsDownTo(n: number): Promise<void> {
    for (let i = 0; i < 200 && openStreams() > n; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(openStreams(), n);
  }

  it('answers 429 FACET_ERR_STREAM_LIMIT to an operator past its share, not to another operator, and frees a slot when a stream closes', async () => {
    const alice = await bearer('op_alice');
    const streams = [await open(alice), await open(alice)];
    try {
      const refused = await request(stack.url).get('/internal/v1/orders/stream').set(alice).set('accept', 'text/event-stream');
      const body = assertProblem(refused, 429, 'FACET_ERR_STREAM_LIMIT');
      assert.equal(refused.headers['retry-after'], '5');
      assert.match(String(body.detail), /already holds as many open streams/);
      assert.equal(openStreams(), PER_OPERATOR, 'the refused request holds nothing');

      const bob = await open(await bearer('op_bob'));
      streams.push(bob);
      assert.equal(openStreams(), 3);

      streams.shift()?.close();
      await streamsDownTo(2);
      streams.push(await open(alice));
      assert.equal(openStreams(), 3, 'the closed stream gave its slot back');
    } finally {
      for (const s of streams) s.close();
      await streamsDownTo(0);
    }
  });

  it('answers 503 FACET_ERR_STREAMS_FULL with Retry-After once the replica serves maxStreams', async () => {
    const streams = [await open(await bearer('op_1')), await open(await bearer('op_2')), await open(await bearer('op_3'))];
    try {
      const refused = await request(stack.url).get('/internal/v1/orders/stream').set(await bearer('op_4')).set('accept', 'text/event-stream');
      assertProblem(refused, 503, 'FACET_ERR_STREAMS_FULL');
      assert.equal(refused.headers['retry-after'], '2');
      assert.equal(openStreams(), PER_REPLICA);
    } finally {
      for (const s of streams) s.close();
      await streamsDownTo(0);
    }
    const again = await open(await bearer('op_4'));
    again.close();
  });

  it('still validates before counting: a bad Last-Event-ID is a 400 even for an operator at its limit', async () => {
    const carol = await bearer('op_carol');
    const streams = [await open(carol), await open(carol)];
    try {
      const bad = await request(stack.url).get('/internal/v1/orders/stream').set(carol).set('last-event-id', 'not-an-id');
      assertProblem(bad, 400, 'FACET_ERR_VALIDATION');
    } finally {
      for (const s of streams) s.close();
      await streamsDownTo(0);
    }
  });
});
