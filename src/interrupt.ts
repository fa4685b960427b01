import {exitCodes} from './core/exit-codes.js';

// Ctrl-C / SIGTERM: run registered clean-ups (bounded in time), say so, exit 130. A second
// signal exits at once. The listener stays registered (process.on, not once): execa's
// signal-exit re-raises the signal to kill the process when it finds itself the only listener.
const cleanups = new Set<() => Promise<void>>();
let installed = false;
let cleaning = false;

/** Installs the handler; main does it first thing, so a signal during start-up also exits 130. */
export function installInterruptHandler(): void {
	if (!installed) {
		installed = true;
		const handler = (signal: NodeJS.Signals): void => {
			if (cleaning) process.exit(exitCodes.interrupted);
			cleaning = true;
			process.stderr.write(`\novl: ${signal}: cleaning up…\n`);
			const all = Promise.allSettled([...cleanups].map((c) => c()));
			const timeout = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
			void Promise.race([all, timeout]).then(() => process.exit(exitCodes.interrupted));
		};
		process.on('SIGINT', handler);
		process.on('SIGTERM', handler);
		process.on('SIGHUP', handler);
	}
}

export function onInterrupt(cleanup: () => Promise<void>): () => void {
	installInterruptHandler();
	cleanups.add(cleanup);
	return () => cleanups.delete(cleanup);
}
