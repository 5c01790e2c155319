// The harness's delivery measurements without a stack: the bookkeeping of
// sends and receipts (lost, duplicate and stray deliveries, latency), the
// wait for the last delivery, the summary over rounds and the report's
// table per delivery.
//
//   npx node --import tsx --test test/bench/deliveries.test.ts

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeliveryLog, toDeliveryMeasurement } from '../../loadtests/bench/deliveries.ts';
import type { DeliveryMeasurement } from '../../loadtests/bench/deliveries.ts';
import { renderSection } from '../../loadtests/bench/report.ts';
import { rowsOfResult, scenarioCharts } from '../../loadtests/bench/svg-charts.ts';
import type { RunEnvironment } from '../../loadtests/bench/report.ts';
import { summariseDeliveries } from '../../loadtests/bench/runner.ts';
import type { ScenarioResult } from '../../loadtests/bench/runner.ts';
import type { DeliveryVariant } from '../../loadtests/bench/scenarios/types.ts';
import type { BenchSettings } from '../../loadtests/bench/settings.ts';

const SETTINGS: BenchSettings = { mode: 'full', durationS: 10, warmupS: 10, connections: 50, rounds: 2, maxErrorRate: 0.001 };
const ENV: RunEnvironment = { cpus: 2, cpuModel: 'test CPU', node: 'v24.0.0', date: '2026-01-01 00:00 UTC', commit: 'abc1234', command: 'npm run bench -- --scenario notes' };

/** Two receivers, three events 1 ms apart; receiver b misses the last one, sees the first twice, and something nobody sent. */
function sampleLog(): DeliveryLog {
  const log = new DeliveryLog(2, 20);
  for (const [i, key] of ['e0', 'e1', 'e2'].entries()) log.sent(key, 1_000_000 + i * 1000);
  log.received('a', 'e0', 1_002_000); // 2 ms
  log.received('a', 'e1', 1_005_000); // 4 ms
  log.received('a', 'e2', 1_010_000); // 8 ms
  log.received('b', 'e0', 1_003_000); // 3 ms
  log.received('b', 'e0', 1_004_000); // again
  log.received('b', 'e1', 1_007_000); // 6 ms
  log.received('b', 'other', 1_008_000);
  log.sendFailed();
  return log;
}

describe('DeliveryLog', () => {
  test('counts deliveries per receiver and event, duplicates and strays apart', () => {
    const run = sampleLog().result();
    assert.equal(run.sent, 3);
    assert.equal(run.expected, 6);
    assert.equal(run.delivered, 5);
    assert.equal(run.duplicates, 1);
    assert.equal(run.strays, 1);
    assert.equal(run.sendErrors, 1);
    assert.equal(run.offeredPerSec, 20);
    // First send (1.000 s) to last first-delivery (1.010 s); sends over 2 ms.
    assert.equal(run.durationS, 0.01);
    assert.equal(run.sendingS, 0.002);
    assert.equal(run.latencyUs.count, 5);
    // Recorded with 3 significant figures.
    assert.ok(Math.abs(run.latencyUs.min - 2000) <= 2 && Math.abs(run.latencyUs.max - 8000) <= 8, `latency ${run.latencyUs.min}..${run.latencyUs.max} µs`);
  });

  test('a measurement: lost = expected − delivered, the error rate over the expected, CPU per delivery', () => {
    const m = toDeliveryMeasurement(sampleLog().result(), { gateway: 1000, 'load generator': 500, broken: undefined }, { 'redis.cmd:xadd': 3 });
    assert.equal(m.lost, 1);
    assert.equal(m.errorRate, 1 / 6);
    assert.equal(m.deliveriesPerSec, 500);
    assert.equal(m.sentPerSec, 1000);
    assert.equal(m.cpuMicrosPerDelivery.gateway, 200);
    assert.equal(m.cpuMicrosPerDelivery['load generator'], 100);
    assert.equal(m.cpuMicrosPerDelivery.broken, undefined);
    assert.ok(Math.abs(m.p50Ms - 4) < 0.01, `p50 ${m.p50Ms}`);
    assert.ok(Math.abs(m.maxMs - 8) < 0.01, `max ${m.maxMs}`);
  });

  test('the same event sent twice in one measurement is a bug of the scenario', () => {
    const log = new DeliveryLog(1);
    log.sent('x');
    assert.throws(() => log.sent('x'), /sent twice/);
  });

  test('complete() returns once the last delivery arrives, or gives up after its timeout', async () => {
    const log = new DeliveryLog(1);
    log.sent('a', 0);
    log.sent('b', 0);
    log.received('r', 'a', 10);
    setTimeout(() => log.received('r', 'b', 20), 20);
    const started = performance.now();
    await log.complete(5_000, AbortSignal.timeout(10_000));
    assert.ok(performance.now() - started < 1_000, 'resolved when b arrived, not at the timeout');
    assert.equal(log.delivered, 2);

    const missing = new DeliveryLog(1);
    missing.sent('c', 0);
    const before = performance.now();
    await missing.complete(50, AbortSignal.timeout(10_000));
    assert.ok(performance.now() - before >= 45, 'waited for the timeout');
    assert.equal(missing.result().delivered, 0);
  });

  test('complete() is interrupted by the run being aborted', async () => {
    const log = new DeliveryLog(1);
    log.sent('a', 0);
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('stopped')), 10);
    await assert.rejects(log.complete(10_000, abort.signal), /stopped/);
  });
});

