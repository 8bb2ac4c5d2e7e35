// ESLint (typescript-eslint) for the code and its tests; Prettier owns the layout, so the rules
// that would argue with it are off (eslint-config-prettier). `npm run lint` runs both.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: {
      // Unused names are mistakes, except a deliberate `_` prefix and the rest of a destructuring.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Nest's empty @Module() classes are its idiom.
      '@typescript-eslint/no-extraneous-class': 'off',
    },
  },
  {
    // Plain CommonJS scripts: the bench, the test starter, Jest's config.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The pages' inline script runs in the browser.
    files: ['src/pages/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  prettier,
);
