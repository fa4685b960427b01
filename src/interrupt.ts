import {exitCodes} from './core/exit-codes.js';

// Ctrl-C: run registered clean-ups (bounded in time), say so, exit 130.
const cleanups = new Set<() => Promise<void>>();
let installed = false;

export function onInterrupt(cleanup: () => Promise<void>): () => void {
	if (!installed) {
		installed = true;
		const handler = (signal: NodeJS.Signals): void => {
			process.stderr.write(`\novl: ${signal}: cleaning up…\n`);
			const all = Promise.allSettled([...cleanups].map((c) => c()));
			const timeout = new Promise((resolve) => setTimeout(resolve, 5000).unref());
			void Promise.race([all, timeout]).then(() => process.exit(exitCodes.interrupted));
		};
		process.once('SIGINT', handler);
		process.once('SIGTERM', handler);
	}
	cleanups.add(cleanup);
	return () => cleanups.delete(cleanup);
}
