// pino options shared by the gateway, the adapters and the simulators: JSON
// lines, ISO time, the active trace (`trace_id`, `span_id`) on every line,
// and secrets and personal data redacted wherever they might be logged.

import type { LoggerOptions } from 'pino';
import { traceFields } from './telemetry/api.ts';

/** Personal data of an order (customer name, email, address, phone) and where it travels. */
const PERSONAL = ['customer', 'shipping', 'email', 'phone', 'address'];

export const REDACTED_PATHS = [
  // Credentials, however a request or its headers end up in a log line.
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'apiKey',
  'token',
  'secret',
  // Order bodies: at the top, one level down (body, command, order) and two (message.body, state.command).
  ...PERSONAL,
  ...PERSONAL.map((key) => `*.${key}`),
  ...PERSONAL.map((key) => `*.*.${key}`),
];

export function loggerOptions(service: string, level = process.env.LOG_LEVEL ?? 'info'): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    // The active span, when there is one (tracing on): joins a log line to its trace.
    mixin: traceFields,
  };
}
