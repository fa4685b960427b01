// Process boundary: colour env, run the CLI, map errors to exit codes. Nothing else.
import {exitCodes} from './core/exit-codes.js';

// chalk (inside Ink) ignores NO_COLOR; FORCE_COLOR=0 must be set before it is ever imported.
if (process.env['NO_COLOR'] && process.env['FORCE_COLOR'] === undefined) process.env['FORCE_COLOR'] = '0';

// `ovl --version` is answered by bin/ovl.js before this loads.
// Loaded together: one after another, each import waited for its own reads (a few ms of every call).
const [{installInterruptHandler}, {rawArgs}, {fastCommand}] = await Promise.all([
	import('./interrupt.js'),
	import('./io/argv.js'),
	import('./fast-path.js'),
]);
installInterruptHandler();
const args = rawArgs(process.argv.slice(2));
// The plain forms of ls, mount, umount, inspect and diff skip yargs (src/fast-path.ts).
const fast = fastCommand(args);
const run = fast ?? (async () => (await import('./cli.js')).runCli(args));
process.exitCode = await run().catch((error: unknown) => {
	const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
	process.stderr.write(
		`ovl: internal error: ${detail}\nThis is a bug in ovl; please report it with the command you ran.\n`,
	);
	return exitCodes.failure;
});
