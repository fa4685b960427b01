import yargs, {type Argv} from 'yargs';
import {processContext, type Context} from './context.js';
import {UsageError} from './core/errors.js';
import {exitCodes} from './core/exit-codes.js';
import {createRequire} from 'node:module';
import {hostCommands} from './cli/host-commands.js';
import {asOvlError, reportError} from './cli/report-error.js';
import {inspectCommands} from './cli/inspect-commands.js';
import type {Global} from './cli/shared.js';
import {stackCommands} from './cli/stack-commands.js';

const epilogue = `Exit codes: 0 ok · 1 operation failed · 2 usage or validation error · 4 needs root · 130 interrupted
Environment: NO_COLOR, FORCE_COLOR, CI (plain output), OVL_RUN_DIR (mount registry, default /run/ovl)`;

function contextFrom(argv: Global): Context {
	return processContext({
		json: argv.json,
		plain: argv.plain,
		verbose: argv.verbose,
		...(argv.color === undefined ? {} : {color: argv.color}),
	});
}

/** Builds and runs the yargs CLI. Commands load lazily, so --version and completion stay light. */

export async function runCli(args: string[]): Promise<number> {
	let ctx: Context | undefined;
	// The command's exit code, returned once yargs is done (not through process.exitCode).
	let exit: number = exitCodes.ok;
	const run = async (argv: Global, action: (c: Context) => Promise<number | void>): Promise<void> => {
		ctx = contextFrom(argv);
		const code = await action(ctx);
		if (typeof code === 'number') exit = code;
	};
	const version = (createRequire(import.meta.url)('../package.json') as {version: string}).version;
	if (args[0] === '--version') {
		process.stdout.write(`${version}\n`);
		return exitCodes.ok;
	}
	// yargs answers `completion --help` with the script itself.
	if (args[0] === 'completion' && (args.includes('--help') || args.includes('-h'))) {
		process.stdout.write(completionHelp);
		return exitCodes.ok;
	}
	const base: Argv<Global> = yargs(args)
		.scriptName('ovl')
		.usage(
			'$0 <command> [options]\n\nMake kernel overlayfs legible and safe: prepare layers, validate and mount them, see what the kernel did.',
		)
		.option('json', {type: 'boolean', default: false, describe: 'one JSON document on stdout'})
		.option('plain', {type: 'boolean', default: false, describe: 'plain text even on a terminal'})
		.option('verbose', {type: 'boolean', default: false, describe: 'show mount(8) output and argv'})
		.option('color', {type: 'boolean', describe: 'force colour on or off (NO_COLOR is honoured)'});
	const withCommands = [stackCommands, inspectCommands, hostCommands].reduce((y, add) => add(y, run, args), base);
	const cli: Argv<Global> = withCommands
		.middleware((argv) => refuseEmptyValues(argv as Record<string, unknown>, args))
		.completion('completion', 'print a bash/zsh completion script', completions)
		.demandCommand(1, 'name a command; see ovl --help')
		.recommendCommands()
		.strict()
		// --version is the top level's alone, not an option of every subcommand.
		.version(false)
		.option('version', {type: 'boolean', global: false, describe: "show ovl's version"})
		.help()
		.alias('h', 'help')
		.epilogue(epilogue)
		.wrap(Math.min(110, process.stdout.columns || 100))
		.fail((msg, err) => {
			// A completion request answers on its own (and exits); yargs still validates the
			// request as a command line in the meantime, which is not an error for the user.
			if (args.includes('--get-yargs-completions')) return;
			throw err ?? new UsageError(msg, 'see ovl --help, or ovl <command> --help');
		}) as unknown as Argv<Global>;
	skipHelpCache(cli);
	try {
		await cli.parseAsync();
		return exit;
	} catch (caught) {
		const error = asOvlError(caught);
		if (!error) throw caught;
		const c = ctx ?? processContext({json: args.includes('--json')});
		reportError(error, c);
		return error.exitCode;
	}
}

const completionHelp = `ovl completion

Prints a bash/zsh completion script for ovl. Install it with:
  ovl completion >> ~/.bashrc      (or ~/.zshrc; then open a new shell)
`;

/**
 Completion candidates: yargs' own, without the "--o" it makes of the one-letter alias -o, and
 with the built-in experiments after \`lab run\` / \`lab show\`.
 */
const completions = (
	_current: string,
	argv: {_: (string | number)[]},
	completionFilter: (onCompleted?: (err: Error | null, names: string[] | undefined) => void) => void,
	done: (names: string[]) => void,
): void => {
	completionFilter((_err, names) => {
		const shown = (names ?? []).filter((n) => !/^--.(:|$)/.test(n));
		const words = argv._.map(String);
		const lab = words.includes('lab') && (words.includes('run') || words.includes('show'));
		const extra = lab ? import('./lab/builtins.js').then(({builtins}) => Object.keys(builtins)) : Promise.resolve([]);
		void extra.then((names) => done([...names, ...shown]));
	});
};

/**
 yargs renders the full help text before every command handler, only to print it should the
 handler fail; ours never do that (failures are OvlErrors, rendered by reportError). The render
 measures every word's width and costs ~30 ms of CPU per run, on every command. Internal API: if yargs
 changes it, this quietly does nothing.
 */
function skipHelpCache(cli: Argv<Global>): void {
	const internal = (
		cli as unknown as {getInternalMethods?: () => {getUsageInstance?: () => {cacheHelpMessage?: () => void}}}
	).getInternalMethods?.();
	const usage = internal?.getUsageInstance?.();
	if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

const valued = [
	'output',
	'lower',
	'upper',
	'work',
	'merged',
	'lowerdir',
	'stack',
	'seed',
	'layer-tar',
	'put',
	'option',
	'root',
	'data-root',
	'markdown',
	'path',
	'kind',
];

/**
 yargs reads `--work --force` as an empty --work plus --force, and `--work -o` likewise: a value
 that starts with "-" must be written --work=-o (or ./-o). An empty value is never meant.
 */
function refuseEmptyValues(argv: Record<string, unknown>, raw: readonly string[]): void {
	const end = raw.indexOf('--');
	const words = end < 0 ? raw : raw.slice(0, end);
	const short = raw[0] === 'export' ? 'output' : 'option';
	words.forEach((word, i) => {
		const key = word === '-o' ? short : word.startsWith('--') ? word.slice(2) : undefined;
		if (key === undefined || !valued.includes(key)) return;
		const next = words[i + 1];
		if (next !== undefined && !(next.startsWith('-') && next !== '-')) return;
		throw new UsageError(
			next === undefined ? `${word} needs a value` : `${word} needs a value; "${next}" looks like an option`,
			`a value that starts with "-" is written ${word === '-o' ? `--${short}` : word}=${next ?? '-name'} (or ./${next ?? '-name'} for a path)`,
			'OVL_USAGE',
		);
	});
	for (const key of valued) {
		const v = argv[key];
		if ((Array.isArray(v) ? v : [v]).some((x) => x === ''))
			throw new UsageError(`--${key} needs a value, not an empty string`, `give --${key} a name`, 'OVL_USAGE');
	}
}
