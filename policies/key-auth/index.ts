// key-auth: sellers authenticate with an API key header. Runs in onRequest,
// before the body is read, so an unauthenticated request costs little.
// Unknown keys are throttled per client address (see key-guard.ts).

import { hash } from 'node:crypto';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Consumer, KeyLookup } from '../../platform/pipeline/consumers.ts';
import { API_KEY_FORMAT, refusalOf, type KeyRecord } from '../../platform/keys/seller-keys.ts';
import { addVary } from '../../platform/pipeline/vary.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { stepPicker, type PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { kConsumer } from '../../platform/pipeline/request-state.ts';
import { KeyGuard } from './key-guard.ts';
import { keyGuardSettings, type KeyGuardSettings } from './settings.ts';

const DETAIL = {
  invalid: 'This API key is not recognised',
  revoked: 'This API key has been revoked',
  expired: 'This API key has expired (it was rotated); use its successor',
} as const;

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
  build(steps, _route, { consumers, service: keyGuard, metrics, keys }) {
    const pickStep = stepPicker(steps);
    const throttled = (seconds: number) => {
      metrics.authFailures.inc({ reason: 'throttled' });
      return new FacetError('FACET_ERR_AUTH_THROTTLED', {
        detail: 'Too many unknown API keys from this address; try again later',
        headers: { 'retry-after': String(seconds) },
      });
    };
    type Verdict = { outcome: 'ok'; consumer: Consumer; digest: string } | { outcome: 'invalid' | 'revoked' | 'expired' };
    const refuse = (request: FastifyRequest, outcome: Exclude<Verdict['outcome'], 'ok'>, challenge: Record<string, string>): Promise<FacetError> => {
      metrics.authFailures.inc({ reason: `${outcome}_key` });
      return keyGuard.recordFailure(request.ip).then((nowBlocked) => (nowBlocked > 0 ? throttled(nowBlocked) : new FacetError('FACET_ERR_AUTH_INVALID_KEY', { detail: DETAIL[outcome], headers: challenge })));
    };
    // A callback hook: a known key whose store answer is remembered is decided without a promise.
    const hook: onRequestHookHandler = (request, reply, done) => {
      const step = pickStep(request);
      if (!step) return done();
      const headerName = step.action.header;
      // Every answer here depends on the key (refusals included).
      addVary(reply, headerName);
      const presented = request.headers[headerName.toLowerCase()];
      if (typeof presented !== 'string' || presented === '') {
        metrics.authFailures.inc({ reason: 'missing_key' });
        return done(new FacetError('FACET_ERR_AUTH_MISSING_KEY', { detail: `Send your API key in the ${headerName} header`, headers: challengeOf(headerName) }));
      }
      // A blocked address gets no verdict on any key, so guessing learns nothing.
      const blockedFor = keyGuard.blockedFor(request.ip);
      if (blockedFor > 0) return done(throttled(blockedFor));
      // One-shot: no Hash object per request.
      const digest = hash('sha256', presented, 'buffer');
      const settle = (verdict: Verdict): void => {
        if (verdict.outcome !== 'ok') return void refuse(request, verdict.outcome, challengeOf(headerName)).then(done, done);
        request[kConsumer] = verdict.consumer;
        keys.touch(verdict.digest);
        done();
      };
      const hex = digest.toString('hex');
      const configured = consumers.lookupDigest(digest);
      if (configured.outcome === 'revoked') return settle({ outcome: 'revoked' });
      const known = configured.outcome === 'ok' ? rememberedVerdict(configured.consumer, hex) : undefined;
      if (known) return settle(known);
      verify(configured, hex, API_KEY_FORMAT.test(presented)).then(settle, done);
    };
    const challengeOf = (headerName: string): Record<string, string> => ({ 'www-authenticate': `ApiKey header="${headerName}"` });
    /** A config key's verdict, given the store's record for it (an override: rotated or revoked since), if any. */
    const configKeyVerdict = (consumer: Consumer, hex: string, override: KeyRecord | undefined): Verdict => {
      const refusal = override?.source === 'config' ? refusalOf(override) : undefined;
      return refusal ? { outcome: refusal } : { outcome: 'ok', consumer, digest: hex };
    };
    /** A config key's verdict without a store read, when the store's answer is remembered (most requests); undefined: ask verify(). */
    const rememberedVerdict = (consumer: Consumer, hex: string): Verdict | undefined => {
      const memo = keys.remembered(hex);
      return memo ? configKeyVerdict(consumer, hex, memo.record) : undefined;
    };
    /**
     * A config key is known at once; the store may say it was rotated or
     * revoked since. Any other key may have been made through the API. The
     * store's answers are remembered for at most half a second, so a
     * revocation reaches every replica within that.
     */
    const verify = async (configured: Exclude<KeyLookup, { outcome: 'revoked' }>, hex: string, mayBeIssued: boolean): Promise<Verdict> => {
      if (configured.outcome === 'ok') {
        // Store unreachable: the last known answer stands (find never throws for these).
        return configKeyVerdict(configured.consumer, hex, await keys.find(hex, false).catch(() => undefined));
      }
      // Only a key of the issued format is looked up: a guess or a typo never reaches the store.
      if (!mayBeIssued) return { outcome: 'invalid' };
      const record = await keys.find(hex);
      if (!record || record.source !== 'api') return { outcome: 'invalid' };
      const refusal = refusalOf(record);
      if (refusal) return { outcome: refusal };
      // The seller must still be in the config: its plan applies.
      const seller = consumers.seller(record.seller_id);
      return seller ? { outcome: 'ok', consumer: { ...seller, keyId: record.id }, digest: hex } : { outcome: 'invalid' };
    };
    return { onRequest: [hook] };
  },
};
