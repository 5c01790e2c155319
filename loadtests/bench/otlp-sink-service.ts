// The OTLP/HTTP trace sink (otlp-sink.ts) as a child of the harness on a
// free loopback port, and the harness's side of it: an endpoint per traced
// gateway, and the spans each one exported, read back over HTTP.

import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';
import { waitReady } from './processes.ts';
import type { ProcessGroup } from './processes.ts';
import { REPO_ROOT } from './repo-root.ts';
import { HOST } from './service-launcher.ts';
import type { Service } from './service-launcher.ts';

export interface OtlpSinkStats {
  /** POST /v1/traces requests received. */
  requests: number;
  /** Request bytes received (as sent, before any gunzip). */
  bytes: number;
  /** Spans counted in the OTLP protobuf payloads. */
  spans: number;
}

export interface OtlpSink extends Service {
  /** The endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) whose spans are counted under `name`. */
  endpoint(name: string): string;
  /** Counts by endpoint name (absent: nothing received there yet). */
  stats(): Promise<Record<string, OtlpSinkStats>>;
}

/** The harness's OTLP/HTTP trace sink (otlp-sink.ts) as a child: answers 200 to POST <endpoint>/v1/traces and counts what each endpoint got. */
export async function startOtlpSink(group: ProcessGroup): Promise<OtlpSink> {
  const port = await freePort();
  const handle = group.spawn({ name: 'otlp-sink', script: fileURLToPath(new URL('./otlp-sink.ts', import.meta.url)), args: [String(port)], env: {}, cwd: REPO_ROOT });
  const url = `http://${HOST}:${port}`;
  await waitReady(handle, `${url}/healthz`);
  return {
    name: 'otlp-sink',
    url,
    process: handle,
    endpoint: (name) => `${url}/${name}`,
    async stats() {
      const response = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5000) });
      return (await response.json()) as Record<string, OtlpSinkStats>;
    },
  };
}
