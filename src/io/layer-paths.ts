import {existsSync, realpathSync} from 'node:fs';
import path from 'node:path';
import {decodePath, fsPath} from '../core/bytes.js';
import {topFirst as topFirstOrder} from '../core/lowerdir.js';
import type {OverlayMount} from '../core/types.js';
import type {MountRecord} from './registry.js';

// A mount's layer paths made absolute: what `ovl ls` does for every overlay on every run, in a
// module of its own so that listing loads none of inspect's machinery (io/locate.ts).

// Docker's overlay2 keeps relative `l/<id>` lowerdirs in mountinfo (moby overlay.go, mountFrom).
export const dockerRoots = ['/var/lib/docker/overlay2'];

function resolveRecorded(recorded: string, roots: readonly string[]): string | undefined {
	if (path.isAbsolute(recorded)) return recorded;
	for (const r of roots) {
		const p = path.join(r, recorded);
		// Docker's l/<short> entries are symlinks to ../<id>/diff: report the real directory.
		if (existsSync(fsPath(p))) return decodePath(realpathSync(fsPath(p), {encoding: 'buffer'}));
	}
	return undefined;
}

export type ResolvedLayers = {
	/** Top first, as mountinfo lists them, each with the string the kernel recorded. */
	readonly lowers: readonly {path: string; dataOnly: boolean; recorded: string}[];
	readonly upper: string | undefined;
	readonly work: string | undefined;
	/** Recorded paths that stay relative: ovl cannot tell what they were relative to. */
	readonly unresolved: readonly string[];
};

/**
 A mount's layers as absolute paths: from ovl's record when it made the mount; else what the
 kernel recorded, relative ones (Docker's l/… and <id>/diff) resolved against `root`, Docker's
 home of a <home>/<id>/merged mount point, or /var/lib/docker/overlay2.
 */
export function resolveLayers(o: OverlayMount, record: MountRecord | undefined, root?: string): ResolvedLayers {
	const topFirst = o.layers.lowers;
	if (record)
		return {
			lowers: topFirstOrder(record.lowers).map((l, i) => ({...l, recorded: topFirst[i]?.path ?? l.path})),
			upper: record.upper,
			work: record.work,
			unresolved: [],
		};
	// Docker mounts <home>/<id>/merged with cwd <home>: that is the first place to resolve l/… in.
	const target = o.entry.mountPoint;
	const dockerHome = path.basename(target) === 'merged' ? path.dirname(path.dirname(target)) : undefined;
	const roots = [...(root === undefined ? [] : [root]), ...(dockerHome ? [dockerHome] : []), ...dockerRoots];
	const unresolved: string[] = [];
	const abs = (p: string): string => resolveRecorded(p, roots) ?? (unresolved.push(p), p);
	return {
		lowers: topFirst.map((l) => ({path: abs(l.path), dataOnly: l.dataOnly, recorded: l.path})),
		upper: o.layers.upper === undefined ? undefined : abs(o.layers.upper),
		work: o.layers.work === undefined ? undefined : abs(o.layers.work),
		unresolved,
	};
}
