// Stand-in for `k6/metrics`: remembers each metric's type and every sample.
import { state } from './state.ts';
import type { MetricType } from './state.ts';

class Metric {
  readonly name: string;
  constructor(name: string, type: MetricType, isTime = false) {
    const known = state.metricTypes[name];
    if (known && known.type !== type) throw new Error(`metric ${name} redefined as ${type} (was ${known.type})`);
    if (!/^[A-Za-z0-9_]{1,128}$/.test(name)) throw new Error(`invalid metric name ${name}`);
    state.metricTypes[name] = { type, isTime };
    this.name = name;
  }

  add(value: number | boolean, tags: Record<string, string> = {}): void {
    state.samples.push({ metric: this.name, value: typeof value === 'boolean' ? (value ? 1 : 0) : value, tags: { ...state.currentTags, ...tags } });
  }
}

export class Counter extends Metric {
  constructor(name: string) {
    super(name, 'counter');
  }
}
export class Gauge extends Metric {
  constructor(name: string, isTime = false) {
    super(name, 'gauge', isTime);
  }
}
export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate');
  }
}
export class Trend extends Metric {
  constructor(name: string, isTime = false) {
    super(name, 'trend', isTime);
  }
}