describe('delivery variants in the report', () => {
  const measurement = (delivered: number, p99: number): DeliveryMeasurement => {
    const log = new DeliveryLog(1, 20);
    for (let i = 0; i < 4; i++) log.sent(`e${i}`, i * 50_000);
    for (let i = 0; i < delivered; i++) log.received('r', `e${i}`, i * 50_000 + (i === delivered - 1 ? p99 : 1) * 1000);
    return toDeliveryMeasurement(log.result(), { adapters: 4000 }, {});
  };
  const variant: DeliveryVariant = {
    kind: 'deliveries',
    name: 'webhooks',
    description: 'events to an endpoint',
    load: (durationS) => `${durationS * 20} events at 20/s`,
    open: () => Promise.reject(new Error('not run here')),
  };
  const rounds = [measurement(4, 30), measurement(3, 10)];
  const result: ScenarioResult = {
    scenario: { name: 'notes', description: 'A scenario of deliveries only.', prepare: () => Promise.reject(new Error('not run here')) },
    prepared: { variants: [variant], cpu: [{ label: 'adapters', pid: 1 }] },
    summaries: new Map(),
    deliveries: new Map([['webhooks', summariseDeliveries('webhooks', rounds)]]),
    runs: [],
    deliveryRuns: rounds.map((m, i) => ({ round: i + 1, variant: 'webhooks', measurement: m })),
    loadBefore: 0.5,
    failures: [],
  };

  test('the summary takes medians of the rounds and totals of the counts', () => {
    const s = result.deliveries.get('webhooks');
    assert.ok(s);
    assert.equal(s.sent, 8);
    assert.equal(s.delivered, 7);
    assert.equal(s.lost, 1);
    assert.equal(s.errorRate, 1 / 8);
    assert.equal(s.offeredPerSec, 20);
    assert.equal(s.cpuMicrosPerDelivery.adapters, (1000 + 4000 / 3) / 2);
  });

  test('a section of delivery variants has a table per delivery, its load per variant, and no request table', () => {
    const markdown = renderSection(result, SETTINGS, ENV);
    assert.match(markdown, /^- \*\*webhooks\*\*: events to an endpoint \(200 events at 20\/s\)$/m);
    assert.match(markdown, /^\| variant \| offered events\/s \| events \| receivers \| deliveries\/s \| p50 ms \| p95 ms \| p99 ms \| max ms \| lost \| duplicates \| adapters CPU µs\/delivery \| load generator CPU µs\/delivery \|$/m);
    assert.match(markdown, /^\| webhooks \| 20 \| 4 \| 1 \| /m);
    assert.match(markdown, /\| 12\.500% \| 0 \| 1167 \| /);
    assert.match(markdown, /^\| 2 \| webhooks \| 4 \| 3 \/ 4 \| /m);
    assert.doesNotMatch(markdown, /req\/s/);
    assert.doesNotMatch(markdown, /connections; each figure/);
  });

  test('charts: none for a scenario without request variants; the ones given are linked below the tables', () => {
    assert.deepEqual(rowsOfResult(result), []);
    assert.deepEqual(scenarioCharts('notes', rowsOfResult(result)), []);
    const charts = scenarioCharts('notes', [{ variant: 'v', reqPerSec: 10, p50Ms: 1, p99Ms: 2, cpuMicros: { gateway: 5 } }]);
    const markdown = renderSection(result, SETTINGS, ENV, charts);
    assert.match(markdown, /^!\[notes: requests per second by variant\]\(img\/bench\/notes-throughput\.svg\)$/m);
    assert.ok(markdown.indexOf('img/bench/notes-cpu.svg') < markdown.indexOf('<details>'), 'above the rounds');
  });
});
