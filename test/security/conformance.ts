// What every answer must be: no 5xx; a status the operation documents; a body
// that validates against the documented schema; every error a problem+json
// document shaped by the error catalogue.

import { PROBLEMS, problemType, type ProblemCode } from '../../platform/errors/catalogue.ts';
import { documentedResponse, isObject, specs, validatorFor, type Operation } from './contract.ts';
import type { Answer } from './http.ts';

const PROBLEM_MEDIA = 'application/problem+json';

/** Why the answer breaks the catalogue's problem shape ([] when it does not). */
export function problemShapeErrors(answer: Answer): string[] {
  const errors: string[] = [];
  if (!(answer.headers['content-type'] ?? '').startsWith(PROBLEM_MEDIA)) errors.push(`content-type ${answer.headers['content-type']} is not ${PROBLEM_MEDIA}`);
  const body = answer.json;
  if (!isObject(body)) return [...errors, `body is not a JSON object: ${answer.text.slice(0, 120)}`];
  const kind = PROBLEMS[body.code as ProblemCode] as (typeof PROBLEMS)[ProblemCode] | undefined;
  if (!kind) return [...errors, `code ${String(body.code)} is not in the catalogue`];
  if (body.status !== answer.status || kind.status !== answer.status) errors.push(`status ${String(body.status)} / catalogue ${kind.status} / HTTP ${answer.status}`);
  if (body.type !== problemType(body.code as ProblemCode)) errors.push(`type ${String(body.type)}`);
  if (body.title !== kind.title) errors.push(`title ${String(body.title)}`);
  if (typeof body.request_id !== 'string' || body.request_id !== answer.headers['x-request-id']) errors.push('request_id is not the X-Request-Id');
  return errors;
}

/** Everything wrong with `answer` as an answer of `op` ([] when all holds). */
export function conformanceErrors(op: Operation, answer: Answer): string[] {
  const errors: string[] = [];
  if (answer.status >= 500 && !(op.operationId === 'getReadiness' && answer.status === 503)) errors.push(`5xx: ${answer.status} ${answer.text.slice(0, 200)}`);
  // Node's parser answers 431 before routing when the request head is over 16 KiB: documented once, in the spec's errors table.
  if (answer.status === 431 && String((specs[op.spec].info as { description?: string }).description).includes('| 431 | `FACET_ERR_HEADERS_TOO_LARGE`')) return [...errors, ...problemShapeErrors(answer)];
  const documented = documentedResponse(op, answer.status);
  if (!documented) return [...errors, `status ${answer.status} is not documented for ${op.operationId} (${answer.json && isObject(answer.json) ? String(answer.json.code) : ''})`];
  const media = (answer.headers['content-type'] ?? '').split(';', 1)[0]?.trim() ?? '';
  if (answer.status >= 400 && !documented.content.has('application/json')) errors.push(...problemShapeErrors(answer));
  if (documented.content.size > 0 && answer.status !== 304) {
    const schema = documented.content.get(media);
    if (schema === undefined) {
      errors.push(`content-type ${media} is not documented for ${op.operationId} ${answer.status} (${[...documented.content.keys()].join(', ')})`);
    } else if (media !== 'text/event-stream' && schema !== null && typeof schema === 'object') {
      const validate = validatorFor(op.spec, schema);
      if (!validate(answer.json)) errors.push(`body does not match the ${answer.status} schema: ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).join('; ')}`);
    }
  }
  return errors;
}
