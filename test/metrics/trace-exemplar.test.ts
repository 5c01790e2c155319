// Exemplars link to sampled traces only: an unsampled trace was never
// exported, so its id on a histogram bucket would lead nowhere.
//
//   npx node --import tsx --test test/metrics/trace-exemplar.test.ts

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { exemplarHistogram } from '../../platform/metrics/exposition.ts';
import { observeSeconds, traceExemplar } from '../../platform/metrics/trace-exemplar.ts';
import { enableTestContext } from './helpers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

function inSpan<T>(traceFlags: TraceFlags, fn: () => T): T {
  const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: '00f067aa0ba902b7', traceFlags });
  return context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
}

describe('trace exemplars', () => {
  enableTestContext();

  it('a sampled active span gives its trace id; an unsampled one or none gives nothing', () => {
    assert.deepEqual(inSpan(TraceFlags.SAMPLED, traceExemplar), { trace_id: TRACE_ID });
    assert.equal(inSpan(TraceFlags.NONE, traceExemplar), undefined);
    assert.equal(traceExemplar(), undefined);
  });

  it('observeSeconds keeps an exemplar on the bucket for a sampled trace only', async () => {
    const registry = new Registry();
    const sampled = exemplarHistogram(registry, { name: 'sampled_seconds', help: 'h', labelNames: ['route'], buckets: [0.1, 1] });
    const unsampled = exemplarHistogram(registry, { name: 'unsampled_seconds', help: 'h', labelNames: ['route'], buckets: [0.1, 1] });
    inSpan(TraceFlags.SAMPLED, () => observeSeconds(sampled, { route: '/x' }, 0.05));
    inSpan(TraceFlags.NONE, () => observeSeconds(unsampled, { route: '/x' }, 0.05));
    const exemplarOf = async (h: typeof sampled): Promise<unknown[]> => (await h.get()).values.map((v) => (v as { exemplar?: { labelSet: unknown } }).exemplar?.labelSet).filter(Boolean);
    assert.deepEqual(await exemplarOf(sampled), [{ trace_id: TRACE_ID }]);
    assert.deepEqual(await exemplarOf(unsampled), []);
    assert.equal((await unsampled.get()).values.find((v) => v.metricName === 'unsampled_seconds_count')?.value, 1);
  });
});
