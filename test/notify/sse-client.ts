// A minimal Server-Sent Events reader for tests: one socket per client (no
// agent pooling), events and comments parsed as they arrive.

import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private buffer = '';
  private readonly req: ClientRequest;
  readonly res: IncomingMessage;

  private constructor(req: ClientRequest, res: IncomingMessage) {
    this.req = req;
    this.res = res;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    res.on('end', () => (this.ended = true));
    res.on('close', () => (this.ended = true));
    res.on('error', () => (this.ended = true));
  }

  /** Opens the stream; rejects with the status and body when it is not a 200 event stream. */
  static open(url: string, headers: Record<string, string>): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => reject(Object.assign(new Error(`status ${res.statusCode}: ${body}`), { status: res.statusCode, body, headers: res.headers })));
          return;
        }
        resolve(new SseClient(req, res));
      });
      req.on('error', reject);
      req.end();
    });
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      let isEvent = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('event: ')) {
          event = line.slice(7);
          isEvent = true;
        } else if (line.startsWith('data: ')) {
          data.push(line.slice(6));
          isEvent = true;
        }
      }
      if (isEvent) this.events.push({ id, event, data: data.join('\n') });
    }
  }

  async waitFor(check: (client: SseClient) => boolean, timeoutMs = 5_000, label = 'events'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}; got ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.req.destroy();
  }
}
