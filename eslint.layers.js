// Facet's layers, bottom up, and what each may import (docs/architecture.md,
// "Layers"). Kept apart from eslint.config.js so the layering test reads the
// same table the lint rule enforces.
//
//   contracts/, openapi/  the vocabulary, messages, answer schemas, public specs: import nothing of Facet's
//   platform/             what every process shares: contracts/ only
//   policies/             one folder per policy: platform/, contracts/, openapi/
//   gateway/              HTTP: policies/, platform/, contracts/, openapi/
//   adapters/, sim/       platform/, contracts/ (never each other, never the gateway)
//   entries/              the processes: everything (entries/gateway*.ts and demo.ts: not sim/)
//   ui/                   the browser pages (bundled by scripts/build-ui.ts): contracts/, openapi/ (types)
//   loadtests/, scripts/, test/, deploy/: tooling, outside the layers

/** Every top folder, and the ones each may import besides itself. */
export const LAYERS = {
  contracts: [],
  openapi: [],
  platform: ['contracts'],
  policies: ['platform', 'contracts', 'openapi'],
  gateway: ['policies', 'platform', 'contracts', 'openapi'],
  adapters: ['platform', 'contracts'],
  sim: ['platform', 'contracts'],
  entries: ['gateway', 'policies', 'adapters', 'sim', 'platform', 'contracts', 'openapi'],
  // Runs in the browser: the vocabulary and the specs' types only; nothing imports it (the gateway serves its bundle as files).
  ui: ['contracts', 'openapi'],
};

/** Folders no layer imports: they import the layers (tests, benchmarks, scripts, deploy checks). */
const TOOLING = ['loadtests', 'scripts', 'test', 'deploy'];

/** The production gateway's entry files: never the simulators (the image's default command must not carry them). */
export const PRODUCTION_ENTRIES = ['entries/gateway.ts', 'entries/gateway-process.ts', 'entries/demo.ts'];

/** Zones for import-x/no-restricted-paths: for each layer, every folder it may not import. */
export const LAYER_ZONES = [
  ...Object.entries(LAYERS).map(([layer, allowed]) => ({
    target: `./${layer}`,
    from: [...Object.keys(LAYERS), ...TOOLING].filter((other) => other !== layer && !allowed.includes(other)).map((other) => `./${other}`),
    message: `${layer}/ ${allowed.length > 0 ? `may import only ${allowed.map((a) => `${a}/`).join(', ')}` : "imports nothing of Facet's"} (docs/architecture.md, Layers).`,
  })),
  {
    target: PRODUCTION_ENTRIES.map((file) => `./${file}`),
    from: ['./sim'],
    message: 'The production gateway entry never imports the simulators (only entries/embedded.ts does).',
  },
];
