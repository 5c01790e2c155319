// Sends one signed webhook attempt. The URL is checked again (form, IP
// literals); names are resolved by the guarded lookup of the connector, so
// the socket goes to a checked address. Redirects are never followed (undici
// does not without a redirect interceptor; a 3xx is a failed attempt), the
// connect and response have short timeouts, and at most maxResponseBytes of
// the answer are read.

import { Agent, request } from 'undici';
import { signedHeaders } from '../../platform/webhooks/signature.ts';
import { checkWebhookUrl, guardedLookup, type UrlPolicy } from '../../platform/webhooks/url-guard.ts';

export interface SenderOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  maxResponseBytes: number;
}

export const DEFAULT_SENDER_OPTIONS: SenderOptions = { connectTimeoutMs: 3_000, responseTimeoutMs: 10_000, maxResponseBytes: 4_096 };

export interface AttemptResult {
  ok: boolean;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export class WebhookSender {
  private readonly policy: UrlPolicy;
  private readonly options: SenderOptions;
  private readonly agent: Agent;

  constructor(policy: UrlPolicy, options: SenderOptions = DEFAULT_SENDER_OPTIONS) {
    this.policy = policy;
    this.options = options;
    this.agent = new Agent({
      connect: { lookup: guardedLookup(policy), timeout: options.connectTimeoutMs },
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.responseTimeoutMs,
      connections: 16,
    });
  }

  async send(url: string, id: string, body: string, secrets: readonly string[]): Promise<AttemptResult> {
    const started = Date.now();
    const done = (r: Omit<AttemptResult, 'duration_ms'>): AttemptResult => ({ ...r, duration_ms: Date.now() - started });
    const check = await checkWebhookUrl(url, this.policy);
    if (!check.ok) return done({ ok: false, status_code: null, error: `refused: url ${check.reason}` });
    try {
      const timestamp = Math.floor(Date.now() / 1000);
      // A demo host (npm start) is delivered to its loopback receiver.
      const res = await request(check.deliverTo ?? check.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', 'user-agent': 'Facet-Webhooks/1.0', ...signedHeaders(secrets, id, timestamp, body) },
        body,
        signal: AbortSignal.timeout(this.options.connectTimeoutMs + this.options.responseTimeoutMs),
      });
      let read = 0;
      for await (const chunk of res.body) {
        read += (chunk as Buffer).length;
        if (read >= this.options.maxResponseBytes) {
          res.body.destroy();
          break;
        }
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return done({ ok, status_code: res.statusCode, error: ok ? null : `receiver answered ${res.statusCode}` });
    } catch (error) {
      const e = error as Error & { code?: string; cause?: Error & { code?: string } };
      const code = e.cause?.code ?? e.code;
      const reason = code === 'FACET_WEBHOOK_ADDRESS_REFUSED' ? `refused: ${e.cause?.message ?? e.message}` : `${code ?? e.name}: ${e.message}`;
      return done({ ok: false, status_code: null, error: reason.slice(0, 500) });
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
