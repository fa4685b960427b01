import type {Severity} from '../core/types.js';
import {severityGlyph} from './theme.js';

/** Minimal ANSI styling; off when colour is off (NO_COLOR, --no-color, pipes). */
export type Style = {
	readonly bold: (s: string) => string;
	readonly dim: (s: string) => string;
	readonly red: (s: string) => string;
	readonly yellow: (s: string) => string;
	readonly green: (s: string) => string;
	readonly cyan: (s: string) => string;
};

const wrap =
	(on: boolean, open: number, close: number) =>
	(s: string): string =>
		on ? `\u001B[${open}m${s}\u001B[${close}m` : s;

export function makeStyle(color: boolean): Style {
	return {
		bold: wrap(color, 1, 22),
		dim: wrap(color, 2, 22),
		red: wrap(color, 31, 39),
		yellow: wrap(color, 33, 39),
		green: wrap(color, 32, 39),
		cyan: wrap(color, 36, 39),
	};
}

/** "✗ error", "! warning", "- info", coloured when colour is on. */
export function severityMark(severity: Severity, s: Style): string {
	const paint = {error: s.red, warning: s.yellow, info: s.dim}[severity];
	return paint(`${severityGlyph[severity]} ${severity}`);
}

/** Quotes an argv element for display only (ovl never runs a shell). */
export function displayArg(a: string): string {
	return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/**
 Word-wraps `text` to `width` columns: the first line after `first` (already on the line), the
 rest indented by `indent` spaces, so a long line never wraps back to column 0 on a terminal.
 */
export function hangingWrap(text: string, first: number, width: number, indent: number): string {
	const out: string[] = [];
	let line = '';
	let room = Math.max(20, width - first);
	for (const word of text.split(' ')) {
		if (line !== '' && line.length + 1 + word.length > room) {
			out.push(line);
			line = word;
			room = Math.max(20, width - indent);
		} else line = line === '' ? word : `${line} ${word}`;
	}
	out.push(line);
	return out.join(`\n${' '.repeat(indent)}`);
}
