// Stand-in for `k6/execution`.
import { state } from './state.ts';

const scenario = {
  name: 'test',
  executor: 'constant-arrival-rate',
  startTime: 0,
  progress: 0,
  iterationInInstance: 0,
  get iterationInTest(): number {
    return state.iteration++;
  },
};

export default {
  scenario,
  instance: { iterationsInterrupted: 0, iterationsCompleted: 0, vusActive: 1, vusInitialized: 1, currentTestRunDuration: 0 },
  vu: { iterationInInstance: 0, iterationInScenario: 0, idInInstance: 1, idInTest: 1, tags: {}, metrics: { tags: {}, metadata: {} } },
  test: {
    abort(message?: string): never {
      throw new Error(message ?? 'abort');
    },
    fail(message?: string): never {
      throw new Error(message ?? 'fail');
    },
    options: {},
  },
};
