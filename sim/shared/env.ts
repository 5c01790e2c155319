// Environment shared by the simulators' standalone mains.
import { intFromEnv } from './latency.ts';

export interface CommonSimEnv {
  host: string;
  orderCount: number;
  sellerCount: number;
}

/** SIM_HOST (default 127.0.0.1), SIM_ORDER_COUNT (50000), SIM_SELLER_COUNT (20). */
export function simEnv(env: NodeJS.ProcessEnv = process.env): CommonSimEnv {
  return {
    host: env.SIM_HOST || '127.0.0.1',
    orderCount: intFromEnv('SIM_ORDER_COUNT', 50_000, env),
    sellerCount: intFromEnv('SIM_SELLER_COUNT', 20, env),
  };
}
