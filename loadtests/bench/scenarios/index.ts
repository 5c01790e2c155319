// The scenario registry. Add a scenario by writing a module that exports a
// `Scenario` and listing it here; the runner, CLI and report need no change.

import { proxyGetOrder } from './proxy-get-order.ts';
import type { Scenario } from './types.ts';

export const SCENARIOS: readonly Scenario[] = [proxyGetOrder];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((scenario) => scenario.name === name);
}
