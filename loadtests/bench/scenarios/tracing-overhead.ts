// What tracing costs on the gateway's simplest read (issue 6: "throughput
// with tracing and metrics on vs off, same run (aim: ≥ 0.85×)"). The read of
// proxy-get-order (GET /v1/orders/{id} through sellerReads, cache step
// removed, CRM latency 0), sent to three gateway processes from the same
// derived config, measured interleaved:
//
//   tracing off       `node entries/gateway.ts` (no OTEL endpoint: the SDK is
//                     not even loaded; platform/telemetry/register.ts)
//   tracing on        `node --import ./platform/telemetry/register.ts
//                     entries/gateway.ts` with OTEL_EXPORTER_OTLP_ENDPOINT at the
//                     harness's OTLP/HTTP sink (otlp-sink.ts) and
//                     parentbased_always_on: every request traced and exported
//   sampled 10%       the same with parentbased_traceidratio at 0.1
//   nothing sampled   the same with parentbased_always_off: instrumentation
//                     and context propagation without a span recorded or
//                     exported, i.e. what no sampler can take away
//
// Only the gateway children are traced: the register hook is given to them
// alone (SpawnOptions.nodeArgs), not through NODE_OPTIONS, so neither the
// load generator nor the simulators carry the SDK.

import { sheddingOff, unlimitedQuotaFor, withoutPolicy } from '../gateway-config.ts';
import type { CounterProbe } from '../measure.ts';
import { startGateway, TRACING_NODE_ARGS } from '../gateway-service.ts';
import { startOtlpSink } from '../otlp-sink-service.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import { comparison, micros, ORDERS, ratio, SELLERS, target } from './common.ts';
import type { Comparison, PreparedScenario, Scenario, Summaries, TargetResult, VariantSummary } from './types.ts';

const PIPELINE = 'sellerReads';
const SELLER = SELLERS.standard;
const ORDER_ID = ORDERS.slr_0002;
const THROUGHPUT_TARGET = 0.85;
const SAMPLE_RATIO = 0.1;

const OFF = 'tracing off';
const ON = 'tracing on';
const ON_WORKER = 'tracing on, export on a worker thread';
const SAMPLED = `tracing on, ${SAMPLE_RATIO * 100}% sampled`;
const UNSAMPLED = 'tracing on, nothing sampled';
const OFF_CPU = 'untraced gateway';
const ON_CPU = 'traced gateway';
const ON_WORKER_CPU = 'traced gateway (worker-thread export)';
const SAMPLED_CPU = 'sampled gateway';
const UNSAMPLED_CPU = 'unsampled gateway';
const CRM_CPU = 'CRM sim';
const SINK_CPU = 'OTLP sink';
/** Each row's own gateway: its CPU column. */
const GATEWAY_OF: Record<string, string> = { [OFF]: OFF_CPU, [ON]: ON_CPU, [ON_WORKER]: ON_WORKER_CPU, [SAMPLED]: SAMPLED_CPU, [UNSAMPLED]: UNSAMPLED_CPU };

function ownCpu(summary: VariantSummary | undefined, name: string): number | undefined {
  const label = GATEWAY_OF[name];
  return label === undefined ? undefined : summary?.cpuMicrosPerRequest[label];
}

/** Endpoint names at the sink: each traced gateway exports to its own, so a row's spans are its gateway's only. */
const ENDPOINT_OF: Record<string, string> = { [ON]: 'on', [ON_WORKER]: 'on-worker', [SAMPLED]: 'sampled', [UNSAMPLED]: 'unsampled' };

function spansPerRequest(summary: VariantSummary | undefined, name: string): number | undefined {
  return summary?.countersPerRequest[`sink.${ENDPOINT_OF[name]}.spans`];
}

function compare(summaries: Summaries): Comparison[] {
  const off = summaries.get(OFF);
  const rows: Comparison[] = [];
  for (const name of [ON, ON_WORKER, SAMPLED, UNSAMPLED]) {
    const s = summaries.get(name);
    const cpu = ownCpu(s, name);
    const offCpu = ownCpu(off, OFF);
    rows.push(
      comparison(`req/s, ${name} / ${OFF}`, ratio(s?.reqPerSec, off?.reqPerSec)),
      comparison(`p99, ${name} / ${OFF}`, ratio(s?.p99Ms, off?.p99Ms)),
      comparison(`gateway CPU per request, ${name} / ${OFF}`, ratio(cpu, offCpu)),
      comparison(`gateway CPU per request, ${name} − ${OFF}`, cpu === undefined || offCpu === undefined ? 'n/a' : micros(cpu - offCpu)),
    );
  }
  for (const name of [OFF, ON, ON_WORKER, SAMPLED, UNSAMPLED]) rows.push(comparison(`gateway CPU per request, ${name} (its own gateway)`, micros(ownCpu(summaries.get(name), name))));
  for (const name of [ON, ON_WORKER, SAMPLED]) {
    const s = summaries.get(name);
    const spans = spansPerRequest(s, name);
    const bytes = s?.countersPerRequest[`sink.${ENDPOINT_OF[name]}.bytes`];
    rows.push(comparison(`spans received by the sink per request, ${name}`, spans === undefined ? 'n/a' : `${spans.toFixed(2)} (${bytes === undefined ? 'n/a' : Math.round(bytes)} B/request)`));
  }
  return rows;
}

