import type {Entry, LayerRef} from '../core/entry.js';
import type {LowerListing} from '../core/tree.js';
import {LowerDirs} from './lower-dirs.js';
import {topFirst} from '../core/lowerdir.js';

/**
 Every path the lower layers show on their own, flagged hidden when an upper whiteout, opaque dir
 or renamed dir stands over it: what the explorer's "lower entries" toggle reveals.
 */
export function lowerListing(
	lowers: readonly LayerRef[],
	entries: readonly Entry[],
	ns: 'trusted' | 'user',
): LowerListing[] {
	const dirs = new LowerDirs(ns);
	const ctx = topFirst(lowers.filter((l) => !l.dataOnly)).map((l) => ({layer: l.layer, path: l.path}));
	const upper = new Map(entries.map((e) => [e.path, e]));
	const out: LowerListing[] = [];
	const hidesBelow = (e: Entry | undefined): boolean =>
		e !== undefined &&
		(e.kind === 'whiteout' || e.kind === 'opaque-dir' || e.kind === 'redirect-dir' || e.type !== 'dir');
	const walk = (c: typeof ctx, rel: string, hidden: boolean): void => {
		for (const [name, hit] of dirs.children(c)) {
			const p = `${rel}/${name}`;
			const e = upper.get(p);
			const isHidden = hidden || e?.kind === 'whiteout';
			if (!e) out.push({path: p, type: hit.type, layer: hit.layer, hidden: isHidden});
			if (hit.type === 'dir') walk(dirs.childCtx(c, name), p, isHidden || hidesBelow(e));
		}
	};
	walk(ctx, '', false);
	return out;
}
