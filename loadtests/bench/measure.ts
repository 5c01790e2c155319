// One measurement: load against one request for a fixed time (or a fixed
// number of requests), with the CPU time each probed process spent
// meanwhile. Latency is recorded here in microseconds (autocannon's own
// histogram has 1 ms resolution, too coarse for a loopback proxy).
//
// Two shapes of load:
//   closed: autocannon, N connections, each sending its next request as
//           soon as the previous answer arrives (the harness's default);
//   open:   a constant arrival rate (open-loop.ts): requests are sent on
//           schedule whether or not earlier ones have been answered, the
//           way independent clients behave, so an overloaded server sees
//           its queue grow instead of its clients slowing down.
// A measurement may run other streams alongside its own (e.g. another
// seller's flood), all at once; CPU per request is over all of them.

import autocannon from 'autocannon';
import { AnswerLog } from './answers.ts';
import { ownCpuMicros, processCpuMicros } from './cpu.ts';
import type { ClosedLoad, LoadDefaults, RequestSpec, StreamResult, StreamSpec } from './load-types.ts';
import { runOpenLoop } from './open-loop.ts';
import { histogramPercentileMs } from './statistics.ts';

/** Column label of the harness's own CPU time per request. */
export const LOAD_GENERATOR = 'load generator';

/** A process whose CPU time per request is reported, e.g. the gateway. */
export interface CpuProbe {
  label: string;
  pid: number;
}

/**
 * Any other counters read before and after each measurement (e.g. Redis
 * commands); the measurement keeps the differences, by key, for the
 * scenario to interpret.
 */
export interface CounterProbe {
  label: string;
  read(): Promise<Record<string, number>>;
}

export interface Measurement {
  /** Completed responses, any status. */
  requests: number;
  durationS: number;
  reqPerSec: number;
  /** 2xx answers per second (goodput). */
  okPerSec: number;
  /** Latency of 2xx responses. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Latency of the expected non-2xx answers. */
  refusedP50Ms: number;
  refusedP99Ms: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Expected non-2xx answers. */
  refused: number;
  /** Connection errors and non-2xx answers that were not expected (what the error budget counts). */
  failures: number;
  /** failures / attempts. */
  errorRate: number;
  /** Expected non-2xx answers / attempts. */
  refusedShare: number;
  statusCounts: Record<string, number>;
  offeredPerSec?: number;
  generatorLagP99Ms?: number;
  tally?: Record<string, number>;
  /** µs of CPU per completed request (all streams), by probe label (and LOAD_GENERATOR); undefined when unreadable. */
  cpuMicrosPerRequest: Record<string, number | undefined>;
  /** Differences of the counter probes over the measurement, as `label.key`. */
  counters: Record<string, number>;
  /** Streams run at the same time as this one, by name. */
  alongside: Record<string, Measurement>;
}

export interface LoadOptions {
  durationS: number;
  connections: number;
  cpu: readonly CpuProbe[];
  counters?: readonly CounterProbe[];
  signal: AbortSignal;
}

const REQUEST_TIMEOUT_S = 10;

function headerFromRaw(raw: unknown, name: string): string | undefined {
  if (!Array.isArray(raw)) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) if (String(raw[i]).toLowerCase() === name) return String(raw[i + 1]);
  return undefined;
}

interface AutocannonClient {
  on(event: 'headers', listener: (info: { statusCode: number; headers: unknown }) => void): void;
}

