// Process boundary: colour env, run the CLI, map errors to exit codes. Nothing else.
import {exitCodes} from './core/exit-codes.js';

// chalk (inside Ink) ignores NO_COLOR; FORCE_COLOR=0 must be set before it is ever imported.
if (process.env['NO_COLOR'] && process.env['FORCE_COLOR'] === undefined) process.env['FORCE_COLOR'] = '0';

const {runCli} = await import('./cli.js');
process.exitCode = await runCli(process.argv.slice(2)).catch((error: unknown) => {
	process.stderr.write(`ovl: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\nThis is a bug in ovl; please report it with the command you ran.\n`);
	return exitCodes.failure;
});
