// The console's SSE reader (ui/lib/event-stream.ts), run in Node against a
// local server: the WHATWG framing (CRLF and LF, multi-line data, comments,
// `retry:`), a reconnect after the server ends the stream that sends
// `Last-Event-ID` and the Authorization header again, a wait of Retry-After
// on 503, and a refused token that stops it for good.

import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { EventStreamClient, type StreamEvent, type StreamState } from '../../ui/lib/event-stream.ts';

async function until(check: () => boolean, label: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('EventStreamClient (ui/lib/event-stream.ts)', () => {
  let server: Server;
  let base = '';
  const seen: IncomingHttpHeaders[] = [];
  let script: ((headers: IncomingHttpHeaders, res: ServerResponse) => void)[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      const next = script.shift();
      if (next) next(req.headers, res);
      else res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': idle\n\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('parses the framing, resumes with Last-Event-ID and the header after the server ends the stream, waits Retry-After on 503', async () => {
    seen.length = 0;
    script = [
      (_h, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // CRLF lines, a comment, retry, a two-line data field, an event split across writes.
        res.write('retry: 50\r\n\r\n: heartbeat\r\n\r\nid: 1-0\r\nevent: order.created\r\ndata: {"a":1}\r\n\r\n');
        res.write('id: 2-0\nevent: order.status_changed\ndata: line one\ndata: line two\n');
        setTimeout(() => res.end('\n'), 20);
      },
      (_h, res) => res.writeHead(503, { 'retry-after': '1' }).end(),
      (_h, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('id: 3-0\nevent: order.taken\ndata: {"b":2}\n\n');
      },
    ];
    const events: StreamEvent[] = [];
    const states: StreamState[] = [];
    const client = new EventStreamClient({ url: () => `${base}/stream`, headers: () => ({ authorization: 'Bearer t0k' }), onEvent: (e) => events.push(e), onState: (s) => states.push(s) });
    client.start();
    await until(() => events.length === 3, 'three events');
    client.stop();
    assert.deepEqual(events, [
      { id: '1-0', type: 'order.created', data: '{"a":1}' },
      { id: '2-0', type: 'order.status_changed', data: 'line one\nline two' },
      { id: '3-0', type: 'order.taken', data: '{"b":2}' },
    ]);
    assert.equal(client.lastEventId, '3-0');
    assert.deepEqual(seen.map((h) => [h.authorization, h['last-event-id'], h.accept]), [
      ['Bearer t0k', undefined, 'text/event-stream'],
      ['Bearer t0k', '2-0', 'text/event-stream'],
      ['Bearer t0k', '2-0', 'text/event-stream'],
    ]);
    assert.ok(states.includes('live') && states.includes('reconnecting') && states.at(-1) === 'stopped', states.join(' '));
  });

  it('a refused token stops it, with words for the page', async () => {
    seen.length = 0;
    script = [(_h, res) => res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{}')];
    const details: (string | undefined)[] = [];
    const client = new EventStreamClient({ url: () => `${base}/stream`, headers: () => ({}), onEvent: () => {}, onState: (s, d) => s === 'stopped' && details.push(d) });
    client.start();
    await until(() => details.length === 1, 'stopped');
    assert.match(details[0] ?? '', /refused the token/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 1, 'no retry after a refusal');
  });
});
