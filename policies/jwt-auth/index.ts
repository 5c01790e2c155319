// jwt-auth: operators and internal callers present a bearer JWT (HS256 or
// RS256, verified with jose) whose role claim must be one of `roles`. Every
// token names its holder (`sub`) and ends (`exp`), within maxLifetimeSeconds:
// a stolen token must not work forever, and every take names who took it.

import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import { jwtVerify, type JWTVerifyOptions } from 'jose';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { stepPicker, type PolicyDefinition, type PolicyStep } from '../../platform/pipeline/policy.ts';
import { addVary } from '../../platform/pipeline/vary.ts';
import { internalCaller } from '../../platform/pipeline/internal-caller.ts';
import { kOperator } from '../../platform/pipeline/request-state.ts';

export interface JwtAuthAction {
  algorithms: ('HS256' | 'RS256')[];
  secret?: string;
  publicKey?: string;
  issuer?: string;
  audience?: string;
  roleClaim: string;
  roles: string[];
  clockToleranceSec: number;
  /** Longest lifetime a token may claim: exp - iat, or exp - now without iat. */
  maxLifetimeSeconds: number;
}

const MIN_SECRET_LENGTH = 32;

interface CompiledStep {
  step: PolicyStep<JwtAuthAction>;
  keys: { alg: string; key: KeyObject }[];
  options: JWTVerifyOptions;
}

function compile(step: PolicyStep<JwtAuthAction>): CompiledStep {
  const { action } = step;
  const keys: CompiledStep['keys'] = [];
  if (action.algorithms.includes('HS256') && action.secret) keys.push({ alg: 'HS256', key: createSecretKey(Buffer.from(action.secret, 'utf8')) });
  if (action.algorithms.includes('RS256') && action.publicKey) keys.push({ alg: 'RS256', key: createPublicKey(action.publicKey) });
  // sub and exp are required by claimProblem, after the signature: its answer can then say which is missing.
  const options: JWTVerifyOptions = { clockTolerance: action.clockToleranceSec };
  if (action.issuer) options.issuer = action.issuer;
  if (action.audience) options.audience = action.audience;
  return { step, keys, options };
}

/** Why an authentic token is still refused (its holder or its end is missing, or it lives too long), or undefined. */
export function claimProblem(payload: Record<string, unknown>, action: Pick<JwtAuthAction, 'maxLifetimeSeconds' | 'clockToleranceSec'>, nowSec = Math.floor(Date.now() / 1000)): string | undefined {
  const { sub, exp, iat } = payload;
  if (typeof sub !== 'string' || sub === '') return 'The bearer token must name its holder (sub)';
  if (typeof exp !== 'number') return 'The bearer token must carry an expiry (exp)';
  const start = typeof iat === 'number' ? iat : nowSec;
  if (exp - start > action.maxLifetimeSeconds + action.clockToleranceSec) {
    return `The bearer token lives longer than ${action.maxLifetimeSeconds} s; ask for a shorter-lived token`;
  }
  return undefined;
}

function roleOf(payload: Record<string, unknown>, claim: string): string[] {
  const value = payload[claim];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

export const jwtAuthPolicy: PolicyDefinition<JwtAuthAction> = {
  name: 'jwt-auth',
  terminal: false,
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['HS256', 'RS256'] }, default: ['HS256'] },
      secret: { type: 'string' },
      publicKey: { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      roleClaim: { type: 'string', default: 'role' },
      roles: { type: 'array', minItems: 1, items: { type: 'string' }, default: ['operator'] },
      clockToleranceSec: { type: 'integer', minimum: 0, maximum: 300, default: 5 },
      maxLifetimeSeconds: { type: 'integer', minimum: 60, maximum: 604_800, default: 43_200 },
    },
  },
  check(action) {
    const problems: string[] = [];
    if (action.algorithms.includes('HS256')) {
      if (!action.secret) problems.push('secret: is required for HS256');
      else if (action.secret.length < MIN_SECRET_LENGTH) problems.push(`secret: must be at least ${MIN_SECRET_LENGTH} characters`);
    }
    if (action.algorithms.includes('RS256')) {
      if (!action.publicKey) problems.push('publicKey: is required for RS256 (a PEM SPKI public key)');
      else {
        try {
          createPublicKey(action.publicKey);
        } catch {
          problems.push('publicKey: is not a valid PEM public key');
        }
      }
    }
    return problems;
  },
  build(steps) {
    const pickStep = stepPicker(steps);
    const compiled = steps.map(compile);
    const challenge = 'Bearer realm="facet-internal"';
    const hook: onRequestHookHandler = async (request, reply) => {
      const step = pickStep(request);
      if (!step) return;
      // Every answer here depends on the token (refusals included).
      addVary(reply, 'Authorization');
      // The gateway's own in-process request (refresh-ahead): no token, and none needed.
      const internal = internalCaller();
      if (internal) {
        request[kOperator] = internal;
        return;
      }
      const { keys, options } = compiled[steps.indexOf(step)] as CompiledStep;
      const invalid = (detail: string): FacetError =>
        new FacetError('FACET_ERR_AUTH_INVALID_TOKEN', { detail, headers: { 'www-authenticate': `${challenge}, error="invalid_token"` } });
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
      if (!match) {
        throw new FacetError('FACET_ERR_AUTH_MISSING_TOKEN', { detail: 'Send a bearer token in the Authorization header', headers: { 'www-authenticate': challenge } });
      }
      const token = match[1] as string;
      let payload: Record<string, unknown> | undefined;
      for (const { alg, key } of keys) {
        try {
          payload = (await jwtVerify(token, key, { ...options, algorithms: [alg] })).payload;
          break;
        } catch {
          // try the next key; the error below names no reason on purpose
        }
      }
      if (!payload) throw invalid('The bearer token is invalid or expired');
      // Authentic, so saying which claim is wrong tells nothing to a forger.
      const problem = claimProblem(payload, step.action);
      if (problem) throw invalid(problem);
      const roles = roleOf(payload, step.action.roleClaim);
      const role = roles.find((r) => step.action.roles.includes(r));
      if (!role) throw new FacetError('FACET_ERR_AUTH_FORBIDDEN', { detail: `This operation needs the role ${step.action.roles.join(' or ')}` });
      request[kOperator] = { subject: payload.sub as string, role, expiresAt: (payload.exp as number) * 1000 };
    };
    return { onRequest: [hook] };
  },
};
