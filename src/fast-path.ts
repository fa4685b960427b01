import {processContext, type Context} from './context.js';
import {parseArgs, type ParseArgsConfig} from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

// The forms of the commands scripts and test suites call hundreds of times run without yargs,
// which costs ~110 ms of start-up on every call: `ls`, `umount [--lazy] M`, `mount` with a stack
// dir or layer flags, `inspect` and `diff` of a mount point or of offline layers (with their own
// flags), each with --json or --plain. They are read by Node's own strict parseArgs; anything it
// would read differently from yargs (an unknown flag, --help, --verbose, a repeated single-valued
// flag, an empty value or '-', a value that looks like an option, a flag then true/false, `--`)
// goes through the full parser, so errors and help come from one place.

const modes = {json: {type: 'boolean'}, plain: {type: 'boolean'}} as const;
/** inspect's and diff's offline layers, as cli/shared.ts layerOptions defines them. */
const layerFlags = {
	upper: {type: 'string'},
	lower: {type: 'string', multiple: true},
	work: {type: 'string'},
	userxattr: {type: 'boolean'},
	root: {type: 'string'},
} as const;
const strict = {strict: {type: 'boolean'}} as const;

const specs = {
	ls: {options: modes, positionals: 0},
	umount: {options: {...modes, lazy: {type: 'boolean'}}, positionals: 1},
	mount: {
		options: {
			...modes,
			stack: {type: 'string'},
			lower: {type: 'string', multiple: true},
			lowerdir: {type: 'string'},
			upper: {type: 'string'},
			work: {type: 'string'},
			option: {type: 'string', short: 'o', multiple: true},
			'dry-run': {type: 'boolean'},
			force: {type: 'boolean'},
		},
		positionals: 2,
	},
	inspect: {options: {...modes, ...layerFlags, ...strict, kind: {type: 'string'}}, positionals: 1},
	diff: {
		options: {...modes, ...layerFlags, ...strict, all: {type: 'boolean'}, content: {type: 'boolean'}},
		positionals: 1,
	},
} satisfies Record<string, {options: ParseArgsOptionsConfig; positionals: number}>;

type Parsed = {values: Record<string, unknown>; words: string[]};

/** The arguments as yargs would read them, or undefined where the two parsers could differ. */
function strictParse(spec: {options: ParseArgsOptionsConfig; positionals: number}, args: string[]): Parsed | undefined {
	let parsed;
	try {
		parsed = parseArgs({args, options: spec.options, strict: true, allowPositionals: true, tokens: true});
	} catch {
		return undefined;
	}
	const seen = new Set<string>();
	for (const [i, t] of parsed.tokens.entries()) {
		if (t.kind === 'option-terminator') return undefined;
		if (t.kind === 'positional' && (t.value === '' || t.value.startsWith('-'))) return undefined;
		if (t.kind !== 'option') continue;
		// yargs leaves a lone '-' out and refuses the flag as empty.
		if (t.value === '' || t.value === '-') return undefined;
		// yargs reads `--json false` as the flag's value; parseArgs as a flag and a positional.
		const next = parsed.tokens[i + 1];
		if (spec.options[t.name]?.type === 'boolean' && next?.kind === 'positional' && /^(true|false)$/.test(next.value))
			return undefined;
		if (!spec.options[t.name]?.multiple && seen.has(t.name)) return undefined;
		seen.add(t.name);
	}
	if (parsed.positionals.length > spec.positionals) return undefined;
	return {values: parsed.values, words: parsed.positionals};
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

export function fastCommand(args: readonly string[]): (() => Promise<number>) | undefined {
	const [cmd, ...rest] = args;
	if (cmd === undefined || !Object.hasOwn(specs, cmd)) return undefined;
	const parsed = strictParse(specs[cmd as keyof typeof specs], rest);
	if (!parsed) return undefined;
	const {values: v, words} = parsed;
	const mode = {json: v['json'] === true, plain: v['plain'] === true};
	if (cmd === 'ls') return () => run(mode, async (c) => (await import('./commands/ls.js')).lsCommand(c));
	if (cmd === 'mount')
		return () =>
			run(mode, async (c) => {
				const {mountCommand} = await import('./commands/mount.js');
				const input = {
					dir: words[0],
					merged: words[1],
					stack: str(v['stack']),
					lowers: list(v['lower']),
					lowerdir: str(v['lowerdir']),
					upper: str(v['upper']),
					work: str(v['work']),
					options: list(v['option']),
				};
				return mountCommand({...input, dryRun: v['dry-run'] === true, force: v['force'] === true}, c);
			});
	const [target] = words;
	if (cmd === 'umount' && target !== undefined)
		return () =>
			run(mode, async (c) =>
				(await import('./commands/umount.js')).umountCommand({merged: target, lazy: v['lazy'] === true}, c),
			);
	const layers = {
		merged: target,
		upper: str(v['upper']),
		lowers: list(v['lower']),
		work: str(v['work']),
		userxattr: v['userxattr'] === true,
		root: str(v['root']),
	};
	// Neither a mount point nor an upper: the full parser says what is missing.
	if (layers.merged === undefined && layers.upper === undefined) return undefined;
	const strictExit = v['strict'] === true;
	if (cmd === 'inspect') {
		const kind = str(v['kind']);
		const kinds = kind === undefined ? [] : [kind];
		return () =>
			run(mode, async (c) =>
				(await import('./commands/inspect.js')).inspectCommand({...layers, kinds, strict: strictExit}, c),
			);
	}
	if (cmd === 'diff') {
		const flags = {all: v['all'] === true, strict: strictExit, content: v['content'] === true};
		return () => run(mode, async (c) => (await import('./commands/inspect.js')).diffCommand({...layers, ...flags}, c));
	}
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
		// Loaded only on failure: the error renderer is the findings view and its theme.
		const {asOvlError, reportError} = await import('./cli/report-error.js');
		const error = asOvlError(caught);
		if (!error) throw caught;
		reportError(error, ctx);
		return error.exitCode;
	}
}
