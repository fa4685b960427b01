import {asOvlError, reportError} from './cli/report-error.js';
import {processContext, type Context} from './context.js';

// The plain forms (`ls`, `umount M`, `mount DIR`, `inspect M`, `diff M`, each with --json or
// --plain) of the commands scripts and test suites call hundreds of times run without yargs,
// which costs ~110 ms of start-up on every call. Only these exact shapes: anything else (another
// flag, --help, a value starting with "-") goes through the full parser.

const modeFlags = new Set(['--json', '--plain']);

export function fastCommand(args: readonly string[]): (() => Promise<number>) | undefined {
	const [cmd, ...rest] = args;
	const flags = rest.filter((a) => modeFlags.has(a));
	const words = rest.filter((a) => !modeFlags.has(a));
	if (new Set(flags).size !== flags.length) return undefined;
	const mode = {json: flags.includes('--json'), plain: flags.includes('--plain')};
	if (cmd === 'ls' && words.length === 0)
		return () => run(mode, async (c) => (await import('./commands/ls.js')).lsCommand(c));
	const [target] = words;
	// One plain name (not empty, not option-like): yargs would read anything else differently.
	if (words.length !== 1 || target === undefined || target === '' || target.startsWith('-')) return undefined;
	if (cmd === 'umount')
		return () =>
			run(mode, async (c) => (await import('./commands/umount.js')).umountCommand({merged: target, lazy: false}, c));
	if (cmd === 'mount')
		return () =>
			run(mode, async (c) => {
				// Loaded here, not above: stack-input pulls in the YAML parser, which ls does not need.
				const [{mountCommand}, {stackDirInput}] = await Promise.all([
					import('./commands/mount.js'),
					import('./commands/stack-input.js'),
				]);
				return mountCommand({...stackDirInput(target), dryRun: false, force: false}, c);
			});
	const layers = {merged: target, upper: undefined, lowers: [], work: undefined, userxattr: false, root: undefined};
	if (cmd === 'inspect')
		return () =>
			run(mode, async (c) =>
				(await import('./commands/inspect.js')).inspectCommand({...layers, kinds: [], strict: false}, c),
			);
	if (cmd === 'diff')
		return () =>
			run(mode, async (c) =>
				(await import('./commands/inspect.js')).diffCommand({...layers, all: false, strict: false, content: false}, c),
			);
	return undefined;
}

async function run(
	mode: {json: boolean; plain: boolean},
	action: (c: Context) => Promise<number | void>,
): Promise<number> {
	const ctx = processContext(mode);
	try {
		return (await action(ctx)) ?? 0;
	} catch (caught) {
		const error = asOvlError(caught);
		if (!error) throw caught;
		reportError(error, ctx);
		return error.exitCode;
	}
}
