// The confirm publisher against a fake channel: the paths a healthy broker
// will not show on demand (lost confirm, nack, full buffer, blocked, a channel
// dying with publishes pending). The real-broker paths are in contract.test.ts
// and rabbit.test.ts.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { beforeEach, describe, it } from 'node:test';
import { isBusTimeout, isBusUnavailable, isBusUnroutable } from '../../platform/bus/errors.ts';
import { Registry } from 'prom-client';
import { BusMetrics } from '../../platform/bus/metrics.ts';
import { RabbitPublisher, type ChannelModelLike, type ConfirmChannelLike } from '../../platform/bus/rabbit-publisher.ts';
import { Topology } from '../../platform/bus/topology.ts';
import { testLogger } from './helpers.ts';

interface Sent {
  exchange: string;
  routingKey: string;
  options: Record<string, unknown> & { headers: Record<string, unknown> };
  confirm(err: Error | null): void;
}

class FakeChannel extends EventEmitter {
  readonly sent: Sent[] = [];
  bufferFull = false;
  closed = false;
  publish(exchange: string, routingKey: string, _content: Buffer, options: Sent['options'], cb: (err: Error | null) => void): boolean {
    this.sent.push({ exchange, routingKey, options, confirm: cb });
    return !this.bufferFull;
  }
  async close(): Promise<void> {
    this.closed = true;
    this.emit('close');
  }
  /** What the broker does for an unroutable mandatory message: basic.return, then basic.ack. */
  returnThenAck(i: number): void {
    const s = this.sent[i] as Sent;
    this.emit('return', { fields: { exchange: s.exchange, routingKey: s.routingKey, replyCode: 312, replyText: 'NO_ROUTE' }, properties: { headers: s.options.headers }, content: Buffer.from('') });
    s.confirm(null);
  }
}

const props = { messageId: 'm-1', type: 't', persistent: true, headers: { traceparent: 'tp' } };

