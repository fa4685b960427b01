import {bottomUp} from '../core/lowerdir.js';
import {overlayMounts} from '../core/mountinfo.js';
import {renderOption} from '../core/options.js';
import type {LowerLayer, OverlayMount} from '../core/types.js';
import {journalPath} from '../core/journal-path.js';
import {resolveLayers} from '../io/layer-paths.js';
import {lstatSync} from 'node:fs';
import {fsPath} from '../core/bytes.js';
import {recordFor, type MountRecord} from '../io/registry.js';
import type {Deps} from './deps.js';

export type ListedMount = {
	readonly mountPoint: string;
	readonly mountId: number;
	readonly readOnly: boolean;
	/** Bottom→top, as ovl shows layers everywhere; absolute when ovl (or the kernel) knows them. */
	readonly lowers: readonly LowerLayer[];
	readonly upper?: string;
	readonly work?: string;
	/** The lowerdir entries as mountinfo holds them, top first (relative, or fds 3…, for some mounts). */
	readonly recordedLowerdir: readonly string[];
	/** Recorded relative paths nothing resolved (shown as recorded). */
	readonly unresolved?: readonly string[];
	readonly options: readonly string[];
	readonly xattrNamespace: 'trusted' | 'user';
	readonly mountedBy: 'ovl' | 'other';
	readonly strategy?: string;
	readonly mountedAt?: string;
	/** A commit of this upper stopped part-way (its journal is beside the upper). */
	readonly commitPending?: boolean;
};

/** One overlay, its layers made absolute the way `ovl inspect` makes them (registry, Docker's home). */
export function listMount(o: OverlayMount, registry: readonly MountRecord[]): ListedMount {
	const rec = recordFor(registry, o);
	const layers = resolveLayers(o, rec);
	return {
		mountPoint: o.entry.mountPoint,
		mountId: o.entry.mountId,
		readOnly: o.readOnly,
		lowers: bottomUp(layers.lowers.map((l) => ({path: l.path, dataOnly: l.dataOnly}))),
		...(layers.upper === undefined ? {} : {upper: layers.upper}),
		...(layers.work === undefined ? {} : {work: layers.work}),
		recordedLowerdir: o.layers.lowers.map((l) => l.path),
		...(layers.unresolved.length > 0 ? {unresolved: layers.unresolved} : {}),
		options: o.options.map(renderOption),
		xattrNamespace: o.xattrNamespace,
		mountedBy: rec ? 'ovl' : 'other',
		...(rec ? {strategy: rec.strategy, mountedAt: rec.mountedAt} : {}),
	};
}

/** `ovl ls`: every overlay in this mount namespace, decoded. */
export async function lsFlow(deps: Deps): Promise<{schema: 'ovl.ls/v1'; mounts: ListedMount[]}> {
	const [entries, registry] = await Promise.all([deps.mountinfo(), deps.registry.list()]);
	const mounts = overlayMounts(entries).map((o) => listMount(o, registry));
	// A path under 1,000 UTF-16 units is under PATH_MAX in bytes: node:fs takes it as it is. A
	// longer one is reached through an ancestor's descriptor (io/walk-fs.ts), loaded only then.
	const long = mounts.some((m) => m.upper !== undefined && journalPath(m.upper).length >= 1000);
	const lstat = long
		? (await import('../io/walk-fs.js')).lstatPath
		: (p: string) => lstatSync(fsPath(p), {throwIfNoEntry: false});
	return {
		schema: 'ovl.ls/v1',
		mounts: mounts.map((m) =>
			m.upper !== undefined && lstat(journalPath(m.upper)) !== undefined ? {...m, commitPending: true} : m,
		),
	};
}
