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
function withBytes(v: unknown): unknown {
	if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
	let out: Record<string, unknown> | undefined;
	for (const [k, x] of Object.entries(v)) {
		if (typeof x === 'string' && hasRawBytes(x)) {
			out ??= {...(v as Record<string, unknown>)};
			out[`${k}Bytes`] = encodePath(x).toString('base64');
		}
	}
	return out ?? v;
}

export function jsonText(value: unknown): string {
	return JSON.stringify(value, (_key, v: unknown) => withBytes(v), 2);
}

/** JSON.stringify's escape of a lone surrogate: the sign that a string holds raw bytes. */
const loneSurrogate = /\\ud[89a-f]/i;

/** Elements per native stringify: one call on 256 is ~3× faster than 256 calls on one. */
export const arraySlice = 256;

/** jsonText at native speed: the replacer pass only when some string may hold raw bytes. */
function jsonFast(value: unknown, indent: string): string {
	// Nested in as many arrays as `indent` has levels, the value comes out indented already:
	// cutting the wrappers off is cheaper than re-indenting megabytes with replaceAll.
	const levels = indent.length / 2;
	let wrapped = value;
	for (let i = 0; i < levels; i++) wrapped = [wrapped];
	let s = JSON.stringify(wrapped, null, 2) ?? 'null';
	// includes() first: a plain search of megabytes is several times faster than the regex.
	if (s.includes('\\u') && loneSurrogate.test(s)) s = jsonText(wrapped);
	const cut = levels * (levels + 1);
	return levels === 0 ? s : s.slice(cut + indent.length, s.length - cut);
}

/** The text between the brackets of an array of `items` written at `indent`: jsonPieces' slices, and a spool's. */
export function jsonElements(items: readonly unknown[], indent: string): string {
	const text = jsonFast(items, indent);
	return text.slice(1, text.length - indent.length - 2);
}

/** A value that writes its own JSON text (a spooled array, io/json-spool.ts): jsonPieces defers to it. */
export const ownJson = Symbol('ownJson');
export type OwnJson = {[ownJson](indent: string): Iterable<string>};

/**
 The same text as jsonText, in pieces: an inspect report of 10⁵–10⁶ entries is written entry by
 entry instead of being built as one string of many megabytes first. Arrays are written in
 slices of elements and objects to a depth of 2; below that each value is one native JSON.stringify.
 */
export function* jsonPieces(value: unknown, indent = '', depth = 0): Generator<string> {
	if (typeof value === 'object' && value !== null && ownJson in value)
		return yield* (value as OwnJson)[ownJson](indent);
	const v = withBytes(
		typeof (value as {toJSON?: unknown} | null)?.toJSON === 'function'
			? (value as {toJSON(): unknown}).toJSON()
			: value,
	);
	if (typeof v !== 'object' || v === null) {
		yield JSON.stringify(v) ?? 'null';
		return;
	}
	const inner = `${indent}  `;
	if (Array.isArray(v)) {
		if (v.length === 0) return yield '[]';
		yield '[';
		// In slices: one native stringify of 256 entries is ~3× faster than 256 of one entry each.
		// Each slice's text is "[" + its elements + "\n" + indent + "]"; the brackets are dropped.
		for (let at = 0; at < v.length; at += arraySlice)
			yield `${at === 0 ? '' : ','}${jsonElements(v.slice(at, at + arraySlice), indent)}`;
		yield `\n${indent}]`;
		return;
	}
	if (depth >= 2) return yield jsonFast(v, indent);
	const fields = Object.entries(v).filter(
		([, x]) => x !== undefined && typeof x !== 'function' && typeof x !== 'symbol',
	);
	if (fields.length === 0) return yield '{}';
	yield '{';
	for (const [i, [k, x]] of fields.entries()) {
		yield `${i === 0 ? '' : ','}\n${inner}${JSON.stringify(k)}: `;
		yield* jsonPieces(x, inner, depth + 1);
	}
	yield `\n${indent}}`;
}

/** One JSON document on stdout, written in ~64 KiB pieces. */
export function writeJson(ctx: Context, value: unknown): void {
	let buffered: string[] = [];
	let size = 0;
	for (const piece of jsonPieces(value)) {
		buffered.push(piece);
		size += piece.length;
		if (size >= 1 << 16) {
			ctx.out(buffered.join(''));
			buffered = [];
			size = 0;
		}
	}
	buffered.push('\n');
	ctx.out(buffered.join(''));
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
