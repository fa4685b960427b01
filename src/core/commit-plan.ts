import type {Entry, FileType, ScannedEntry} from './entry.js';
import {isSameOrInside} from './paths.js';

// What applying an upper to a target tree takes, as an ordered list of actions: pure, from the
// classifier's entries. The target holds what the lowers show (the one lower itself, or --into a
// copy of it); after the actions it holds what the merged view showed.
//
// Order: sources other actions still need are set aside first (a renamed dir is moved to a
// staging dir, a metacopy's data file is hard-linked there), then every upper entry in path
// order (parents before children), then directory metadata deepest first, since writing a child
// changes its parent's mtime.

export type CommitAction =
	/** Move the target's dir at `path` aside (a redirect's source), deepest sources first. */
	| {readonly op: 'stage-dir'; readonly path: string; readonly slot: number; readonly why: string}
	/** Hard-link the target's file at `path` aside: a metacopy elsewhere takes its data from it. */
	| {readonly op: 'stage-data'; readonly path: string; readonly slot: number; readonly why: string}
	/** Delete whatever the target has at `path` (a whiteout). */
	| {readonly op: 'remove'; readonly path: string; readonly why: string}
	/** A target that is a layer over others: a 0/0 whiteout at `path` hides what the layers below hold there. */
	| {readonly op: 'whiteout'; readonly path: string; readonly why: string}
	/** `path` becomes a directory: `clear` empties it (opaque, new), `slot` takes a staged dir (redirect). */
	| {
			readonly op: 'dir';
			readonly path: string;
			readonly clear: boolean;
			readonly slot?: number;
			/** A target over other layers: mark it opaque, so what they hold at `path` stays hidden. */
			readonly opaque?: boolean;
			readonly why: string;
	  }
	/**
	 The upper's object replaces the target's: its data (from `dataSlot`, a staged file, or
	 `dataFrom`, a lower file, for a metacopy) and metadata. `inPlace`: the target file's inode is
	 rewritten instead (an indexed hard link: its other names in the lower see the change too).
	 */
	| {
			readonly op: 'write';
			readonly path: string;
			readonly type: FileType;
			readonly inPlace: boolean;
			readonly dataSlot?: number;
			readonly dataFrom?: string;
			readonly why: string;
	  }
	/** Another name of a hard-link group already written at `to`. */
	| {readonly op: 'link'; readonly path: string; readonly to: string; readonly why: string}
	/** Metadata only (mode, owner, mtime, xattrs) from the upper entry: a metacopy over its data, a directory. */
	| {readonly op: 'meta'; readonly path: string; readonly why: string};

export type CommitPlan = {
	readonly actions: readonly CommitAction[];
	/** Entries the plan cannot apply exactly; the flow refuses while there are any. */
	readonly refusals: readonly {readonly path: string; readonly why: string}[];
};

export type CommitTarget = {
	/** The lower layer number the target is (its files can be data sources), or 0 for --into. */
	readonly layer: number;
	/** The target's root, to tell a lower path in it from one in another layer. */
	readonly root: string;
	/** Only these overlay paths (and below), or every path. */
	readonly paths?: readonly string[];
	/**
	 The target is the top of several lowers: the layers below it stay, so what the upper hides
	 must stay hidden in the target itself (whiteouts, opaque dirs). `has`: whether a layer below
	 holds anything at a path (a whiteout there is harmless when none does).
	 */
	readonly below?: {readonly has: (path: string) => boolean};
};

const depth = (p: string): number => p.split('/').length;
const rel = (root: string, abs: string): string | undefined =>
	abs === root
		? '/'
		: abs.startsWith(`${root.replace(/\/$/, '')}/`)
			? abs.slice(root.replace(/\/$/, '').length)
			: undefined;

