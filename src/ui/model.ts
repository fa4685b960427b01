import type {Entry, StatLite} from '../core/entry.js';

/** One layer's view of a path, for the details pane (plain data). */
export type LayerDetail = {
	readonly role: 'upper' | 'lower' | 'data-only';
	readonly layer: number;
	readonly path: string;
	/** Set when this row is the path's redirect/metacopy origin rather than the path itself. */
	readonly via?: string;
	readonly stat?: StatLite;
};

/** Where an upper entry came from in the lowers, as a person reads it: a layer and an overlay path. */
export type Origin = {readonly layer?: number; readonly path: string};

/** The lower layers as the report lists them, to turn a lower's disk path into an overlay path. */
type Layers = readonly {readonly role: string; readonly layer: number; readonly path: string}[];

function overlayPath(layers: Layers, layer: number, diskPath: string): string {
	const l = layers.find((x) => x.role !== 'upper' && x.layer === layer);
	if (!l) return diskPath;
	const root = l.path.replace(/\/+$/, '');
	return diskPath === root ? '/' : diskPath.startsWith(`${root}/`) ? diskPath.slice(root.length) : diskPath;
}

/**
 The resolved origin of an entry, when the scan knows it: a renamed dir's or redirected metacopy's
 origin path, a copy-up's lower (at its own path, or the file it was linked or renamed from).
 The raw origin handle (`uuid … fid …`) says the same to the kernel, nothing to a person.
 */
export function originOf(e: Entry, layers: Layers = []): Origin | undefined {
	if (e.kind === 'redirect-dir')
		return {...(e.redirect.originLayers[0] ? {layer: e.redirect.originLayers[0]} : {}), path: e.redirect.origin};
	if (e.kind === 'metacopy') {
		const layer = e.metacopy.dataLayer;
		return layer ? {layer, path: e.origin ?? e.path} : e.origin ? {path: e.origin} : undefined;
	}
	if (e.kind === 'copy-up' || e.kind === 'merge-dir') {
		const from = e.copyUp.fromPath;
		if (from !== undefined) return {layer: e.copyUp.fromLayer, path: overlayPath(layers, e.copyUp.fromLayer, from)};
		if (e.copyUp.fromLayer > 0) return {layer: e.copyUp.fromLayer, path: e.path};
	}
	return e.origin ? {path: e.origin} : undefined;
}

export const describeOriginOf = (o: Origin): string =>
	o.layer === undefined ? `${o.path} (in no lower layer now)` : `lower ${o.layer}'s ${o.path}`;
