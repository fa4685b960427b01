import type {Entry, LayerRef} from '../core/entry.js';
import type {CtxDir} from '../core/lower-view.js';
import type {LowerListing} from '../core/tree.js';
import {LowerDirs} from './lower-dirs.js';
import {topFirst} from '../core/lowerdir.js';

/**
 Every path the lower layers hold that the upper did not touch, with the layer serving it: what
 the explorer's merged view adds to the upper entries. Paths an upper whiteout, opaque dir, renamed
 dir or non-dir stands over are flagged hidden (the explorer's "all" view shows them). A renamed
 dir serves its origin's lower contents at its new path.
 */
export function lowerListing(
	lowers: readonly LayerRef[],
	entries: readonly Entry[],
	ns: 'trusted' | 'user',
): LowerListing[] {
	const dirs = new LowerDirs(ns);
	const root: CtxDir[] = topFirst(lowers.filter((l) => !l.dataOnly)).map((l) => ({layer: l.layer, path: l.path}));
	const upper = new Map(entries.map((e) => [e.path, e]));
	// By path: a path both hidden (at a renamed dir's old place) and served (below its new one) is served.
	const out = new Map<string, LowerListing>();
	const hidesBelow = (e: Entry | undefined): boolean =>
		e !== undefined &&
		(e.kind === 'whiteout' || e.kind === 'opaque-dir' || e.kind === 'redirect-dir' || e.type !== 'dir');
	const walk = (c: readonly CtxDir[], rel: string, hidden: boolean): void => {
		for (const [name, hit] of dirs.children(c)) {
			const p = `${rel}/${name}`;
			const e = upper.get(p);
			const isHidden = hidden || e?.kind === 'whiteout';
			if (!e && (!out.has(p) || !isHidden)) out.set(p, {path: p, type: hit.type, layer: hit.layer, hidden: isHidden});
			if (hit.type === 'dir') walk(dirs.childCtx(c, name), p, isHidden || hidesBelow(e));
		}
	};
	walk(root, '', false);
	// A renamed dir's contents come from the lower dirs at its origin; the walk above only saw its old place.
	const ctxAt = (p: string): CtxDir[] => {
		let c: CtxDir[] = root;
		for (const name of p.split('/').filter(Boolean)) c = dirs.childCtx(c, name);
		return c;
	};
	for (const e of entries) if (e.kind === 'redirect-dir') walk(ctxAt(e.redirect.origin), e.path, false);
	return [...out.values()];
}
