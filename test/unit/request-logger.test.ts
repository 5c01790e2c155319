// The lazy per-request logger: no pino child for a request that writes
// nothing; the same lines, bindings included, for one that does.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { pino } from 'pino';
import { loggerOptions } from '../../platform/logging.ts';
import { lazyChildLogger } from '../../platform/request-logger.ts';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino(loggerOptions('test', level), stream);
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  }) as typeof logger.child;
  return { logger, lines, children: () => children };
}

describe('lazy request logger', () => {
  it('a request that logs nothing at its level makes no child logger; one that logs keeps its request id and redaction', async () => {
    const { logger, lines, children } = capture('warn');
    const app = Fastify({ loggerInstance: logger, childLoggerFactory: lazyChildLogger, disableRequestLogging: true });
    app.get('/quiet', async (request) => {
      request.log.info('not written at warn');
      request.log.debug({ x: 1 }, 'nor this');
      return { ok: true };
    });
    app.get('/loud', async (request) => {
      request.log.warn({ headers: { 'x-api-key': 'secret-key' } }, 'written');
      return { ok: true };
    });
    await app.ready();
    const before = children();
    for (let i = 0; i < 5; i++) assert.equal((await app.inject({ method: 'GET', url: '/quiet' })).statusCode, 200);
    assert.equal(children() - before, 0, 'no child logger for quiet requests');
    const loud = await app.inject({ method: 'GET', url: '/loud' });
    assert.equal(loud.statusCode, 200);
    assert.equal(children() - before, 1);
    const written = lines.filter((l) => l.msg === 'written');
    assert.equal(written.length, 1);
    assert.ok(typeof written[0]!.reqId === 'string', 'the request id binding is on the line');
    assert.deepEqual(written[0]!.headers, { 'x-api-key': '[redacted]' });
    assert.equal(lines.filter((l) => l.msg !== 'written' && String(l.msg).includes('not written')).length, 0);
    await app.close();
  });
});
