// Starts tracing before the application is imported:
//
//   node --import ./platform/telemetry/register.ts entries/embedded.ts
//
// Tracing is on when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED is not true.
// Otherwise nothing is loaded: no SDK, no patches, no exporter retrying a dead
// endpoint; the application still reads the caller's traceparent for its
// logs and error bodies (api.ts).
//
// The service name is OTEL_SERVICE_NAME, else chosen by the entry script
// (entries/embedded.ts → facet-gateway, and so on). Sampling: the standard
// OTEL_TRACES_SAMPLER(_ARG) when set, else parentbased_traceidratio at
// OTEL_TRACES_SAMPLER_ARG or 10% (a caller's sampled traceparent is kept).

import { decideTracing, samplerSettings, serviceNameFor } from './config.ts';

const decision = decideTracing(process.env);
if (decision.enabled) {
  // Parent-based with a ratio unless the environment chose a sampler (config.ts).
  Object.assign(process.env, samplerSettings(process.env));
  // Imported only now: loading the SDK and its instrumentations costs start-up time.
  const { registerEsmHook } = await import('./esm-hook.ts');
  const acknowledged = registerEsmHook();
  const { startTelemetry } = await import('./sdk.ts');
  startTelemetry({ serviceName: serviceNameFor(process.argv[1], process.cwd()) });
  await acknowledged();
}
