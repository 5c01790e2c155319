// Span export off the main thread. The batch span processor hands a batch
// of ended spans to this exporter every few seconds; serialising them to
// OTLP protobuf and the HTTP request to the collector would run on the event
// loop that serves requests. Here the main thread only copies each span's
// data into plain objects and posts them to a worker thread
// (export-worker.ts), which rebuilds them and runs the OTLP exporter there.
// The batch processor's own limits (queue size, batch size, one export at a
// time) still apply: a slow collector fills its queue and spans are dropped,
// never the requests slowed. Opt-in (FACET_TRACE_EXPORT=worker, sdk.ts): on
// two cores the copy cost as much as or more than the serialisation it moves.

import { Worker } from 'node:worker_threads';
import { ExportResultCode, TraceState, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** A span as it crosses to the worker: only data (structured clone), its resource as an index into the batch's list. */
export interface PlainSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState: string | undefined;
  parent: { traceId: string; spanId: string; traceFlags: number; isRemote: boolean | undefined } | undefined;
  startTime: [number, number];
  endTime: [number, number];
  attributes: ReadableSpan['attributes'];
  events: ReadableSpan['events'];
  links: { traceId: string; spanId: string; traceFlags: number; isRemote: boolean | undefined; traceState: string | undefined; attributes: ReadableSpan['attributes'] | undefined; droppedAttributesCount: number | undefined }[];
  status: ReadableSpan['status'];
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
  scope: ReadableSpan['instrumentationScope'];
  resource: number;
}

export interface ExportBatch {
  id: number;
  resources: { attributes: ReadableSpan['resource']['attributes']; schemaUrl: string | undefined }[];
  spans: PlainSpan[];
}

export type WorkerRequest = { kind: 'export'; batch: ExportBatch } | { kind: 'shutdown'; id: number };
export type WorkerReply = { id: number; code: ExportResultCode; error?: string };

/** The data of a batch of spans, without their methods and SDK internals: what the worker needs to export them. */
export function toExportBatch(id: number, spans: readonly ReadableSpan[]): ExportBatch {
  const resources: ExportBatch['resources'] = [];
  const indexOf = new Map<ReadableSpan['resource'], number>();
  const plain = spans.map((span): PlainSpan => {
    let resource = indexOf.get(span.resource);
    if (resource === undefined) {
      resource = resources.push({ attributes: span.resource.attributes, schemaUrl: span.resource.schemaUrl }) - 1;
      indexOf.set(span.resource, resource);
    }
    const ctx = span.spanContext();
    const parent = span.parentSpanContext;
    return {
      name: span.name,
      kind: span.kind,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      traceFlags: ctx.traceFlags,
      traceState: ctx.traceState?.serialize(),
      parent: parent ? { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.traceFlags, isRemote: parent.isRemote } : undefined,
      startTime: span.startTime,
      endTime: span.endTime,
      attributes: span.attributes,
      events: span.events,
      links: span.links.map((link) => ({
        traceId: link.context.traceId,
        spanId: link.context.spanId,
        traceFlags: link.context.traceFlags,
        isRemote: link.context.isRemote,
        traceState: link.context.traceState?.serialize(),
        attributes: link.attributes,
        droppedAttributesCount: link.droppedAttributesCount,
      })),
      status: span.status,
      droppedAttributesCount: span.droppedAttributesCount,
      droppedEventsCount: span.droppedEventsCount,
      droppedLinksCount: span.droppedLinksCount,
      scope: span.instrumentationScope,
      resource,
    };
  });
  return { id, resources, spans: plain };
}

function traceState(serialized: string | undefined): TraceState | undefined {
  return serialized === undefined ? undefined : new TraceState(serialized);
}

/** The ReadableSpan shape the OTLP transformer reads (spanContext(), parentSpanContext, resource by identity, ...). */
export function fromExportBatch(batch: ExportBatch): ReadableSpan[] {
  const resources = batch.resources.map((r) => ({ attributes: r.attributes, schemaUrl: r.schemaUrl }));
  return batch.spans.map((span) => {
    const context = { traceId: span.traceId, spanId: span.spanId, traceFlags: span.traceFlags, traceState: traceState(span.traceState) };
    const durationNs = (span.endTime[0] - span.startTime[0]) * 1e9 + (span.endTime[1] - span.startTime[1]);
    return {
      name: span.name,
      kind: span.kind,
      spanContext: () => context,
      parentSpanContext: span.parent,
      startTime: span.startTime,
      endTime: span.endTime,
      duration: [Math.floor(durationNs / 1e9), durationNs % 1e9],
      ended: true,
      status: span.status,
      attributes: span.attributes,
      links: span.links.map((link) => ({
        context: { traceId: link.traceId, spanId: link.spanId, traceFlags: link.traceFlags, isRemote: link.isRemote, traceState: traceState(link.traceState) },
        attributes: link.attributes,
        droppedAttributesCount: link.droppedAttributesCount,
      })),
      events: span.events,
      resource: resources[span.resource],
      instrumentationScope: span.scope,
      droppedAttributesCount: span.droppedAttributesCount,
      droppedEventsCount: span.droppedEventsCount,
      droppedLinksCount: span.droppedLinksCount,
    } as unknown as ReadableSpan;
  });
}

export class WorkerSpanExporter implements SpanExporter {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (result: ExportResult) => void>();
  #nextId = 1;
  #stopped = false;

  constructor() {
    // No execArgv: the worker must not run the parent's --import of the tracing set-up (it would start an SDK of its own).
    this.#worker = new Worker(new URL('./export-worker.ts', import.meta.url), { execArgv: [] });
    // Exporting never keeps the process alive; shutdown() flushes first.
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => {
      const done = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      done?.(reply.code === ExportResultCode.SUCCESS ? { code: reply.code } : { code: reply.code, error: new Error(reply.error ?? 'export failed') });
    });
    const failAll = (error: Error) => {
      this.#stopped = true;
      for (const done of this.#pending.values()) done({ code: ExportResultCode.FAILED, error });
      this.#pending.clear();
    };
    this.#worker.on('error', failAll);
    this.#worker.on('exit', (code) => failAll(new Error(`span export worker exited (${code})`)));
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#stopped) return resultCallback({ code: ExportResultCode.FAILED, error: new Error('span export worker stopped') });
    const id = this.#nextId++;
    this.#pending.set(id, resultCallback);
    try {
      this.#worker.postMessage({ kind: 'export', batch: toExportBatch(id, spans) } satisfies WorkerRequest);
    } catch (error) {
      // An attribute value structured clone cannot copy: this batch is lost, the next may pass.
      this.#pending.delete(id);
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  /** Waits for the exports in flight, then lets the worker flush and stop. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    await this.forceFlush();
    const id = this.#nextId++;
    const acknowledged = new Promise<void>((resolve) => this.#pending.set(id, () => resolve()));
    this.#worker.postMessage({ kind: 'shutdown', id } satisfies WorkerRequest);
    await Promise.race([acknowledged, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    this.#stopped = true;
    await this.#worker.terminate();
  }

  async forceFlush(): Promise<void> {
    const inFlight = [...this.#pending.keys()];
    if (inFlight.length === 0) return;
    await new Promise<void>((resolve) => {
      const check = (): void => void (inFlight.some((id) => this.#pending.has(id)) ? setTimeout(check, 10) : resolve());
      check();
    });
  }
}
