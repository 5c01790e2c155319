// One measurement: autocannon against one request for a fixed time, with the
// CPU time each probed process spent meanwhile. Latency is recorded here in
// microseconds (autocannon's own histogram has 1 ms resolution, too coarse
// for a loopback proxy).

import autocannon from 'autocannon';
import { createHistogram } from 'node:perf_hooks';
import { ownCpuMicros, processCpuMicros } from './cpu.ts';

/** Column label of the harness's own CPU time per request. */
export const LOAD_GENERATOR = 'load generator';

export interface RequestSpec {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A process whose CPU time per request is reported, e.g. the gateway. */
export interface CpuProbe {
  label: string;
  pid: number;
}

export interface LoadOptions {
  durationS: number;
  connections: number;
  cpu: readonly CpuProbe[];
  signal: AbortSignal;
}

export interface Measurement {
  /** Completed responses, any status. */
  requests: number;
  durationS: number;
  reqPerSec: number;
  /** Latency of 2xx responses. */
  p50Ms: number;
  p99Ms: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** (errors + non-2xx) / attempts. */
  errorRate: number;
  statusCounts: Record<string, number>;
  /** µs of CPU per completed request, by probe label (and LOAD_GENERATOR); undefined when unreadable. */
  cpuMicrosPerRequest: Record<string, number | undefined>;
}

function runAutocannon(options: autocannon.Options, onResponse: (status: number, ms: number) => void, signal: AbortSignal): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const instance = autocannon(options, (error: unknown, result) => {
      signal.removeEventListener('abort', stop);
      if (signal.aborted) reject(signal.reason);
      else if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(result);
    });
    const stop = (): void => instance.stop();
    signal.addEventListener('abort', stop, { once: true });
    instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms));
  });
}

export async function measure(request: RequestSpec, options: LoadOptions): Promise<Measurement> {
  const latencyUs = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
  const cpuBefore = options.cpu.map((probe) => processCpuMicros(probe.pid));
  const ownBefore = ownCpuMicros();
  const result = await runAutocannon(
    {
      url: request.url,
      method: request.method ?? 'GET',
      headers: request.headers,
      body: request.body,
      connections: options.connections,
      duration: options.durationS,
      pipelining: 1,
      timeout: 10,
    },
    (status, ms) => {
      if (status >= 200 && status < 300) latencyUs.record(Math.max(1, Math.round(ms * 1000)));
    },
    options.signal,
  );
  const ownAfter = ownCpuMicros();
  const cpuAfter = options.cpu.map((probe) => processCpuMicros(probe.pid));

  const requests = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  const perRequest = (before: number | undefined, after: number | undefined): number | undefined =>
    before === undefined || after === undefined || requests === 0 ? undefined : (after - before) / requests;
  const cpuMicrosPerRequest: Record<string, number | undefined> = {};
  options.cpu.forEach((probe, i) => (cpuMicrosPerRequest[probe.label] = perRequest(cpuBefore[i], cpuAfter[i])));
  cpuMicrosPerRequest[LOAD_GENERATOR] = perRequest(ownBefore, ownAfter);

  const statusCounts: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = stat.count ?? 0;
  const failures = result.errors + result.non2xx;
  const attempts = requests + result.errors;
  const has2xx = latencyUs.count > 0;
  return {
    requests,
    durationS: result.duration,
    reqPerSec: result.duration > 0 ? requests / result.duration : 0,
    p50Ms: has2xx ? latencyUs.percentile(50) / 1000 : Number.NaN,
    p99Ms: has2xx ? latencyUs.percentile(99) / 1000 : Number.NaN,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    errorRate: attempts === 0 ? 1 : failures / attempts,
    statusCounts,
    cpuMicrosPerRequest,
  };
}
