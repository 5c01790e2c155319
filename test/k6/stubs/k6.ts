// Stand-in for the `k6` module.
import { state } from './state.ts';

export function check<T>(value: T, sets: Record<string, (v: T) => boolean>, tags: Record<string, string> = {}): boolean {
  let all = true;
  for (const name of Object.keys(sets)) {
    const ok = Boolean(sets[name]?.(value));
    state.checks.push({ name, ok, tags: { ...state.currentTags, ...tags } });
    all = all && ok;
  }
  return all;
}

export function sleep(seconds: number): void {
  state.sleeps.push(seconds);
  state.onSleep(seconds);
}

export function fail(message?: string): never {
  throw new Error(message ?? 'fail()');
}

export function group<T>(_name: string, fn: () => T): T {
  return fn();
}

export default { check, sleep, fail, group };
