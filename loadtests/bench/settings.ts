// The settings of one benchmark run (main.ts reads them from the command
// line), in a module of their own: the runner applies them, the scenarios
// size their load by them (scenarios/types.ts) and the report prints them,
// and the runner itself imports the scenarios' types, so the settings
// cannot live in runner.ts without the two importing each other.

export interface BenchSettings {
  mode: 'full' | 'smoke';
  durationS: number;
  warmupS: number;
  connections: number;
  rounds: number;
  /**
   * A run whose (connection errors + non-2xx answers) / attempts exceeds
   * this fails the benchmark. Non-2xx answers a variant declares as
   * expected (Variant.expected, e.g. 503 FACET_ERR_OVERLOADED while
   * shedding) are left out; nothing else is.
   */
  maxErrorRate: number;
}
