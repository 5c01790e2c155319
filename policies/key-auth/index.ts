// key-auth: sellers authenticate with an API key header. Runs in onRequest,
// before the body is read, so an unauthenticated request costs little.
// Unknown keys are throttled per client address (see key-guard.ts).

import type { onRequestHookHandler } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { stepPicker, type PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { kConsumer } from '../../platform/pipeline/request-state.ts';
import { KeyGuard } from './key-guard.ts';
import { keyGuardSettings, type KeyGuardSettings } from './settings.ts';

export interface KeyAuthAction {
  header: string;
}

export const keyAuthPolicy: PolicyDefinition<KeyAuthAction, KeyGuardSettings, KeyGuard> = {
  name: 'key-auth',
  terminal: false,
  settings: keyGuardSettings,
  // Kept across reloads while its settings stay: the addresses it blocked stay blocked.
  createService: (host, settings) => host.retain(`key-auth.guard:${JSON.stringify(settings)}`, () => ({ value: new KeyGuard(settings, host.redis) })),
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { header: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$', default: 'X-API-Key' } },
  },
  build(steps, _route, { consumers, service: keyGuard, metrics }) {
    const pickStep = stepPicker(steps);
    const throttled = (seconds: number) => {
      metrics.authFailures.inc({ reason: 'throttled' });
      return new FacetError('FACET_ERR_AUTH_THROTTLED', {
        detail: 'Too many unknown API keys from this address; try again later',
        headers: { 'retry-after': String(seconds) },
      });
    };
    const hook: onRequestHookHandler = async (request) => {
      const step = pickStep(request);
      if (!step) return;
      const headerName = step.action.header;
      const challenge = { 'www-authenticate': `ApiKey header="${headerName}"` };
      const presented = request.headers[headerName.toLowerCase()];
      if (typeof presented !== 'string' || presented === '') {
        metrics.authFailures.inc({ reason: 'missing_key' });
        throw new FacetError('FACET_ERR_AUTH_MISSING_KEY', { detail: `Send your API key in the ${headerName} header`, headers: challenge });
      }
      // A blocked address gets no verdict on any key, so guessing learns nothing.
      const blockedFor = keyGuard.blockedFor(request.ip);
      if (blockedFor > 0) throw throttled(blockedFor);
      const found = consumers.lookup(presented);
      if (found.outcome !== 'ok') {
        metrics.authFailures.inc({ reason: found.outcome === 'revoked' ? 'revoked_key' : 'invalid_key' });
        const nowBlocked = await keyGuard.recordFailure(request.ip);
        if (nowBlocked > 0) throw throttled(nowBlocked);
        throw new FacetError('FACET_ERR_AUTH_INVALID_KEY', {
          detail: found.outcome === 'revoked' ? 'This API key has been revoked' : 'This API key is not recognised',
          headers: challenge,
        });
      }
      request[kConsumer] = found.consumer;
    };
    return { onRequest: [hook] };
  },
};
