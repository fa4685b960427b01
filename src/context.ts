import {encodePath, hasRawBytes} from './core/bytes.js';
import {processDeps, type Deps} from './flows/deps.js';
import {makeStyle, type Style} from './ui/style.js';

export type OutputMode = 'json' | 'plain' | 'human';

/** What every command gets: where to write and how, and the world it acts on. Built once in cli.ts; tests build their own (test/unit/commands.test.ts). */
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
	/** The world the command's flow acts on (registry, clock, euid, terminal size, mount(8), /proc). */
	readonly deps: Deps;
};

/** Decided once, before anything heavy loads: --json → json; a real terminal → human; else plain. */
export function decideMode(
	flags: {json: boolean; plain?: boolean},
	env: NodeJS.ProcessEnv,
	isTTY: boolean,
): OutputMode {
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
		out: (s) => void (stdoutGone || process.stdout.write(safeText(s, mode))),
		err: (s) => void (stderrGone || process.stderr.write(safeText(s, mode === 'json' ? 'plain' : mode))),
		mode,
		verbose: flags.verbose ?? false,
		style: makeStyle(color),
		cwd: process.cwd(),
		interactive: mode === 'human' && Boolean(process.stdin.isTTY),
		stderrTTY: Boolean(process.stderr.isTTY),
		deps: processDeps(),
	};
}

/**
 JSON keeps exact bytes: a string holding bytes that are not UTF-8 carries them as lone
 surrogates (JSON "\udcff", Python's surrogateescape), and a sibling `<key>Bytes` field gives
 the exact bytes in base64 for consumers that decode strictly.
 */
export function jsonText(value: unknown): string {
	return JSON.stringify(
		value,
		(_key, v: unknown) => {
			if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
			let out: Record<string, unknown> | undefined;
			for (const [k, x] of Object.entries(v)) {
				if (typeof x === 'string' && hasRawBytes(x)) {
					out ??= {...(v as Record<string, unknown>)};
					out[`${k}Bytes`] = encodePath(x).toString('base64');
				}
			}
			return out ?? v;
		},
		2,
	);
}

export function writeJson(ctx: Context, value: unknown): void {
	ctx.out(`${jsonText(value)}\n`);
}

// Text for people and pipes never carries raw bytes or stray control characters: names are
// escaped one by one (printablePath); this catches whatever else would reach the terminal.
// eslint-disable-next-line no-control-regex
const plainUnsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;
const rawByte = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;
const hex = (c: string): string =>
	`\\x${(c.charCodeAt(0) >= 0xdc80 && c.charCodeAt(0) <= 0xdcff ? c.charCodeAt(0) - 0xdc00 : c.charCodeAt(0)).toString(16).padStart(2, '0')}`;
export const safeText = (s: string, mode: OutputMode): string =>
	mode === 'json' ? s : mode === 'plain' ? s.replace(plainUnsafe, hex) : s.replace(rawByte, hex);
