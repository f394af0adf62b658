// typescript-eslint's recommended rules, prettier for layout, and the project's import
// boundaries: the core knows no transport, and the layers above the core (messages, the CLI,
// the async layer) use the public API only.
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const outsideCore = ['transports', 'context', 'messages', 'cli', 'providers'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      // Callback interfaces (USocket, UMessageSocket) have default no-op methods whose parameters
      // are documentation: unused arguments are not a smell here.
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['lib/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: outsideCore.flatMap((dir) => [`../${dir}`, `../${dir}/*`, `../../${dir}`, `../../${dir}/*`]),
              message: 'lib/core/ knows no transport: transports, the context, messages, the CLI and the providers sit above it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['lib/messages/**/*.ts', 'lib/cli/**/*.ts', 'lib/async/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../core', '../core/*', '../transports', '../transports/*', '../context', '../providers'],
              message: 'messages/, cli/ and async/ use the public API only (lib/public-api.ts, lib/api.ts, lib/errors.ts, lib/index.ts; async/ also lib/messages).',
            },
          ],
        },
      ],
    },
  },
);
