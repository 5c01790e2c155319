// The logger the adapters write through: pino or anything with the same four
// methods (the bus's BusLogger). Silent by default.

import type { BusLogger } from '../../platform/bus/types.ts';

export type AdapterLogger = BusLogger;

export const silentLogger: AdapterLogger = { info() {}, warn() {}, error() {}, debug() {} };