/** Closed loop with autocannon; non-2xx bodies are read for their problem code. */
function runClosed(spec: StreamSpec, load: ClosedLoad, defaults: LoadDefaults, signal: AbortSignal): Promise<StreamResult> {
  const log = new AnswerLog(spec.expected, spec.tally);
  const tallyHeader = spec.tally?.header.toLowerCase();
  const connections = load.connections ?? defaults.connections;
  // autocannon calls verifyBody(body) synchronously right after the
  // 'response' event of the same answer: the status and latency are kept
  // from the one for the other.
  let lastStatus = 0;
  let lastMs = 0;
  let lastHeader: string | undefined;
  const options: autocannon.Options = {
    url: spec.request.url,
    method: spec.request.method ?? 'GET',
    headers: spec.request.headers,
    body: spec.request.body,
    connections: load.amount === undefined ? connections : Math.min(connections, load.amount),
    pipelining: 1,
    timeout: REQUEST_TIMEOUT_S,
    verifyBody: (body) => {
      if (lastStatus < 200 || lastStatus >= 300) log.record(lastStatus, lastMs, typeof body === 'string' ? body : (body?.toString() ?? ''), lastHeader);
      else spec.onOk?.(typeof body === 'string' ? body : (body?.toString() ?? ''));
      return true;
    },
  };
  const perRequest = spec.request.perRequestHeaders;
  if (perRequest) {
    type Built = { headers?: Record<string, string> };
    options.requests = [{ setupRequest: ((request: Built) => ({ ...request, headers: { ...request.headers, ...perRequest() } })) as unknown as autocannon.Request['setupRequest'] }];
  }
  if (load.amount !== undefined) options.amount = load.amount;
  else options.duration = load.durationS ?? defaults.durationS;
  if (tallyHeader) {
    options.setupClient = ((client: AutocannonClient) => {
      client.on('headers', (info) => (lastHeader = headerFromRaw(info.headers, tallyHeader)));
    }) as unknown as autocannon.Options['setupClient'];
  }
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const instance = autocannon(options, (error: unknown, result) => {
      signal.removeEventListener('abort', stop);
      if (signal.aborted) reject(signal.reason);
      else if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else {
        const requests = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
        resolve({
          requests,
          durationS: result.duration,
          ok: log.ok,
          refused: log.refused,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          statusCounts: log.statusCounts,
          ...(log.tally ? { tally: log.tally } : {}),
          okLatencyUs: log.okLatencyUs,
          refusedLatencyUs: log.refusedLatencyUs,
        });
      }
    });
    const stop = (): void => instance.stop();
    signal.addEventListener('abort', stop, { once: true });
    instance.on('response', (_client, status, _bytes, ms) => {
      lastStatus = status;
      lastMs = ms;
      if (status >= 200 && status < 300) log.record(status, ms, undefined, lastHeader);
    });
  });
}

export function runStream(spec: StreamSpec, defaults: LoadDefaults, signal: AbortSignal): Promise<StreamResult> {
  const load = spec.load ?? {};
  if (load.kind === 'open') return runOpenLoop(spec, load, defaults, signal, REQUEST_TIMEOUT_S * 1000);
  return runClosed(spec, load, defaults, signal);
}

function toMeasurement(spec: StreamSpec, result: StreamResult, cpuMicrosPerRequest: Record<string, number | undefined>, counters: Record<string, number>): Measurement {
  const attempts = result.requests + result.errors;
  const unexpected = (spec.unansweredExpected ? 0 : result.errors) + result.non2xx - result.refused;
  const measurement: Measurement = {
    requests: result.requests,
    durationS: result.durationS,
    reqPerSec: result.durationS > 0 ? result.requests / result.durationS : 0,
    okPerSec: result.durationS > 0 ? result.ok / result.durationS : 0,
    p50Ms: histogramPercentileMs(result.okLatencyUs, 50),
    p95Ms: histogramPercentileMs(result.okLatencyUs, 95),
    p99Ms: histogramPercentileMs(result.okLatencyUs, 99),
    refusedP50Ms: histogramPercentileMs(result.refusedLatencyUs, 50),
    refusedP99Ms: histogramPercentileMs(result.refusedLatencyUs, 99),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    refused: result.refused,
    failures: unexpected,
    errorRate: attempts === 0 ? 1 : unexpected / attempts,
    refusedShare: attempts === 0 ? 0 : result.refused / attempts,
    statusCounts: result.statusCounts,
    cpuMicrosPerRequest,
    counters,
    alongside: {},
  };
  if (result.offeredPerSec !== undefined) measurement.offeredPerSec = result.offeredPerSec;
  if (result.generatorLagP99Ms !== undefined) measurement.generatorLagP99Ms = result.generatorLagP99Ms;
  if (result.tally) measurement.tally = result.tally;
  return measurement;
}

