import type {LowerLayer, Stack} from './types.js';

// The kernel parser (fs/overlayfs/params.c: ovl_next_opt, ovl_unescape) honours a backslash
// before any character; ',' splits options, ':' splits layers. We escape exactly those three.
export function escapeLayerPath(p: string): string {
	return p.replace(/[\\,:]/g, (c) => `\\${c}`);
}

/** Undo `escapeLayerPath`: drop each escaping backslash, keep the escaped character. */
export function unescapeLayerPath(p: string): string {
	return p.replace(/\\(.)/gs, '$1');
}

// Layer order: ovl numbers and lists layers bottom→top (1 = bottom) everywhere people see them;
// the kernel, mountinfo and lookups go top first. These two are the only places that flip it.

/** A bottom→top list of layers (or anything per layer), top first. */
export function topFirst<T>(bottomUp: readonly T[]): T[] {
	return [...bottomUp].reverse();
}

/** A top-first list of layers (kernel and mountinfo order), bottom→top. */
export function bottomUp<T>(topFirstList: readonly T[]): T[] {
	return [...topFirstList].reverse();
}

/**
 Bottom→top (how ovl stores stacks) to the kernel's top-first order, with data-only layers last.
 Data-only layers sit at the bottom of a stack, so reversing keeps them at the end.
 */
export function kernelLowerOrder(stack: Pick<Stack, 'lowers'>): LowerLayer[] {
	return topFirst(stack.lowers);
}

/** Kernel order back to ovl's bottom→top. */
export function userLowerOrder(kernelOrder: readonly LowerLayer[]): LowerLayer[] {
	return bottomUp(kernelOrder);
}

/** Joins already-rendered (escaped) layer strings, top-first, with `::` before data-only layers. */
export function joinLowerdir(layers: readonly {text: string; dataOnly: boolean}[]): string {
	let out = '';
	layers.forEach((layer, i) => {
		if (i > 0) out += layer.dataOnly ? '::' : ':';
		out += layer.text;
	});
	return out;
}

export type LowerdirParse =
	{readonly ok: true; readonly layers: LowerLayer[]} | {readonly ok: false; readonly reason: string};

/**
 Splits a `lowerdir=` value (top-first) as the kernel does: unescaped ':' separates layers,
 '::' starts data-only layers; 3+ colons, a leading or trailing colon, and a regular layer after
 a data-only one are errors (ovl_parse_param_split_lowerdirs). Paths are returned unescaped.
 */
export function parseLowerdir(value: string): LowerdirParse {
	const layers: LowerLayer[] = [];
	let current = '';
	let colons = 0;
	let dataOnly = false;
	const flush = (): string | undefined => {
		if (colons === 0) return undefined;
		if (colons > 2) return "only single ':' or double '::' sequences of unescaped colons are allowed";
		if (current === '') return 'cannot append lower layer (leading colon)';
		if (dataOnly && colons === 1) return 'regular lower layers cannot follow data lower layers';
		layers.push({path: unescapeLayerPath(current), dataOnly});
		if (colons === 2) dataOnly = true;
		current = '';
		colons = 0;
		return undefined;
	};
	for (let i = 0; i < value.length; i++) {
		const c = value[i];
		if (c === '\\' && i + 1 < value.length) {
			if (colons > 0) {
				const err = flush();
				if (err) return {ok: false, reason: err};
			}
			current += c + value[i + 1];
			i++;
		} else if (c === ':') {
			colons++;
		} else {
			if (colons > 0) {
				const err = flush();
				if (err) return {ok: false, reason: err};
			}
			current += c;
		}
	}
	if (colons > 0) return {ok: false, reason: 'unescaped trailing colons in lowerdir'};
	if (current === '') return {ok: false, reason: 'missing lowerdir'};
	layers.push({path: unescapeLayerPath(current), dataOnly});
	if (layers.every((l) => l.dataOnly)) return {ok: false, reason: 'at least one non-data lowerdir is required'};
	return {ok: true, layers};
}