function targets(summaries: Summaries): TargetResult[] {
  const off = summaries.get(OFF);
  return [ON, SAMPLED, UNSAMPLED].map((name) => {
    const s = summaries.get(name);
    const value = s && off && off.reqPerSec > 0 ? s.reqPerSec / off.reqPerSec : undefined;
    return target(`req/s with ${name} ≥ ${THROUGHPUT_TARGET}× tracing off`, value, value === undefined ? 'n/a' : `${value.toFixed(2)}×`, (v) => v >= THROUGHPUT_TARGET);
  });
}

/** The traced rows must have exported spans (tracing was on). The untraced gateway has no endpoint at all. */
function validate(summaries: Summaries): string[] {
  const problems: string[] = [];
  const onSpans = spansPerRequest(summaries.get(ON), ON) ?? 0;
  const sampledSpans = spansPerRequest(summaries.get(SAMPLED), SAMPLED) ?? 0;
  if (onSpans < 0.5) problems.push(`the traced gateway exported ${onSpans.toFixed(2)} spans per request: tracing was not on`);
  const onWorkerSpans = spansPerRequest(summaries.get(ON_WORKER), ON_WORKER) ?? 0;
  if (onWorkerSpans < 0.5) problems.push(`the traced gateway exporting from a worker thread exported ${onWorkerSpans.toFixed(2)} spans per request: tracing was not on`);
  if (sampledSpans <= 0) problems.push('the sampled gateway exported no spans: tracing was not on');
  const unsampledSpans = spansPerRequest(summaries.get(UNSAMPLED), UNSAMPLED) ?? 0;
  if (unsampledSpans > 0) problems.push(`the unsampled gateway exported ${unsampledSpans.toFixed(2)} spans per request: its sampler was not applied`);
  return problems;
}

