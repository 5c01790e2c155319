// The cycle check of `npm run lint`: no module may import itself back
// through others, type-only imports included (a circle of types is still two
// files that cannot be read or moved apart). ESLint's import-x/no-cycle
// skips type-only imports, so dependency-cruiser, which reads them before
// TypeScript erases them (tsPreCompilationDeps), does this one job.
// The layer boundaries are ESLint's (eslint.layers.js).
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module that imports itself back through others (docs/architecture.md, Layers).',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|openapi/generated)/' },
  },
};
