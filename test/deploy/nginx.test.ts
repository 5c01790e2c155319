// deploy/nginx/nginx.conf through `nginx -t`. nginx resolves upstream names
// at start-up, so the test copy points them at 127.0.0.1; pid and error log
// and the logs go to a temporary folder, so the check needs no root paths.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hasTool, read, run, tempDir } from './helpers.ts';

const CONF = 'deploy/nginx/nginx.conf';

function nginxTest(text: string): { status: number | null; output: string } {
  assert.ok(hasTool('nginx'), 'nginx is not installed (apt-get install nginx-light; .ci/run does it)');
  const dir = tempDir('nginx');
  const file = join(dir, 'nginx.conf');
  const local = text
    .replace(/\bserver\s+gateway-\d+:8080/g, 'server 127.0.0.1:8080')
    .replace('/var/log/nginx/access.log', join(dir, 'access.log'));
  writeFileSync(file, local);
  return run('nginx', ['-t', '-q', '-p', dir, '-c', file, '-g', `pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')};`]);
}

/** The body of the block opened by `header {`, braces balanced. */
function block(text: string, header: string): string {
  const start = text.indexOf(`${header} {`);
  assert.ok(start >= 0, header);
  let depth = 0;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`unbalanced ${header}`);
}

describe('deploy/nginx/nginx.conf', () => {
  const text = read(CONF);

  it('nginx -t accepts it', () => {
    const result = nginxTest(text);
    assert.equal(result.status, 0, result.output);
  });

  it('nginx -t refuses a broken copy', () => {
    const result = nginxTest(text.replace('proxy_buffering off;', 'proxy_bufering off;'));
    assert.notEqual(result.status, 0);
    assert.match(result.output, /unknown directive "proxy_bufering"/);
  });

  it('keeps connections to the replicas alive (HTTP/1.1, no Connection header)', () => {
    assert.match(block(text, 'upstream facet_gateways'), /^\s*keepalive \d+;/m);
    assert.match(text, /proxy_http_version 1\.1;/);
    assert.match(text, /proxy_set_header Connection '';/);
  });

  it('passes the request id and the trace context', () => {
    assert.match(text, /proxy_set_header X-Request-Id \$facet_request_id;/);
    assert.match(text, /proxy_set_header traceparent \$http_traceparent;/);
    assert.match(text, /proxy_set_header tracestate \$http_tracestate;/);
  });

  it('does not buffer the SSE order stream, and refuses /metrics from outside', () => {
    const stream = block(text, 'location = /internal/v1/orders/stream');
    assert.match(stream, /proxy_buffering off;/);
    assert.match(stream, /proxy_read_timeout 1h;/);
    assert.match(block(text, 'location = /metrics'), /return 404;/);
  });

  it('never sends a request that reached a gateway to another one', () => {
    assert.match(text, /^\s*proxy_next_upstream error;/m);
  });
});
