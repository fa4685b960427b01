import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
		env: {FORCE_COLOR: '0'},
		reporters: ['default', './test/summary-reporter.ts'],
		// Kernel tests mount for real; running files in parallel on 2 cores only adds noise to dmesg.
		fileParallelism: false,
		testTimeout: 60_000,
		hookTimeout: 60_000,
	},
});