async function readCounters(probes: readonly CounterProbe[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const probe of probes) {
    try {
      for (const [key, value] of Object.entries(await probe.read())) out[`${probe.label}.${key}`] = value;
    } catch {
      // A probe that cannot be read leaves its keys out: the report says n/a.
    }
  }
  return out;
}

export interface Probed<T> {
  result: T;
  /** CPU time each probe's process spent during the work (µs), by label, and the load generator's (LOAD_GENERATOR); undefined when unreadable. */
  cpuMicros: Record<string, number | undefined>;
  /** Differences of the counter probes over the work, as `label.key`. */
  counters: Record<string, number>;
}

/** Runs `work` with the CPU probes and counters read just before and just after it. */
export async function probed<T>(cpu: readonly CpuProbe[], counterProbes: readonly CounterProbe[], work: () => Promise<T>): Promise<Probed<T>> {
  const countersBefore = await readCounters(counterProbes);
  const cpuBefore = cpu.map((probe) => processCpuMicros(probe.pid));
  const ownBefore = ownCpuMicros();
  const result = await work();
  const ownAfter = ownCpuMicros();
  const cpuAfter = cpu.map((probe) => processCpuMicros(probe.pid));
  const countersAfter = await readCounters(counterProbes);
  const spent = (before: number | undefined, after: number | undefined): number | undefined => (before === undefined || after === undefined ? undefined : after - before);
  const cpuMicros: Record<string, number | undefined> = {};
  cpu.forEach((probe, i) => (cpuMicros[probe.label] = spent(cpuBefore[i], cpuAfter[i])));
  cpuMicros[LOAD_GENERATOR] = ownAfter - ownBefore;
  const counters: Record<string, number> = {};
  for (const [key, after] of Object.entries(countersAfter)) {
    const before = countersBefore[key];
    if (before !== undefined) counters[key] = after - before;
  }
  return { result, cpuMicros, counters };
}

/** CPU µs per unit of work (request, delivery), by label; undefined where unreadable or nothing was done. */
export function perUnit(cpuMicros: Record<string, number | undefined>, units: number): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const [label, us] of Object.entries(cpuMicros)) out[label] = us === undefined || units === 0 ? undefined : us / units;
  return out;
}

/**
 * One measurement of `main`, with `alongside` streams (by name) running at
 * the same time. CPU per request is over every stream's completed requests.
 */
export async function measureStreams(main: StreamSpec, alongside: Readonly<Record<string, StreamSpec>>, options: LoadOptions): Promise<Measurement> {
  const defaults: LoadDefaults = { durationS: options.durationS, connections: options.connections };
  const names = Object.keys(alongside);
  const { result: results, cpuMicros, counters } = await probed(options.cpu, options.counters ?? [], () =>
    Promise.all([runStream(main, defaults, options.signal), ...names.map((name) => runStream(alongside[name] as StreamSpec, defaults, options.signal))]),
  );
  const [mainResult, ...others] = results;
  const requests = results.reduce((sum, r) => sum + r.requests, 0);
  const measurement = toMeasurement(main, mainResult as StreamResult, perUnit(cpuMicros, requests), counters);
  names.forEach((name, i) => (measurement.alongside[name] = toMeasurement(alongside[name] as StreamSpec, others[i] as StreamResult, {}, {})));
  return measurement;
}

/** The harness's original measurement: closed loop, default connections, one request. */
export function measure(request: RequestSpec, options: LoadOptions): Promise<Measurement> {
  return measureStreams({ request }, {}, options);
}
