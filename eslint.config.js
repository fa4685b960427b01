// ESLint with typescript-eslint: Prettier owns the layout, this catches what a formatter cannot
// (floating promises, unused code, unsafe any). Run by `npm test` (npm run lint).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
	{ignores: ['dist/**', 'build/**', 'node_modules/**', '.bench/**', 'native/**']},
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		files: ['**/*.ts', '**/*.tsx'],
		languageOptions: {parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname}},
		rules: {
			'@typescript-eslint/no-floating-promises': 'error',
			'@typescript-eslint/no-misused-promises': 'error',
			'@typescript-eslint/await-thenable': 'error',
			'@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
			// A let read by a clean-up closure before its one assignment cannot be a const.
			'prefer-const': ['error', {ignoreReadBeforeAssign: true}],
		},
	},
	{
		files: ['**/*.js', '**/*.mjs'],
		languageOptions: {
			globals: {
				process: 'readonly',
				console: 'readonly',
				Buffer: 'readonly',
				URL: 'readonly',
				setTimeout: 'readonly',
				clearTimeout: 'readonly',
			},
		},
	},
	{
		// The bin is CommonJS (bin/package.json): --version answers before any ES module loads.
		files: ['bin/*.js'],
		languageOptions: {sourceType: 'commonjs', globals: {require: 'readonly', __dirname: 'readonly'}},
		rules: {'@typescript-eslint/no-require-imports': 'off'},
	},
);
