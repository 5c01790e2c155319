// The CRM's and MES's answer contracts (contracts/upstream-answers.ts),
// compiled once when this module loads: `CRM.getOrder.check(...)` validates
// an answer with no compilation on the request path.

import { CRM_ANSWERS, MES_ANSWERS, type AnswerContract } from '../../contracts/upstream-answers.ts';
import { upstreamOperation, type UpstreamOperation } from './contract.ts';

type Compiled<D> = { readonly [K in keyof D]: D[K] extends AnswerContract<infer T> ? UpstreamOperation<T> : never };

function compile<D extends Record<string, AnswerContract<unknown>>>(definitions: D): Compiled<D> {
  return Object.fromEntries(Object.entries(definitions).map(([key, definition]) => [key, upstreamOperation(definition)])) as Compiled<D>;
}

export const CRM = compile(CRM_ANSWERS);
export const MES = compile(MES_ANSWERS);

/** Upstream operations a pass-through route may relay, by `METHOD path` on the upstream. */
export const RELAYED: ReadonlyMap<string, UpstreamOperation<unknown>> = new Map([[MES.materials.name, MES.materials]]);