/** The actions that make the target equal the merged view, or what stands in the way. */
export function planCommit(raws: readonly ScannedEntry[], entries: readonly Entry[], target: CommitTarget): CommitPlan {
	const inside = (p: string): boolean => target.paths === undefined || target.paths.some((s) => isSameOrInside(p, s));
	// An ancestor of a chosen path only has to be a directory: its other contents are not committed.
	const above = (p: string): boolean => !inside(p) && (target.paths ?? []).some((s) => isSameOrInside(s, p));
	const refusals: {path: string; why: string}[] = [];
	const stages: CommitAction[] = [];
	const body: CommitAction[] = [];
	const dirs: string[] = [];
	const linked = new Map<string, string>();
	const pathOf = (i: number): string => (entries[i] as Entry).path;
	const order = entries
		.map((_, i) => i)
		.filter((i) => inside(pathOf(i)) || above(pathOf(i)))
		.sort((a, b) => (pathOf(a) < pathOf(b) ? -1 : 1));
	// An emptied dir in a target over other layers is marked opaque: harmless where they hold nothing.
	const marker = target.below ? {opaque: true} : {};
	let slot = 0;
	const redirectSources: {path: string; slot: number; why: string}[] = [];
	for (const i of order) {
		const e = entries[i] as Entry;
		const raw = raws[i] as ScannedEntry;
		if (above(e.path)) {
			if (e.kind === 'redirect-dir')
				refusals.push({path: e.path, why: `renamed from ${e.redirect.origin}: commit it whole (name it in --paths)`});
			else if (raw.stat.type === 'dir') body.push({op: 'dir', path: e.path, clear: false, why: 'holds a chosen path'});
			continue;
		}
		// Other names of an upper hard-link group (copy-ups, new files, metacopies alike) link to the first.
		const grouped = raw.stat.type !== 'dir' && raw.stat.nlink > 1 && e.kind !== 'whiteout' && e.kind !== 'anomaly';
		const key = `${raw.stat.dev}:${raw.stat.ino}`;
		const first = grouped ? linked.get(key) : undefined;
		if (first !== undefined) {
			body.push({op: 'link', path: e.path, to: first, why: `a hard link of ${first}`});
			continue;
		}
		if (grouped) linked.set(key, e.path);
		switch (e.kind) {
			case 'whiteout':
			case 'xwhiteout':
				body.push({op: 'remove', path: e.path, why: `${e.kind}: deleted in the merged view`});
				if (target.below?.has(e.path))
					body.push({op: 'whiteout', path: e.path, why: 'a layer below the target holds this path'});
				break;
			case 'anomaly':
				refusals.push({path: e.path, why: `an anomaly (${e.reasons.join('; ')}): what it means is unclear`});
				break;
			case 'opaque-dir':
				body.push({
					op: 'dir',
					path: e.path,
					clear: true,
					...marker,
					why: `opaque dir (${e.opaque}): the lower contents are hidden`,
				});
				dirs.push(e.path);
				break;
			case 'redirect-dir': {
				const from = e.redirect.origin;
				if (!inside(from)) {
					refusals.push({path: e.path, why: `renamed from ${from}, outside --paths: name that path too`});
					break;
				}
				// --into: the target holds what the lowers show, so the source is at the same path there.
				if (target.below && e.redirect.originLayers.some((l) => l < target.layer)) {
					refusals.push({
						path: e.path,
						why: `renamed from ${from}, whose contents are partly in the layers below the target: not yet supported (use --into)`,
					});
					break;
				}
				const inTarget =
					target.layer > 0 ? e.redirect.originLayers.includes(target.layer) : e.redirect.originLayers.length > 0;
				if (inTarget) {
					const s = slot++;
					redirectSources.push({path: from, slot: s, why: `the source of ${e.path} (redirect ${e.redirect.value})`});
					body.push({op: 'dir', path: e.path, clear: false, slot: s, why: `renamed from ${from}`});
				} else {
					body.push({
						op: 'dir',
						path: e.path,
						clear: true,
						...marker,
						why: `redirect to ${from}, which no lower holds`,
					});
				}
				dirs.push(e.path);
				break;
			}
			case 'merge-dir':
				body.push({op: 'dir', path: e.path, clear: false, why: 'a lower dir with changed children'});
				dirs.push(e.path);
				break;
			case 'metacopy': {
				const data = e.metacopy.dataPath;
				const at = data === undefined ? undefined : rel(target.root, data);
				// The lower file's other names keep the old metadata in the merged view unless the link
				// is indexed: the target then needs a file of its own, not a chmod of the shared inode.
				const shared = (raw.dataHit?.stat.nlink ?? 1) > 1;
				if (e.metacopy.dataLayer === undefined || data === undefined) {
					refusals.push({path: e.path, why: 'a metacopy whose data no lower holds (the kernel gives EIO)'});
				} else if (e.hardlink?.indexed === true && at !== e.path) {
					refusals.push({path: e.path, why: `an indexed hard link renamed from ${at ?? data}: not yet supported`});
				} else if (
					target.layer > 0 &&
					e.metacopy.dataLayer === target.layer &&
					at === e.path &&
					(!shared || e.hardlink?.indexed === true)
				) {
					body.push({op: 'meta', path: e.path, why: 'metacopy: the data is already here; metadata only'});
				} else if (target.layer > 0 && e.metacopy.dataLayer === target.layer && at !== undefined) {
					const s = slot++;
					stages.push({op: 'stage-data', path: at, slot: s, why: `the data of metacopy ${e.path}`});
					body.push({
						op: 'write',
						path: e.path,
						type: 'file',
						inPlace: false,
						dataSlot: s,
						why: `metacopy: data from ${at}`,
					});
				} else {
					body.push({
						op: 'write',
						path: e.path,
						type: 'file',
						inPlace: false,
						dataFrom: data,
						why: `metacopy: data from ${data}`,
					});
				}
				break;
			}
			default: {
				// copy-up, new: the upper holds the whole object.
				if (raw.stat.type === 'dir') {
					body.push({
						op: 'dir',
						path: e.path,
						clear: true,
						...marker,
						why: 'a new directory: only what the upper holds',
					});
					dirs.push(e.path);
					break;
				}
				if (e.kind === 'copy-up' && e.hardlink?.indexed === true && e.copyUp.fromPath !== undefined) {
					// Its lower inode's other names show it too (index=on): a link to that inode, not a copy.
					refusals.push({
						path: e.path,
						why: `an indexed hard link renamed from ${e.copyUp.fromPath}: not yet supported`,
					});
					break;
				}
				const inPlace =
					e.kind === 'copy-up' && target.layer > 0 && e.hardlink?.indexed === true && e.copyUp.fromPath === undefined;
				body.push({
					op: 'write',
					path: e.path,
					type: raw.stat.type,
					inPlace,
					why: e.kind === 'copy-up' ? `copied up (${e.copyUp.changes.join(', ') || 'unchanged'})` : 'new',
				});
			}
		}
	}
	// Deepest sources first: a source inside another source leaves it before its parent moves.
	redirectSources.sort((a, b) => depth(b.path) - depth(a.path));
	for (const r of redirectSources) stages.push({op: 'stage-dir', path: r.path, slot: r.slot, why: r.why});
	const metas: CommitAction[] = dirs
		.reverse()
		.map((path) => ({op: 'meta', path, why: 'directory metadata, after its children'}));
	if (target.paths === undefined) metas.push({op: 'meta', path: '/', why: "the upper root's metadata"});
	return {actions: [...stages, ...body, ...metas], refusals};
}

/** One line per action, for --dry-run. */
export function actionLine(a: CommitAction): string {
	const what =
		a.op === 'dir'
			? `dir${a.clear ? ' (cleared)' : ''}${a.opaque ? ' (opaque)' : ''}${a.slot !== undefined ? ` (from staged #${a.slot})` : ''}`
			: a.op === 'write'
				? `write ${a.type}${a.inPlace ? ' in place' : ''}`
				: a.op === 'link'
					? `link → ${a.to}`
					: a.op === 'stage-dir' || a.op === 'stage-data'
						? `${a.op} #${a.slot}`
						: a.op;
	return `${what.padEnd(22)} ${a.path}  (${a.why})`;
}
