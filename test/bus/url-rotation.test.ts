// AMQP_URL with several nodes (a broker cluster): the connection manager
// connects to one, and on a failed attempt or a lost connection moves to the
// next, in turn, with the same backoff; participants are attached again
// there. A fake amqplib connect stands in for the brokers.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { parseAmqpUrls, RabbitConnection, redactAmqpUrl, type Participant } from '../../platform/bus/rabbit-connection.ts';
import { Topology, QUORUM_GROUP_SIZE_ARG } from '../../platform/bus/topology.ts';
import { waitFor } from './helpers.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

class FakeModel extends EventEmitter {
  readonly declared: { queue: string; args: Record<string, unknown> }[] = [];
  readonly url: string;
  private readonly refuseGroupSizeFor: Set<string>;
  constructor(url: string, refuseGroupSizeFor = new Set<string>()) {
    super();
    this.url = url;
    this.refuseGroupSizeFor = refuseGroupSizeFor;
  }
  async createChannel() {
    const declared = this.declared;
    const refuse = this.refuseGroupSizeFor;
    const ch = new EventEmitter() as EventEmitter & Record<string, unknown>;
    Object.assign(ch, {
      async assertExchange() {},
      async assertQueue(queue: string, options: { arguments: Record<string, unknown> }) {
        if (refuse.has(queue) && QUORUM_GROUP_SIZE_ARG in options.arguments) {
          throw new Error(`Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg '${QUORUM_GROUP_SIZE_ARG}' for queue '${queue}'"`);
        }
        declared.push({ queue, args: options.arguments });
      },
      async bindQueue() {},
      async close() {},
    });
    return ch;
  }
  async close() {
    this.emit('close');
  }
  /** The broker node going away. */
  drop() {
    this.emit('close', new Error('CONNECTION_FORCED - broker forced connection closure with reason shutdown'));
  }
}

function fakeBrokers(up: Set<string>, refuseGroupSizeFor?: Set<string>) {
  const attempts: string[] = [];
  const models: FakeModel[] = [];
  const connect = async (url: string): Promise<ChannelModel> => {
    attempts.push(redactAmqpUrl(url));
    if (!up.has(redactAmqpUrl(url))) throw new Error(`connect ECONNREFUSED ${url}`);
    const model = new FakeModel(url, refuseGroupSizeFor);
    models.push(model);
    return model as unknown as ChannelModel;
  };
  return { attempts, models, connect };
}

const URLS = 'amqp://u:p@r1:5672,amqp://u:p@r2:5673, amqp://u:p@r3:5674';

