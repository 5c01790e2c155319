// A seller's effective limits: its plan, with its own overrides on top.

import type { GatewayConfig, PlanLimits } from './config.ts';

export interface EffectiveLimits extends PlanLimits {
  plan: string;
  tier: 'free' | 'paid';
}

export function limitsFor(config: GatewayConfig, consumerId: string, planName: string): EffectiveLimits {
  const plan = config.plans[planName];
  if (!plan) throw new Error(`unknown plan ${planName}`);
  const overrides = config.consumers.find((c) => c.id === consumerId)?.overrides ?? {};
  return {
    plan: planName,
    tier: plan.tier,
    rate: { ...plan.rate, ...overrides.rate },
    dailyQuota: overrides.dailyQuota ?? plan.dailyQuota,
    concurrentPriceJobs: overrides.concurrentPriceJobs ?? plan.concurrentPriceJobs,
    uploadMaxBytes: overrides.uploadMaxBytes ?? plan.uploadMaxBytes,
  };
}
