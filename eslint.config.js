// ESLint 9 flat config: typed linting (typescript-eslint) of src/, test/ and perf/, with rules that catch real
// bugs (promises nobody awaits or checks, == coercion, unused code, type-only imports that would load a module
// at run time). No formatting rules: prettier owns the layout (.prettierrc.json).
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'

import {defineConfig} from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  {
    ignores: ['dist/', 'dist-perf/', 'coverage/', 'test-output/', 'node_modules/', 'test/fixtures/', 'results/', 'profiles/', '**/*.js', '**/*.cjs', '**/*.mjs'],
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'perf/**/*.ts'],
    extends: [tseslint.configs.base],
    linterOptions: {reportUnusedDisableDirectives: 'error'},
    languageOptions: {
      parserOptions: {
        // tsconfig.json covers src/ and test/, tsconfig.perf.json covers perf/.
        project: ['./tsconfig.json', './tsconfig.perf.json'],
        tsconfigRootDir: dirname(fileURLToPath(import.meta.url)),
      },
    },
    rules: {
      // Promises: a rejection nobody handles, or an async function where a callback's result is ignored.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `return promise` inside try skips its catch/finally: return await there.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      'no-async-promise-executor': 'error',
      // Errors: only Error objects are thrown or rejected (stack, message, instanceof checks downstream).
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // "[object Object]" in a message or a file name.
      '@typescript-eslint/no-base-to-string': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', {allowNumber: true, allowBoolean: true, allowNullish: true}],
      // Arrays: for-in over indices as strings, delete leaving holes, a map() callback that returns nothing.
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/no-array-delete': 'error',
      'array-callback-return': 'error',
      '@typescript-eslint/no-implied-eval': 'error',
      // Comparisons and conditions.
      eqeqeq: ['error', 'always'],
      'no-self-compare': 'error',
      'no-constant-binary-expression': 'error',
      'no-fallthrough': 'error',
      'no-cond-assign': 'error',
      'no-unsafe-finally': 'error',
      'no-template-curly-in-string': 'error',
      'no-debugger': 'error',
      'no-unreachable-loop': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', {considerDefaultExhaustiveForUnions: true}],
      // Dead code: unused variables, imports and parameters (a leading _ marks one kept on purpose).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // A type-only import is erased: it cannot pull a module (and its start-up cost or side effects) into a run.
      '@typescript-eslint/consistent-type-imports': ['error', {prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false}],
    },
  },
)
