// Shared by the metrics tests: reading exposition text back into samples,
// checking it with promtool (both formats), and an active OpenTelemetry
// span per request without an SDK, so exemplars can be seen.

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT_CONTEXT, TraceFlags, context, trace, type Context, type ContextManager } from '@opentelemetry/api';

export const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** The exemplar's labels, when the line carries one (OpenMetrics). */
  exemplar?: Record<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*?)\})? (\S+)(?: \S+)?(?: # \{(.*?)\} \S+(?: \S+)?)?$/;

function labelsOf(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of (text ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] as string] = m[2] as string;
  return labels;
}

/** Every sample line of an exposition (either format). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`unparseable sample line: ${line}`);
    samples.push({ name: m[1] as string, labels: labelsOf(m[2]), value: Number(m[3]), ...(m[4] !== undefined && { exemplar: labelsOf(m[4]) }) });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include `labels` (0 if none; throws if several). */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** Sum over every sample with this name whose labels include `labels`. */
export function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

/** `promtool check metrics` on classic text: parse and lint; resolves with its output, rejects on a non-zero exit. */
export function promtoolCheck(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`promtool check metrics exited ${code}: ${output}`))));
    child.stdin.end(text);
  });
}

/**
 * OpenMetrics through Prometheus's own OpenMetrics parser. promtool's
 * `check metrics` only reads the classic format (it stops at an exemplar),
 * so the text goes through `promtool tsdb create-blocks-from openmetrics`,
 * which parses it fully (exemplars, `# EOF`) but needs a timestamp on every
 * sample: one is inserted before each sample's exemplar or at its end.
 */
export async function promtoolCheckOpenMetrics(text: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'facet-om-'));
  try {
    const stamped = text
      .split('\n')
      .map((line) => {
        if (line === '' || line.startsWith('#')) return line;
        const exemplarAt = line.indexOf(' # {');
        return exemplarAt === -1 ? `${line} 1700000000` : `${line.slice(0, exemplarAt)} 1700000000${line.slice(exemplarAt)}`;
      })
      .join('\n');
    await writeFile(join(dir, 'metrics.om'), stamped);
    await promisify(execFile)(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'metrics.om'), join(dir, 'blocks')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A context manager on AsyncLocalStorage: what an OpenTelemetry SDK installs, reduced to what the API needs. */
class TestContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

let manager: TestContextManager | undefined;

/** Installs the test context manager once per process. */
export function enableTestContext(): void {
  if (manager) return;
  manager = new TestContextManager();
  context.setGlobalContextManager(manager);
}

/**
 * Runs every request of `server` inside a sampled span with `traceId`, as
 * OpenTelemetry's http instrumentation does (context.with around the
 * 'request' listener).
 */
export function traceEveryRequest(server: Server, traceId: string): void {
  enableTestContext();
  const listeners = server.listeners('request') as ((...args: unknown[]) => void)[];
  server.removeAllListeners('request');
  const span = trace.wrapSpanContext({ traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED });
  const active = trace.setSpan(ROOT_CONTEXT, span);
  server.on('request', (...args: unknown[]) => context.with(active, () => listeners.forEach((l) => l(...args))));
}

export const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
