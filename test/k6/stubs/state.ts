// Shared state of the k6 stand-ins (test/k6/stubs): what the scripts under
// test sent, recorded and checked, and how the fake server answers.

export interface StubRequest {
  method: string;
  url: string;
  body: unknown;
  params: { headers?: Record<string, string>; tags?: Record<string, string>; timeout?: string | number } | undefined;
  /** The sample tags k6 would give it: the scenario's (state.currentTags) and the request's. */
  tags: Record<string, string>;
  /** Filled in once answered. */
  status?: number;
  duration?: number;
}

export interface StubResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
  timings: { duration: number };
}

export interface Sample {
  metric: string;
  value: number;
  tags: Record<string, string>;
}

export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend';

export const state = {
  requests: [] as StubRequest[],
  samples: [] as Sample[],
  checks: [] as Array<{ name: string; ok: boolean; tags: Record<string, string> }>,
  sleeps: [] as number[],
  metricTypes: {} as Record<string, { type: MetricType; isTime: boolean }>,
  iteration: 0,
  /** Called by sleep() (a live run really waits). */
  onSleep: (_seconds: number): void => {},
  /** Tags k6 adds to every sample of the running scenario: { scenario, ...its tags }. */
  currentTags: {} as Record<string, string>,
  respond: (_request: StubRequest): StubResponse => ({ status: 200, body: '{}', headers: { 'Content-Type': 'application/json' }, timings: { duration: 1 } }),
  reset(): void {
    state.requests = [];
    state.samples = [];
    state.checks = [];
    state.sleeps = [];
    state.iteration = 0;
    state.currentTags = {};
    state.onSleep = () => {};
    state.respond = () => ({ status: 200, body: '{}', headers: { 'Content-Type': 'application/json' }, timings: { duration: 1 } });
  },
};
