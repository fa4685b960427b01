// Process boundary: colour env, run the CLI, map errors to exit codes. Nothing else.
import {exitCodes} from './core/exit-codes.js';

// chalk (inside Ink) ignores NO_COLOR; FORCE_COLOR=0 must be set before it is ever imported.
if (process.env['NO_COLOR'] && process.env['FORCE_COLOR'] === undefined) process.env['FORCE_COLOR'] = '0';

const {installInterruptHandler} = await import('./interrupt.js');
installInterruptHandler();

const {rawArgs} = await import('./io/argv.js');
const args = rawArgs(process.argv.slice(2));
// `ovl --version` is the start-up benchmark and what scripts probe: answer it without loading yargs.
if (args.length === 1 && args[0] === '--version') {
	const {readFileSync} = await import('node:fs');
	const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string};
	process.stdout.write(`${pkg.version}\n`);
} else {
	// The plain forms of ls and umount skip yargs (src/fast-path.ts); everything else is parsed in full.
	const fast = (await import('./fast-path.js')).fastCommand(args);
	const run = fast ?? (async () => (await import('./cli.js')).runCli(args));
	process.exitCode = await run().catch((error: unknown) => {
		process.stderr.write(
			`ovl: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\nThis is a bug in ovl; please report it with the command you ran.\n`,
		);
		return exitCodes.failure;
	});
}
