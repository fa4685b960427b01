import {InterruptedError} from './core/errors.js';
import {exitCodes} from './core/exit-codes.js';

// Ctrl-C / SIGTERM: run registered clean-ups (bounded in time), say so, exit 130. A second
// signal exits at once. The listener stays registered (process.on, not once): execa's
// signal-exit re-raises the signal to kill the process when it finds itself the only listener.
const cleanups = new Set<() => Promise<void>>();
let installed = false;
let cleaning = false;
let complete = false;

/** Installs the handler; main does it first thing, so a signal during start-up also exits 130. */
export function installInterruptHandler(): void {
	if (!installed) {
		installed = true;
		const handler = (signal: NodeJS.Signals): void => {
			if (cleaning) process.exit(exitCodes.interrupted);
			cleaning = true;
			if (complete) {
				// Exit 130 means "nothing was changed": after the commit point that would be a lie.
				process.stderr.write(`\novl: ${signal} came after the work was complete; it stands\n`);
				return;
			}
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

/**
 The command's work is committed (the layer renamed into place, the mount recorded): a signal
 from now on lets the command finish its output and exit as it would have, instead of 130.
 */
export function markComplete(): void {
	complete = true;
}

export function onInterrupt(cleanup: () => Promise<void>): () => void {
	installInterruptHandler();
	cleanups.add(cleanup);
	return () => cleanups.delete(cleanup);
}

/**
 A flow that a signal stops at its next step, not in the middle of one: the handler only sets a
 flag and then waits until the flow has undone its own work (`done()`), before exiting 130.
 `check()` throws InterruptedError once a signal came.
 */
export function guardFlow(): {readonly aborted: () => boolean; check(): void; done(): void} {
	let aborted = false;
	let settle: () => void = () => undefined;
	const finished = new Promise<void>((resolve) => {
		settle = resolve;
	});
	const release = onInterrupt(async () => {
		aborted = true;
		await finished;
	});
	return {
		aborted: () => aborted,
		check: () => {
			if (aborted) throw new InterruptedError();
		},
		done: () => {
			settle();
			release();
		},
	};
}
