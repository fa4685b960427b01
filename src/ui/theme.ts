import type {EntryKind} from '../core/entry.js';

/** One colour and short badge per kind, shared by every view (colour only adds to the words). */
export const kindStyle: Readonly<Record<EntryKind | 'lower' | 'hidden', {color: string; badge: string}>> = {
	whiteout: {color: 'red', badge: 'WHT'},
	xwhiteout: {color: 'red', badge: 'XWH'},
	'opaque-dir': {color: 'yellow', badge: 'OPQ'},
	'redirect-dir': {color: 'cyan', badge: 'REN'},
	'merge-dir': {color: 'gray', badge: 'DIR'},
	'copy-up': {color: 'magenta', badge: 'CPY'},
	metacopy: {color: 'blue', badge: 'META'},
	new: {color: 'green', badge: 'NEW'},
	anomaly: {color: 'redBright', badge: '???'},
	lower: {color: 'gray', badge: 'low'},
	hidden: {color: 'gray', badge: 'hid'},
};

export const severityColor = {error: 'red', warning: 'yellow', info: 'gray'} as const;
/** The one severity mark, in text and in the explorer. */
export const severityGlyph = {error: '✗', warning: '!', info: '-'} as const;

export function formatMode(type: string, perm: number): string {
	const t =
		({dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's'} as Record<string, string>)[type] ?? '-';
	const bits = 'rwxrwxrwx'
		.split('')
		.map((c, i) => ((perm >> (8 - i)) & 1 ? c : '-'))
		.join('');
	return t + bits;
}
