import {makeStyle, type Style} from './ui/style.js';

export type OutputMode = 'json' | 'plain' | 'human';

/** What every command gets: where to write and how. Built once in main, faked in tests. */
export type Context = {
	readonly out: (s: string) => void;
	readonly err: (s: string) => void;
	readonly mode: OutputMode;
	readonly verbose: boolean;
	readonly style: Style;
	readonly cwd: string;
	/** A person at a terminal (stdin and stdout TTYs, human mode): interactive views allowed. */
	readonly interactive: boolean;
	/** stderr is a terminal: progress lines allowed. */
	readonly stderrTTY: boolean;
};

/** Decided once, before anything heavy loads: --json → json; a real terminal → human; else plain. */
export function decideMode(flags: {json: boolean; plain?: boolean}, env: NodeJS.ProcessEnv, isTTY: boolean): OutputMode {
	if (flags.json) return 'json';
	if (flags.plain || !isTTY || env['CI'] || env['TERM'] === 'dumb') return 'plain';
	return 'human';
}

export function wantsColor(flags: {color?: boolean}, env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
	if (flags.color !== undefined) return flags.color;
	if (env['NO_COLOR'] || env['FORCE_COLOR'] === '0' || env['TERM'] === 'dumb') return false;
	return isTTY;
}

// A reader that goes away (`ovl ls | head -1`) is not an error: further output is dropped and the
// command finishes what it started (a lab still unmounts), then exits with its own code.
let stdoutGone = false;
let stderrGone = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
	if (error.code !== 'EPIPE') throw error;
	stdoutGone = true;
});
process.stderr.on('error', (error: NodeJS.ErrnoException) => {
	if (error.code !== 'EPIPE') throw error;
	stderrGone = true;
});

export function processContext(flags: {json: boolean; plain?: boolean; color?: boolean; verbose?: boolean}): Context {
	const mode = decideMode(flags, process.env, Boolean(process.stdout.isTTY));
	const color = mode === 'human' && wantsColor(flags, process.env, Boolean(process.stderr.isTTY));
	return {
		out: (s) => void (stdoutGone || process.stdout.write(s)),
		err: (s) => void (stderrGone || process.stderr.write(s)),
		mode,
		verbose: flags.verbose ?? false,
		style: makeStyle(color),
		cwd: process.cwd(),
		interactive: mode === 'human' && Boolean(process.stdin.isTTY),
		stderrTTY: Boolean(process.stderr.isTTY),
	};
}

export function writeJson(ctx: Context, value: unknown): void {
	ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}
