// Stand-in for `k6/http`: records each request and answers with state.respond.
import { state } from './state.ts';
import type { StubRequest, StubResponse } from './state.ts';

export function request(method: string, url: string, body?: unknown, params?: StubRequest['params']): StubResponse {
  const req: StubRequest = { method, url, body, params, tags: { ...state.currentTags, ...(params?.tags ?? {}) } };
  state.requests.push(req);
  const res = state.respond(req);
  req.status = res.status;
  req.duration = res.timings.duration;
  return res;
}

export const get = (url: string, params?: StubRequest['params']) => request('GET', url, null, params);
export const post = (url: string, body?: unknown, params?: StubRequest['params']) => request('POST', url, body, params);
export const put = (url: string, body?: unknown, params?: StubRequest['params']) => request('PUT', url, body, params);
export const del = (url: string, body?: unknown, params?: StubRequest['params']) => request('DELETE', url, body, params);

export default { request, get, post, put, del };
