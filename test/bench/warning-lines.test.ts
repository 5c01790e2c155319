// warningLines() picks a Facet process's warnings out of its output: the
// failover benchmark and the cluster tests print them when an outage lasts.
// Checked against lines written by the project's own logger options, so a
// change of its level format shows here, not as an empty diagnostic.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { warningLines } from '../../loadtests/bench/processes.ts';
import { loggerOptions } from '../../platform/logging.ts';

test('warningLines keeps warn, error and fatal lines of the project logger, not info or debug', () => {
  let output = '';
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { output += chunk.toString(); done(); } });
  const logger = pino(loggerOptions('bench-test', 'debug'), sink);
  logger.debug('d');
  logger.info('i');
  logger.warn('bus connection lost');
  logger.error('bus set-up failed; reconnecting');
  logger.fatal('f');
  const lines = warningLines(output);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['bus connection lost', 'bus set-up failed; reconnecting', 'f']);
});
