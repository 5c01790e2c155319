// `npm run bench [-- options]`: the in-repo benchmark harness. Starts the
// system under test as child processes, runs the scenarios with autocannon,
// prints markdown, and (full mode) updates docs/performance.md.

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProcessGroup } from './processes.ts';
import { plotScenario, PLOTTED } from './plot.ts';
import { renderSection, runEnvironment, updateDoc } from './report.ts';
import { runScenario } from './runner.ts';
import { findScenario, SCENARIOS } from './scenarios/index.ts';
import type { Scenario } from './scenarios/types.ts';
import type { BenchSettings } from './settings.ts';
import { REPO_ROOT } from './repo-root.ts';
import { rowsOfResult, scenarioCharts, writeCharts } from './svg-charts.ts';

const USAGE = `Usage: npm run bench -- [options]

  --smoke              short run for CI (2 s per measurement, 1 round); never writes docs/;
                       without --scenario, runs the scenarios marked for smoke (see --list)
  --scenario <name>    run one scenario (default: all; see --list)
  --duration <s>       seconds per measurement (full: 10, smoke: 2)
  --connections <n>    concurrent connections (default 50)
  --rounds <n>         interleaved rounds per variant (full: 3, smoke: 1)
  --warmup <s>         seconds of discarded load per variant first (full: 10, smoke: 0.5)
  --no-write           full run without updating docs/performance.md
  --list               list the scenarios
  -h, --help
`;

const DOCS_DIR = join(REPO_ROOT, 'docs');
const DOC_PATH = join(DOCS_DIR, 'performance.md');

function positive(name: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return n;
}

interface Cli {
  settings: BenchSettings;
  scenarios: readonly Scenario[];
  write: boolean;
  list: boolean;
  help: boolean;
}

function parseCli(args: string[]): Cli {
  const { values } = parseArgs({
    args,
    allowNegative: true,
    strict: true,
    options: {
      smoke: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      write: { type: 'boolean', default: true },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const smoke = values.smoke;
  const settings: BenchSettings = {
    mode: smoke ? 'smoke' : 'full',
    durationS: positive('duration', values.duration, smoke ? 2 : 10, false),
    warmupS: values.warmup === '0' ? 0 : positive('warmup', values.warmup, smoke ? 0.5 : 10, false),
    connections: positive('connections', values.connections, 50, true),
    rounds: positive('rounds', values.rounds, smoke ? 1 : 3, true),
    maxErrorRate: 0.001,
  };
  // A smoke run of everything would take minutes: by default it runs the representative subset.
  let scenarios = smoke ? SCENARIOS.filter((s) => s.smoke !== false) : SCENARIOS;
  if (values.scenario !== undefined) {
    const found = findScenario(values.scenario);
    if (!found) throw new Error(`unknown scenario "${values.scenario}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    scenarios = [found];
  }
  return { settings, scenarios, write: !smoke && values.write, list: values.list, help: values.help };
}

async function main(args: string[], cli: Cli): Promise<number> {
  if (cli.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cli.list) {
    for (const s of SCENARIOS) console.log(`${s.name}${s.smoke === false ? '' : ' [smoke]'}\t${s.description}`);
    return 0;
  }

  const abort = new AbortController();
  let current: ProcessGroup | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (abort.signal.aborted) {
      // Second Ctrl-C: do not wait for a graceful stop.
      current?.killAllNow();
      process.exit(130);
    }
    console.error(`\n${signal}: stopping the benchmark and its processes`);
    abort.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => current?.killAllNow());

  const env = runEnvironment(args, REPO_ROOT);
  const log = (line: string): void => console.error(line);
  const sections = new Map<string, string>();
  const failures: string[] = [];
  log(`facet bench (${cli.settings.mode}): ${env.cpus} × ${env.cpuModel}, Node ${env.node}; load generator, gateway and simulators share these CPUs`);
  if (cli.settings.mode === 'smoke' && cli.scenarios.length < SCENARIOS.length) {
    const skipped = SCENARIOS.filter((s) => !cli.scenarios.includes(s));
    log(`smoke: ${cli.scenarios.map((s) => s.name).join(', ')} (the others, ${skipped.map((s) => s.name).join(', ')}, with --smoke --scenario <name>)`);
  }
  for (const scenario of cli.scenarios) {
    try {
      const result = await runScenario(scenario, cli.settings, { signal: abort.signal, onGroup: (g) => (current = g), log });
      // Charts only where the section is written: a smoke run's numbers are not results.
      const charts = cli.write ? scenarioCharts(scenario.name, rowsOfResult(result)) : [];
      const section = renderSection(result, cli.settings, env, charts);
      if (charts.length > 0 && result.failures.length === 0) writeCharts(DOCS_DIR, charts);
      console.log(`\n${section}\n`);
      if (result.failures.length > 0) failures.push(...result.failures);
      else sections.set(scenario.name, section);
    } catch (error) {
      failures.push(`${scenario.name}: ${error instanceof Error ? error.message : String(error)}`);
      break;
    }
  }

  if (cli.write && sections.size > 0) {
    updateDoc(DOC_PATH, sections);
    log(`updated ${DOC_PATH} (${[...sections.keys()].join(', ')})`);
    for (const name of sections.keys()) if (PLOTTED.has(name)) log(`plotted ${plotScenario(DOC_PATH, name)}`);
  } else if (sections.size > 0) {
    const path = join(tmpdir(), `facet-bench-${cli.settings.mode}.md`);
    writeFileSync(path, `${[...sections.values()].join('\n\n')}\n`);
    log(`${cli.settings.mode === 'smoke' ? 'smoke numbers are not results: ' : ''}docs/performance.md left unchanged; sections also in ${path}`);
  }
  if (failures.length > 0) {
    log(`\nFAILED:\n${failures.map((f) => `- ${f}`).join('\n')}`);
    return abort.signal.aborted ? 130 : 1;
  }
  return 0;
}

const argv = process.argv.slice(2);
let cli: Cli;
try {
  cli = parseCli(argv);
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}
// process.exit, not exitCode: a stray keep-alive socket must not hold the run open.
main(argv, cli).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
