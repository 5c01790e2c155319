// Server-Sent Events over fetch(). EventSource cannot send an Authorization
// header, and the operators' stream authenticates by it, so the page reads
// the stream itself: the same framing (WHATWG HTML §9.2), `retry:` honoured,
// and after any end or error it reconnects with `Last-Event-ID`, so the
// gateway replays what the page missed.

export interface StreamEvent {
  id: string | undefined;
  type: string;
  data: string;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface EventStreamOptions {
  url: () => string;
  headers: () => Record<string, string>;
  onEvent(event: StreamEvent): void;
  onState(state: StreamState, detail?: string): void;
}

const MAX_DELAY_MS = 15_000;

export class EventStreamClient {
  private readonly options: EventStreamOptions;
  private controller: AbortController | undefined;
  private running = false;
  private retryMs = 1_000;
  private failures = 0;
  /** The id of the last event received: where a reconnect resumes. */
  lastEventId: string | undefined;

  constructor(options: EventStreamOptions) {
    this.options = options;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    this.controller?.abort();
    this.options.onState('stopped');
  }

  /** Starts again from now (a new filter): no replay of the old one's events. */
  restart(): void {
    this.stop();
    this.lastEventId = undefined;
    this.start();
  }

  private async loop(): Promise<void> {
    let first = true;
    while (this.running) {
      this.options.onState(first ? 'connecting' : 'reconnecting');
      first = false;
      let waitMs = this.retryMs;
      try {
        const outcome = await this.readOnce();
        if (outcome.kind === 'refused') {
          this.running = false;
          this.options.onState('stopped', outcome.detail);
          return;
        }
        if (outcome.kind === 'busy') waitMs = outcome.retryAfterMs;
        else this.failures = 0;
      } catch {
        if (!this.running) return;
        this.failures++;
        // Backing off while the gateway is unreachable: 1 s, 2 s, 4 s … 15 s.
        waitMs = Math.min(MAX_DELAY_MS, this.retryMs * 2 ** Math.min(this.failures - 1, 4));
      }
      if (!this.running) return;
      this.options.onState('reconnecting', `reconnecting in ${Math.round(waitMs / 1000)} s`);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  private async readOnce(): Promise<{ kind: 'ended' } | { kind: 'refused'; detail: string } | { kind: 'busy'; retryAfterMs: number }> {
    const controller = new AbortController();
    this.controller = controller;
    const headers: Record<string, string> = { accept: 'text/event-stream', ...this.options.headers() };
    if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId;
    const response = await fetch(this.options.url(), { headers, signal: controller.signal, cache: 'no-store' });
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      return { kind: 'refused', detail: 'The gateway refused the token: enter a valid operator token.' };
    }
    if (response.status === 429 || response.status === 503) {
      await response.body?.cancel();
      return { kind: 'busy', retryAfterMs: Math.max(1, Number(response.headers.get('retry-after')) || 2) * 1000 };
    }
    if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
    this.options.onState('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event: { id?: string; type?: string; data: string[] } = { data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { kind: 'ended' };
      buffer += value;
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (event.data.length > 0) {
            if (event.id !== undefined) this.lastEventId = event.id;
            this.options.onEvent({ id: event.id, type: event.type ?? 'message', data: event.data.join('\n') });
          }
          event = { data: [] };
          continue;
        }
        if (line.startsWith(':')) continue; // heartbeat
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') event.data.push(text);
        else if (field === 'event') event.type = text;
        else if (field === 'id') event.id = text;
        else if (field === 'retry' && /^\d+$/.test(text)) this.retryMs = Number(text);
      }
    }
  }
}
