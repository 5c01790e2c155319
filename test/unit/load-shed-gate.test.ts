import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlanConfig } from '../../platform/pipeline/config.ts';
import type { PriorityClass, SheddingSettings } from '../../policies/load-shed/settings.ts';
import { kConsumer, kOperator } from '../../platform/pipeline/request-state.ts';
import { priorityOf } from '../../policies/load-shed/priority.ts';
import { EventLoopGuard } from '../../policies/load-shed/event-loop-guard.ts';
import { createSheddingService, SheddingService } from '../../policies/load-shed/shedding-service.ts';
import { FREE_TICKET, UpstreamGate, type Ticket } from '../../policies/load-shed/upstream-gate.ts';

const SHARES: Record<PriorityClass, number> = { critical: 1, write: 0.9, 'paid-read': 0.75, 'free-read': 0.5 };
const ADAPTIVE = { initialLimit: 20, minLimit: 1, maxLimit: 100, smoothing: 0.2, rttTolerance: 2 };

function fill(gate: UpstreamGate, cls: PriorityClass, into: Ticket[]): number {
  let admitted = 0;
  for (let t = gate.tryAcquire(cls, 0); t !== null; t = gate.tryAcquire(cls, 0)) {
    into.push(t);
    admitted++;
  }
  return admitted;
}

describe('UpstreamGate', () => {
  it('gives each class its share of the limit; the lowest is refused first', () => {
    const gate = new UpstreamGate('mes', ADAPTIVE, SHARES);
    const held: Ticket[] = [];
    assert.equal(fill(gate, 'free-read', held), 10);
    assert.equal(gate.inflight, 10);
    assert.equal(fill(gate, 'paid-read', held), 5);
    assert.equal(gate.tryAcquire('free-read', 0), null);
    assert.equal(fill(gate, 'write', held), 3);
    assert.equal(fill(gate, 'critical', held), 2);
    assert.equal(gate.inflight, 20);
    for (const cls of ['critical', 'write', 'paid-read', 'free-read'] as const) assert.equal(gate.tryAcquire(cls, 0), null, cls);
  });

  it('release frees the slot, once', () => {
    const gate = new UpstreamGate('mes', ADAPTIVE, SHARES);
    const held: Ticket[] = [];
    fill(gate, 'critical', held);
    assert.equal(gate.inflight, 20);
    for (const t of held.splice(0, 10)) t.abandon();
    assert.equal(gate.tryAcquire('free-read', 0), null, 'inflight 10 is not below 10');
    const one = held.pop() as Ticket;
    one.release(false, 5);
    one.release(false, 5);
    one.abandon();
    assert.equal(gate.inflight, 9);
    assert.ok(gate.tryAcquire('free-read', 0));
  });

  it('feeds the limit: a dropped request shrinks it and every class with it', () => {
    const gate = new UpstreamGate('mes', ADAPTIVE, SHARES);
    const ticket = gate.tryAcquire('write', 100) as Ticket;
    assert.equal(ticket.inflight, 1);
    ticket.release(true, 5100);
    assert.equal(gate.limiter.limit, 18);
    assert.deepEqual([gate.capacity('critical'), gate.capacity('write'), gate.capacity('paid-read'), gate.capacity('free-read')], [18, 16, 13, 9]);
  });

  it('measures the RTT from begin() when called, else from admission', () => {
    const gate = new UpstreamGate('mes', { ...ADAPTIVE, initialLimit: 2 }, SHARES);
    const a = gate.tryAcquire('critical', 100) as Ticket;
    a.begin(130);
    assert.ok(a.begun);
    a.release(false, 140);
    assert.equal(gate.limiter.longRtt, 10);
    const b = gate.tryAcquire('critical', 200) as Ticket;
    assert.equal(b.begun, false);
    b.release(false, 230);
    assert.equal(gate.limiter.longRtt, 20);
  });

  it('keeps one slot for critical requests however small the limit', () => {
    const gate = new UpstreamGate('mes', { ...ADAPTIVE, initialLimit: 1 }, { ...SHARES, critical: 0.5 });
    assert.equal(gate.tryAcquire('free-read', 0), null);
    assert.equal(gate.tryAcquire('write', 0), null);
    assert.ok(gate.tryAcquire('critical', 0));
    assert.equal(gate.tryAcquire('critical', 0), null);
  });
});

const SETTINGS: SheddingSettings = {
  enabled: true,
  classShares: SHARES,
  eventLoopDelayMs: { write: 400, 'paid-read': 200, 'free-read': 100 },
  eventLoopSampleMs: 100,
  retryAfterSec: 1,
  adaptive: { ...ADAPTIVE, initialLimit: 4 },
};

function fakeGuard(delayMs = 0) {
  const source = { delayMs, start() {}, stop() {}, read: () => source.delayMs };
  return { source, guard: new EventLoopGuard(SETTINGS, source) };
}