describe('RabbitPublisher (fake confirm channel)', () => {
  let ch: FakeChannel;
  let pub: RabbitPublisher;
  beforeEach(() => {
    ch = new FakeChannel();
    pub = new RabbitPublisher({ topology: new Topology({ prefix: 'unit' }), logger: testLogger, confirmTimeoutMs: 50 });
    pub.use(ch as unknown as ConfirmChannelLike);
  });

  it('rejects at once when there is no channel', async () => {
    const idle = new RabbitPublisher({ topology: new Topology(), logger: testLogger });
    const started = Date.now();
    await assert.rejects(idle.send('x', 'k', Buffer.from('{}'), props), (err) => isBusUnavailable(err));
    assert.ok(Date.now() - started < 20);
  });

  it('resolves only on the ack, publishing mandatory and persistent with id, type, time and headers', async () => {
    let settled = false;
    const p = pub.send('unit.commands', 'order.create', Buffer.from('{}'), props).then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    const opts = ch.sent[0]?.options;
    assert.equal(opts?.mandatory, true);
    assert.equal(opts?.persistent, true);
    assert.equal(opts?.messageId, 'm-1');
    assert.equal(opts?.type, 't');
    assert.equal(opts?.contentType, 'application/json');
    assert.ok(Math.abs((opts?.timestamp as number) - Date.now() / 1000) < 5);
    assert.equal(opts?.headers.traceparent, 'tp');
    ch.sent[0]?.confirm(null);
    await p;
    assert.equal(settled, true);
  });

  it('rejects with BusUnroutableError when the ack follows a basic.return, correlating by tag', async () => {
    const a = pub.send('unit.commands', 'typo.key', Buffer.from('{}'), props);
    const b = pub.send('unit.commands', 'good.key', Buffer.from('{}'), props);
    ch.returnThenAck(0);
    ch.sent[1]?.confirm(null);
    await assert.rejects(a, (err) => isBusUnroutable(err) && err.routingKey === 'typo.key');
    await b;
  });

  it('rejects with BusUnavailableError on a nack (e.g. reject-publish on a full queue)', async () => {
    const p = pub.send('unit.commands', 'k', Buffer.from('{}'), props);
    ch.sent[0]?.confirm(new Error('message nacked'));
    await assert.rejects(p, (err) => isBusUnavailable(err));
  });

  it('times out a confirm that never comes, and ignores it if it comes later', async () => {
    const started = Date.now();
    await assert.rejects(pub.send('unit.commands', 'k', Buffer.from('{}'), props), (err) => isBusTimeout(err));
    assert.ok(Date.now() - started >= 45);
    assert.equal(pub.inFlight, 0);
    ch.sent[0]?.confirm(null); // late: no throw, no double settle
  });

  it('a channel that closes leaves its written publishes with an unknown outcome (they may have arrived), then rejects new ones at once', async () => {
    const pending = [pub.send('e', 'k', Buffer.from('{}'), props), pub.send('e', 'k', Buffer.from('{}'), props)];
    await ch.close();
    for (const p of pending) await assert.rejects(p, (err) => isBusTimeout(err) && /before the broker confirmed/.test(err.message));
    await assert.rejects(pub.send('e', 'k', Buffer.from('{}'), props), (err) => isBusUnavailable(err));
    assert.equal(pub.ready, false);
  });

  it('waits for drain after publish() returned false before writing more', async () => {
    ch.bufferFull = true;
    const first = pub.send('e', 'k1', Buffer.from('{}'), props);
    const second = pub.send('e', 'k2', Buffer.from('{}'), props);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(ch.sent.map((s) => s.routingKey), ['k1']);
    ch.bufferFull = false;
    ch.emit('drain');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(ch.sent.map((s) => s.routingKey), ['k1', 'k2']);
    for (const s of ch.sent) s.confirm(null);
    await Promise.all([first, second]);
  });

  it('rejects at once while the broker blocks publishing (resource alarm)', async () => {
    pub.blocked('low on memory');
    await assert.rejects(pub.send('e', 'k', Buffer.from('{}'), props), (err) => isBusUnavailable(err) && /low on memory/.test(err.message));
    assert.equal(ch.sent.length, 0);
    pub.blocked(null);
    const p = pub.send('e', 'k', Buffer.from('{}'), props);
    ch.sent[0]?.confirm(null);
    await p;
  });

  it('a block ends with the connection it came on: after a reconnect (another node) publishing works again', async () => {
    pub.blocked('node shutting down');
    assert.equal(pub.ready, false);
    pub.detach();
    const next = new FakeChannel();
    pub.use(next as unknown as ConfirmChannelLike);
    assert.equal(pub.ready, true, 'the new connection never sent connection.blocked');
    const p = pub.send('e', 'k', Buffer.from('{}'), props);
    next.sent[0]?.confirm(null);
    await p;
  });

  describe('a nack renews the channel it came on', () => {
    // A connection that hands out fake confirm channels and counts them.
    const modelOf = (channels: FakeChannel[]): ChannelModelLike =>
      ({
        createConfirmChannel: async () => {
          const next = new FakeChannel();
          channels.push(next);
          return next;
        },
      }) as unknown as ChannelModelLike;
    const settle = async (p: Promise<void>, ch: FakeChannel, err: Error | null) => {
      await new Promise((r) => setImmediate(r));
      ch.sent.at(-1)?.confirm(err);
      return p;
    };

    it('new publishes go to a fresh channel; the old one is closed once its confirms had their time', async () => {
      const channels: FakeChannel[] = [];
      const metrics = new BusMetrics(new Registry());
      const renewing = new RabbitPublisher({ topology: new Topology({ prefix: 'unit' }), logger: testLogger, confirmTimeoutMs: 40, renewAfterNackMs: 0, metrics });
      await renewing.attach(modelOf(channels));
      const stale = channels[0]!;
      // Two publishes on the stale channel: the first is nacked, the second still confirms there.
      const nacked = renewing.send('unit.commands', 'k', Buffer.from('{}'), props);
      const inFlight = renewing.send('unit.commands', 'k', Buffer.from('{}'), props);
      await new Promise((r) => setImmediate(r));
      stale.sent[0]!.confirm(new Error('message nacked'));
      await assert.rejects(nacked, (err) => isBusUnavailable(err) && /nacked/.test(err.message));
      await new Promise((r) => setImmediate(r));
      assert.equal(channels.length, 2, 'a fresh confirm channel was opened');
      const fresh = channels[1]!;
      await settle(renewing.send('unit.commands', 'k', Buffer.from('{}'), props), fresh, null);
      assert.equal(stale.sent.length, 2, 'nothing new on the stale channel');
      assert.equal(stale.closed, false, 'kept open while a confirm may still come');
      stale.sent[1]!.confirm(null);
      await inFlight;
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(stale.closed, true, 'closed after the confirm timeout');
      assert.equal(renewing.ready, true, "closing the retired channel does not touch the fresh one's state");
      assert.equal((await metrics.confirmChannelRenewals.get()).values[0]?.value, 1);
    });

    it('renews at most once per renewAfterNackMs', async () => {
      const channels: FakeChannel[] = [];
      const renewing = new RabbitPublisher({ topology: new Topology({ prefix: 'unit' }), logger: testLogger, confirmTimeoutMs: 40, renewAfterNackMs: 10_000 });
      await renewing.attach(modelOf(channels));
      const sends = [0, 1, 2].map(() => renewing.send('unit.commands', 'k', Buffer.from('{}'), props));
      await new Promise((r) => setImmediate(r));
      for (const s of channels[0]!.sent) s.confirm(new Error('message nacked'));
      for (const p of sends) await assert.rejects(p, (err) => isBusUnavailable(err));
      await new Promise((r) => setImmediate(r));
      assert.equal(channels.length, 2, 'one renewal for three nacks');
      await assert.rejects(settle(renewing.send('unit.commands', 'k', Buffer.from('{}'), props), channels[1]!, new Error('message nacked')), (err) => isBusUnavailable(err));
      await new Promise((r) => setImmediate(r));
      assert.equal(channels.length, 2, 'a full queue nacking on every channel does not churn channels');
    });

    it('a connection lost during a renewal leaves the fresh channel unused', async () => {
      const channels: FakeChannel[] = [];
      const renewing = new RabbitPublisher({ topology: new Topology({ prefix: 'unit' }), logger: testLogger, confirmTimeoutMs: 40, renewAfterNackMs: 0 });
      await renewing.attach(modelOf(channels));
      const p = renewing.send('unit.commands', 'k', Buffer.from('{}'), props);
      await new Promise((r) => setImmediate(r));
      channels[0]!.sent[0]!.confirm(new Error('message nacked'));
      renewing.detach();
      await assert.rejects(p, (err) => isBusUnavailable(err));
      await new Promise((r) => setImmediate(r));
      assert.equal(channels[1]?.closed, true);
      assert.equal(renewing.ready, false);
    });
  });
});
