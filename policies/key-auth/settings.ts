// key-auth's part of the `quota:` section of gateway.config.yml: how many
// unknown API keys one client address may try before it is blocked.

import type { PolicySettingsSchema } from '../../platform/pipeline/policy.ts';

export interface KeyGuardSettings {
  /** Failed API-key attempts per client address before it is blocked. */
  invalidKeyAttempts: number;
  invalidKeyWindowSec: number;
  invalidKeyBlockSec: number;
}

export const keyGuardSettings: PolicySettingsSchema<KeyGuardSettings> = {
  section: 'quota',
  properties: {
    invalidKeyAttempts: { type: 'integer', minimum: 1, default: 20 },
    invalidKeyWindowSec: { type: 'integer', minimum: 1, default: 60 },
    invalidKeyBlockSec: { type: 'integer', minimum: 1, default: 300 },
  },
};