describe('SheddingService', () => {
  it('admits until the class share is used, then sheds with reason adaptive_limit', () => {
    const service = new SheddingService(SETTINGS, ['crm', 'mes'], { loopGuard: fakeGuard().guard });
    const first = service.admit('free-read', 'mes', 0);
    const second = service.admit('free-read', 'mes', 0);
    assert.ok('ticket' in first && 'ticket' in second);
    assert.deepEqual(service.admit('free-read', 'mes', 0), { shed: 'adaptive_limit' });
    assert.ok('ticket' in service.admit('free-read', 'crm', 0), 'each upstream has its own gate');
    assert.ok('ticket' in service.admit('critical', 'mes', 0));
    assert.deepEqual(service.snapshot().upstreams.mes, { limit: 4, inflight: 3, longRttMs: 0, shortRttMs: 0 });
    first.ticket.release(false, 10);
    assert.equal(service.snapshot().upstreams.mes?.inflight, 2);
    assert.throws(() => service.admit('critical', 'nowhere', 0), /unknown service endpoint "nowhere"/);
  });

  it('sheds by event-loop delay first, before looking at the upstream', () => {
    const { source, guard } = fakeGuard(150);
    const service = new SheddingService(SETTINGS, ['mes'], { loopGuard: guard });
    const before = service.admit('free-read', 'mes', 0);
    assert.ok('ticket' in before, 'nothing sampled yet');
    guard.sample();
    assert.deepEqual(service.admit('free-read', 'mes', 0), { shed: 'event_loop' });
    const paid = service.admit('paid-read', 'mes', 0);
    assert.ok('ticket' in paid);
    assert.equal(service.snapshot().eventLoopDelayMs, 150);
    assert.equal(service.snapshot().upstreams.mes?.inflight, 2, 'a loop shed takes no slot');
    before.ticket.abandon();
    paid.ticket.abandon();
    source.delayMs = 0;
    guard.sample();
    assert.ok('ticket' in service.admit('free-read', 'mes', 0));
  });

  it('splits the decision for the policy: shedByEventLoop (onRequest) and acquire (around the upstream call)', () => {
    const { source, guard } = fakeGuard(150);
    const service = new SheddingService(SETTINGS, ['crm', 'mes'], { loopGuard: guard });
    assert.equal(service.shedByEventLoop('free-read'), false, 'nothing sampled yet');
    guard.sample();
    assert.deepEqual(
      (['free-read', 'paid-read', 'write', 'critical'] as const).map((cls) => service.shedByEventLoop(cls)),
      [true, false, false, false],
    );
    assert.equal(service.snapshot().upstreams.mes?.inflight, 0, 'the loop guard takes no slot');
    const held = [service.acquire('free-read', 'mes', 0), service.acquire('free-read', 'mes', 0)];
    assert.ok(held[0] && held[1], 'acquire does not look at the event loop');
    assert.equal(service.acquire('free-read', 'mes', 0), null, 'the free-read share (2 of 4) is full');
    assert.ok(service.acquire('free-read', 'crm', 0), 'each upstream has its own gate');
    assert.equal(service.snapshot().upstreams.mes?.inflight, 2);
    for (const ticket of held) ticket?.abandon();
    assert.equal(service.snapshot().upstreams.mes?.inflight, 0);
    assert.throws(() => service.acquire('critical', 'nowhere', 0), /unknown service endpoint "nowhere"/);
    source.delayMs = 0;
    guard.sample();
    assert.equal(service.shedByEventLoop('free-read'), false);
  });

  it('createSheddingService builds one gate per service endpoint and starts the guard', () => {
    const service = createSheddingService({ shedding: SETTINGS, serviceEndpoints: { crm: {}, mes: {} } as never });
    try {
      assert.deepEqual(Object.keys(service.snapshot().upstreams), ['crm', 'mes']);
      assert.equal(service.snapshot().upstreams.crm?.limit, 4);
    } finally {
      service.close();
    }
  });

  it('when disabled admits everything and tracks nothing', () => {
    const service = new SheddingService({ ...SETTINGS, enabled: false }, ['mes']);
    for (let i = 0; i < 100; i++) {
      const admission = service.admit('free-read', 'mes', 0);
      assert.ok('ticket' in admission && admission.ticket === FREE_TICKET);
    }
    assert.ok('ticket' in service.admit('free-read', 'unknown', 0));
    assert.equal(service.shedByEventLoop('free-read'), false);
    assert.equal(service.acquire('free-read', 'unknown', 0), FREE_TICKET);
    assert.deepEqual(service.snapshot(), { enabled: false, eventLoopDelayMs: 0, upstreams: {} });
    service.close();
  });
});

describe('priorityOf', () => {
  const plans = { free: { tier: 'free' }, standard: { tier: 'paid' } } as unknown as Record<string, PlanConfig>;
  const seller = (plan: string) => ({ id: 's', name: 's', plan, keyId: 'k' });
  it('operators and calls without a seller are critical', () => {
    assert.equal(priorityOf({ method: 'GET', [kOperator]: { subject: 'op', role: 'operator' } }, plans), 'critical');
    assert.equal(priorityOf({ method: 'DELETE' }, plans), 'critical');
  });
  it("a seller's unsafe method is a write, whatever the plan", () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.equal(priorityOf({ method, [kConsumer]: seller('free') }, plans), 'write');
  });
  it("a seller's read takes its plan's tier", () => {
    assert.equal(priorityOf({ method: 'GET', [kConsumer]: seller('standard') }, plans), 'paid-read');
    assert.equal(priorityOf({ method: 'HEAD', [kConsumer]: seller('free') }, plans), 'free-read');
    assert.equal(priorityOf({ method: 'OPTIONS', [kConsumer]: seller('free') }, plans), 'free-read');
    assert.equal(priorityOf({ method: 'GET', [kConsumer]: seller('gone') }, plans), 'free-read');
  });
});
