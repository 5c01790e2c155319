// The worker thread of worker-exporter.ts: rebuilds each batch's spans from
// their data and exports them with the OTLP exporter (http/protobuf, its
// usual OTEL_EXPORTER_OTLP_* settings from the environment the worker
// shares with its process), so serialisation and the HTTP request to the
// collector never run on the main thread's event loop.

import { parentPort } from 'node:worker_threads';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { fromExportBatch, type WorkerReply, type WorkerRequest } from './worker-exporter.ts';

if (!parentPort) throw new Error('export-worker.ts runs as a worker thread of worker-exporter.ts');
const port = parentPort;
const exporter = new OTLPTraceExporter();

port.on('message', (request: WorkerRequest) => {
  if (request.kind === 'shutdown') {
    void exporter.shutdown().finally(() => port.postMessage({ id: request.id, code: ExportResultCode.SUCCESS } satisfies WorkerReply));
    return;
  }
  const { batch } = request;
  try {
    exporter.export(fromExportBatch(batch), (result) => {
      port.postMessage({ id: batch.id, code: result.code, ...(result.error ? { error: result.error.message } : {}) } satisfies WorkerReply);
    });
  } catch (error) {
    port.postMessage({ id: batch.id, code: ExportResultCode.FAILED, error: (error as Error).message } satisfies WorkerReply);
  }
});
