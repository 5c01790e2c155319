// The ES module hook the instrumentations need to see packages that an ES
// module imports (require-in-the-middle only sees `require`). With the
// message channel, import-in-the-middle wraps only the modules an
// instrumentation asked for, not every file of the application.

import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';

/**
 * Registers the hook. Enable the instrumentations next, then await the
 * returned function: it settles once the loader thread knows every module
 * name they asked for, so no import slips past unwrapped.
 */
export function registerEsmHook(): () => Promise<void> {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  return waitForAllMessagesAcknowledged;
}