describe('AMQP_URL with several nodes', () => {
  it('parses a comma-separated list; one URL stays one; junk is refused without showing credentials', () => {
    assert.deepEqual(parseAmqpUrls('amqp://guest:guest@127.0.0.1:5672'), ['amqp://guest:guest@127.0.0.1:5672']);
    assert.deepEqual(parseAmqpUrls(URLS), ['amqp://u:p@r1:5672', 'amqp://u:p@r2:5673', 'amqp://u:p@r3:5674']);
    assert.throws(() => parseAmqpUrls(' , '), /names no URL/);
    assert.throws(() => parseAmqpUrls('amqp://u:p@r1:5672,http://u:secret@r2'), (e: Error) => /not amqp/.test(e.message) && !e.message.includes('secret'));
  });

  it('connects to the first node that answers, in order, and on a lost connection moves to the next, resuming participants there', async () => {
    const up = new Set(['amqp://r2:5673', 'amqp://r3:5674']);
    const brokers = fakeBrokers(up);
    const attached: string[] = [];
    const participant: Participant = {
      async attach(model) {
        attached.push((model as unknown as FakeModel).url);
      },
      detach() {},
    };
    const connection = new RabbitConnection({ url: URLS, topology: new Topology({ prefix: 'rot' }), logger: silent, minDelayMs: 5, maxDelayMs: 20, connect: brokers.connect });
    connection.register(participant, false);
    connection.start();
    try {
      await waitFor(() => connection.connected, 5_000, 'connected');
      assert.deepEqual(brokers.attempts, ['amqp://r1:5672', 'amqp://r2:5673'], 'r1 refused, r2 taken');
      assert.equal(connection.endpoint, 'amqp://r2:5673');
      await waitFor(() => attached.length === 1, 5_000, 'participant attached');

      // r2 goes away: the next node is r3, not r2 again.
      up.delete('amqp://r2:5673');
      brokers.models.at(-1)!.drop();
      assert.equal(connection.connected, false);
      await waitFor(() => connection.connected, 5_000, 'reconnected');
      assert.equal(connection.endpoint, 'amqp://r3:5674');
      assert.deepEqual(brokers.attempts.slice(2), ['amqp://r3:5674']);
      await waitFor(() => attached.length === 2, 5_000, 'participant attached again');
      assert.match(attached[1]!, /r3:5674/);

      // r3 goes too, r1 is back: the rotation wraps round (r1), skipping nothing.
      up.delete('amqp://r3:5674');
      up.add('amqp://r1:5672');
      brokers.models.at(-1)!.drop();
      await waitFor(() => connection.connected, 5_000, 'reconnected again');
      assert.equal(connection.endpoint, 'amqp://r1:5672');
      assert.deepEqual(brokers.attempts.slice(3), ['amqp://r1:5672']);
    } finally {
      await connection.close();
    }
  });

  it('keeps cycling through every node with backoff while none answers', async () => {
    const up = new Set<string>();
    const brokers = fakeBrokers(up);
    const connection = new RabbitConnection({ url: URLS, topology: new Topology({ prefix: 'rot' }), logger: silent, minDelayMs: 5, maxDelayMs: 10, connect: brokers.connect });
    connection.start();
    try {
      await waitFor(() => brokers.attempts.length >= 7, 5_000, 'seven attempts');
      assert.deepEqual(brokers.attempts.slice(0, 7), ['amqp://r1:5672', 'amqp://r2:5673', 'amqp://r3:5674', 'amqp://r1:5672', 'amqp://r2:5673', 'amqp://r3:5674', 'amqp://r1:5672']);
      up.add('amqp://r3:5674');
      await waitFor(() => connection.connected, 5_000, 'connected once r3 is up');
      assert.equal(connection.endpoint, 'amqp://r3:5674');
    } finally {
      await connection.close();
    }
  });

  it('a quorum group size is declared on new queues; a queue placed otherwise is asserted without it (idempotent from any node)', async () => {
    const topology = new Topology({ prefix: 'grp', quorumGroupSize: 3 });
    const fresh = fakeBrokers(new Set(['amqp://r1:5672']));
    const c1 = new RabbitConnection({ url: 'amqp://u:p@r1:5672', topology, logger: silent, minDelayMs: 5, connect: fresh.connect });
    c1.start();
    await waitFor(() => c1.connected, 5_000, 'connected');
    await c1.close();
    const dead = fresh.models[0]!.declared.filter((d) => d.queue === 'grp.dead');
    assert.ok(dead.length > 0 && dead.every((d) => d.args[QUORUM_GROUP_SIZE_ARG] === 3), JSON.stringify(dead));

    // The parking queue already exists without the size (declared before AMQP_QUORUM_GROUP_SIZE was set).
    const later = new Topology({ prefix: 'grp', quorumGroupSize: 3 });
    const existing = fakeBrokers(new Set(['amqp://r1:5672']), new Set(['grp.dead']));
    const c2 = new RabbitConnection({ url: 'amqp://u:p@r1:5672', topology: later, logger: silent, minDelayMs: 5, connect: existing.connect });
    c2.start();
    await waitFor(() => c2.connected, 5_000, 'connected despite the existing queue');
    await c2.close();
    const again = existing.models[0]!.declared.filter((d) => d.queue === 'grp.dead');
    assert.ok(again.length > 0 && again.every((d) => !(QUORUM_GROUP_SIZE_ARG in d.args) && d.args['x-queue-type'] === 'quorum'), JSON.stringify(again));
    assert.equal(later.consumerQueueArguments('grp.other')[QUORUM_GROUP_SIZE_ARG], 3, 'other queues still get the size');

    // Unset: the broker's default, no argument at all (as before).
    assert.equal(QUORUM_GROUP_SIZE_ARG in new Topology({ prefix: 'grp' }).consumerQueueArguments('grp.x'), false);
  });

  it('on a cluster the delay queues are quorum queues (a classic one lives on one node); one node keeps the classic ones', () => {
    const single = new Topology({ prefix: 'dl' });
    assert.equal(single.delayQueue(500), 'dl.retry.500ms');
    assert.deepEqual(single.delayQueueArguments(500), { 'x-queue-type': 'classic', 'x-message-ttl': 500, 'x-dead-letter-exchange': '' });
    const clustered = new Topology({ prefix: 'dl', replicatedDelays: true, quorumGroupSize: 3 });
    assert.equal(clustered.delayTarget(500), 'dl.retry.500ms', 'the same exchange');
    assert.equal(clustered.delayQueue(500), 'dl.retry.500ms.quorum');
    assert.deepEqual(clustered.delayQueueArguments(500), {
      'x-queue-type': 'quorum',
      [QUORUM_GROUP_SIZE_ARG]: 3,
      'x-message-ttl': 500,
      'x-dead-letter-exchange': '',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  });
});