export const tracingOverhead: Scenario = {
  name: 'tracing-overhead',
  smoke: false,
  description: `GET /v1/orders/{id} (the read of proxy-get-order) through five gateways of one derived config: tracing off, tracing on (OpenTelemetry, every request exported over OTLP/HTTP to a local sink), the same exporting from a worker thread, tracing on with ${SAMPLE_RATIO * 100}% of traces sampled, and tracing on with nothing sampled (the cost no sampler removes); Prometheus metrics on in all five.`,
  async prepare({ group }): Promise<PreparedScenario> {
    if (/register\.ts|--import|--require/.test(process.env.NODE_OPTIONS ?? '')) {
      throw new Error(`NODE_OPTIONS (${process.env.NODE_OPTIONS}) would preload code into every child and the load generator: unset it; this scenario traces the gateway children itself`);
    }
    const sink = await startOtlpSink(group);
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    const config = [withoutPolicy('cache', [PIPELINE]), unlimitedQuotaFor(SELLER.id), sheddingOff()];
    // No OTEL_* variable leaks in from the harness's environment: each gateway gets exactly these.
    const untraced = { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '', OTEL_TRACES_SAMPLER: '', OTEL_TRACES_SAMPLER_ARG: '', OTEL_SDK_DISABLED: '' };
    const traced = (name: string): Record<string, string> => ({ ...untraced, OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint(name) });
    const [off, on, onWorker, sampled, unsampled] = await Promise.all([
      startGateway(group, { crm, mes }, { config, env: untraced, name: 'gateway (tracing off)' }),
      startGateway(group, { crm, mes }, {
        config,
        env: { ...traced(ENDPOINT_OF[ON] as string), OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
        nodeArgs: [...TRACING_NODE_ARGS],
        name: 'gateway (tracing on)',
      }),
      startGateway(group, { crm, mes }, {
        config,
        env: { ...traced(ENDPOINT_OF[ON_WORKER] as string), OTEL_TRACES_SAMPLER: 'parentbased_always_on', FACET_TRACE_EXPORT: 'worker' },
        nodeArgs: [...TRACING_NODE_ARGS],
        name: 'gateway (tracing on, worker-thread export)',
      }),
      startGateway(group, { crm, mes }, {
        config,
        env: { ...traced(ENDPOINT_OF[SAMPLED] as string), OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(SAMPLE_RATIO) },
        nodeArgs: [...TRACING_NODE_ARGS],
        name: 'gateway (sampled)',
      }),
      startGateway(group, { crm, mes }, {
        config,
        env: { ...traced(ENDPOINT_OF[UNSAMPLED] as string), OTEL_TRACES_SAMPLER: 'parentbased_always_off' },
        nodeArgs: [...TRACING_NODE_ARGS],
        name: 'gateway (unsampled)',
      }),
    ]);
    const path = `/v1/orders/${ORDER_ID}`;
    const headers = { 'x-api-key': SELLER.key };
    const sinkProbe: CounterProbe = {
      label: 'sink',
      async read() {
        const out: Record<string, number> = {};
        for (const [name, { requests, bytes, spans }] of Object.entries(await sink.stats())) Object.assign(out, { [`${name}.requests`]: requests, [`${name}.bytes`]: bytes, [`${name}.spans`]: spans });
        return out;
      },
    };
    return {
      variants: [
        { name: OFF, description: `GET ${path}, X-API-Key of ${SELLER.id}, on \`node entries/gateway.ts\` (no OTLP endpoint: the SDK is not loaded)`, request: { url: off.url + path, headers } },
        {
          name: ON,
          description: `the same on \`node --import ./platform/telemetry/register.ts entries/gateway.ts\`, OTEL_EXPORTER_OTLP_ENDPOINT = the local sink, OTEL_TRACES_SAMPLER=parentbased_always_on (the SDK's default, said explicitly): every request traced and exported`,
          request: { url: on.url + path, headers },
        },
        {
          name: ON_WORKER,
          description: 'the same with FACET_TRACE_EXPORT=worker: each batch is copied to a worker thread (platform/telemetry/worker-exporter.ts), which serialises it to OTLP and sends it, instead of the main thread (the default)',
          request: { url: onWorker.url + path, headers },
        },
        {
          name: SAMPLED,
          description: `the same with OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=${SAMPLE_RATIO} (the load sends no traceparent, so ~${SAMPLE_RATIO * 100}% of requests start a sampled trace)`,
          request: { url: sampled.url + path, headers },
        },
        {
          name: UNSAMPLED,
          description: 'the same with OTEL_TRACES_SAMPLER=parentbased_always_off: every request still gets its (non-recording) server and client span, its context and a traceparent to the CRM, but nothing is recorded or exported. Not a configuration to run; it measures what no sampler can take away',
          request: { url: unsampled.url + path, headers },
        },
      ],
      cpu: [
        { label: OFF_CPU, pid: off.process.pid },
        { label: ON_CPU, pid: on.process.pid },
        { label: ON_WORKER_CPU, pid: onWorker.process.pid },
        { label: SAMPLED_CPU, pid: sampled.process.pid },
        { label: UNSAMPLED_CPU, pid: unsampled.process.pid },
        { label: CRM_CPU, pid: crm.process.pid },
        { label: SINK_CPU, pid: sink.process.pid },
      ],
      counters: [sinkProbe],
      notes: [
        `Five gateway processes, one per row, from one derived config: pipeline \`${PIPELINE}\` of gateway.config.yml at the commit measured, NODE_ENV=production, LOG_LEVEL=warn, no Redis, with the edits of proxy-get-order (the \`cache\` step removed, so every request is proxied to the CRM; ${SELLER.id}'s plan raised out of reach; shedding off). So "tracing off" is proxy-get-order's gateway row, and its figures compare with that section's.`,
        'Tracing on = `--import ./platform/telemetry/register.ts` given to that gateway child alone (a per-child node option of the harness\'s process starter, not NODE_OPTIONS), with OTEL_EXPORTER_OTLP_ENDPOINT pointing at the harness\'s sink: the NodeSDK as platform/telemetry/sdk.ts configures it: @fastify/otel\'s server span and an undici client span per proxied call (2 spans per request; instrumentation-http off), ioredis (idle here: no Redis), W3C propagation (traceparent injected into the CRM call), BatchSpanProcessor and the OTLP http/protobuf exporter with their defaults (batches of 512, queue of 2,048, every 5 s). The load generator and the simulators are not traced; the CRM receives the traceparent header and ignores it.',
        'The sink (loadtests/bench/otlp-sink.ts) is a node:http server on loopback, a child of the harness: it answers 200 to POST /v1/traces and counts requests, bytes and spans (by walking the protobuf), per endpoint: each traced gateway exports to an endpoint of its own (OTEL_EXPORTER_OTLP_ENDPOINT = <sink>/on, <sink>/sampled, <sink>/unsampled), so each row\'s spans are its own gateway\'s. Its CPU is a column of its own; a real collector would cost more, elsewhere. Spans per request come from its counts over each measurement: the batch exporter sends every 5 s or 512 spans, so a few spans of one measurement arrive in the next. Fewer spans per request than the instrumentation makes would mean the BatchSpanProcessor dropped some (its queue holds 2,048).',
        'Metrics cannot be switched off: prom-client\'s registry and the per-route RED histograms are always on in the gateway (there is no metrics-off switch), so all four rows pay for metrics, and the ratio is tracing\'s cost alone. /metrics was not scraped during the run.',
        'Each gateway\'s CPU is its own column; in the other rows that gateway is idle (a few µs per request of background timers). The comparison table gives each row\'s own gateway.',
        'The machine has 2 cores shared by the load generator, the gateways, the CRM simulator and other engineers\' work, so throughput moves with whatever else runs; CPU per request is the steadier figure. Each figure is the median of the interleaved rounds.',
        'The run fails if the traced gateway exported under 0.5 spans per request or the sampled one none (tracing was not on), or the unsampled one any (its sampler was not applied). The untraced gateway has no OTLP endpoint, so the register hook would not even load the SDK there; it is started without the hook anyway.',
      ],
      compare,
      validate,
      targets,
    };
  },
};
