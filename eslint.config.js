import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Node built-ins k6 does not have: a k6 script importing one fails only at run time.
const nodeBuiltins = ['fs', 'path', 'os', 'http', 'https', 'net', 'crypto', 'child_process', 'url', 'util', 'stream', 'events', 'buffer'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'openapi/generated/**'] },
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
