// Calls to Facet's APIs from a page: same origin, JSON in and out, and a
// problem+json answer turned into words a person reads.

export interface Problem {
  status: number;
  code?: string;
  title?: string;
  detail?: string;
}

export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
    this.problem = problem;
  }
}

export interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

export async function callApi<T>(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method: init.method ?? 'GET', headers, ...(init.body !== undefined && { body: JSON.stringify(init.body) }), cache: 'no-store' });
  } catch {
    throw new ApiError({ status: 0, title: 'Facet cannot be reached', detail: 'The gateway did not answer: check your connection and try again.' });
  }
  const text = await response.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) {
    const problem = (typeof body === 'object' && body !== null ? body : {}) as Partial<Problem>;
    throw new ApiError({ status: response.status, code: problem.code, title: problem.title, detail: problem.detail });
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** One sentence for a failed call, with the advice that fits its status. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error);
  const { status, title, detail } = error.problem;
  const text = detail ?? title ?? `The request failed (HTTP ${status}).`;
  if (status === 401) return `${text} Check the credential you entered.`;
  if (status === 429) return `${text} Wait a moment and try again.`;
  return text;
}

/** The operator id (`sub`) a JWT names, for display only: the gateway checks the token. */
export function subjectOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof json.sub === 'string' ? json.sub : undefined;
  } catch {
    return undefined;
  }
}
