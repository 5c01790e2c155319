import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { LAYER_ZONES } from './eslint.layers.js';

// Node built-ins k6 does not have: a k6 script importing one fails only at run time.
const nodeBuiltins = ['fs', 'path', 'os', 'http', 'https', 'net', 'crypto', 'child_process', 'url', 'util', 'stream', 'events', 'buffer'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'ui/dist/**', 'openapi/generated/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The layers (docs/architecture.md): each folder imports only the ones
    // below it, type imports included. The cycle check is dependency-cruiser's
    // (.dependency-cruiser.mjs): import-x/no-cycle skips type-only imports.
    // test/unit/layering.test.ts shows both failing on a violation.
    files: ['**/*.ts'],
    ignores: ['loadtests/k6/**'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: LAYER_ZONES }],
    },
  },
  {
    // k6 scripts run in k6's JavaScript runtime (goja/sobek), not Node.
    files: ['loadtests/k6/**/*.ts'],
    languageOptions: {
      globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', open: 'readonly', console: 'readonly' },
    },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'k6 has no Node built-ins.' })),
          patterns: [
            { regex: '^node:', message: 'k6 has no Node built-ins.' },
            { regex: '^\\.{1,2}/.*(?<!\\.ts)$', message: 'k6 resolves relative imports literally: end them with .ts.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'require', 'Buffer', 'TextEncoder', 'TextDecoder', 'URLSearchParams', 'structuredClone', 'fetch'].map((name) => ({ name, message: `${name} does not exist in k6.` })),
      ],
    },
  },
);
