import {defineConfig} from 'vitest/config';
// Software-emulated VMs (npm run test:vagrant) run the same suite about 10x slower.
import {timeScale as scale} from './helpers/wait.js';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
		env: {FORCE_COLOR: '0'},
		reporters: ['default', './test/summary-reporter.ts'],
		// Names a missing tmux or attr up front (test/tools-setup.ts).
		globalSetup: ['./test/tools-setup.ts'],
		// Kernel tests mount for real; running files in parallel on 2 cores only adds noise to dmesg.
		fileParallelism: false,
		testTimeout: 60_000 * scale,
		hookTimeout: 60_000 * scale,
	},
});
