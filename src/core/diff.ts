import {compareWithLower} from './classify.js';
import type {Change, Entry, FileType, ScannedEntry, StatLite} from './entry.js';

export type DiffOp = 'A' | 'C' | 'D';

/** One path that differs between the lower-only view and the merged view. */
export type DiffChange = {
	readonly op: DiffOp;
	readonly path: string;
	readonly type?: FileType;
	/** For C: what differs (data, mode, owner, mtime, xattrs, type). */
	readonly changes?: readonly Change[];
	/** Set on paths that belong to a rename (collapsed into one R line for people). */
	readonly rename?: string;
	/** A regular file whose mtime changed at the same size, contents not compared (no --content): a write or a touch. */
	readonly dataUnknown?: true;
};

export type Rename = {readonly from: string; readonly to: string; readonly type: FileType};

export type ChangeSet = {
	/** Every differing path, sorted: what a tree comparison of the two views would find. */
	readonly changes: readonly DiffChange[];
	readonly renames: readonly Rename[];
};

/** ext4 and most filesystems encode FILEID_INO32_GEN (type 1, 2): the lower inode number leads the fid. */
export function originInode(originHex: string | undefined): number | undefined {
	if (!originHex) return undefined;
	const b = Buffer.from(originHex, 'hex');
	if (b.length < 29 || b[1] !== 0xfb || (b[4] !== 1 && b[4] !== 2)) return undefined;
	return b.readUInt32LE(21);
}

const statChanges = (
	after: StatLite,
	before: StatLite,
	ax: readonly string[] = [],
	bx: readonly string[] = [],
): Change[] => compareWithLower(after, before, ax, bx);

/** Builds a change set entry by entry, in scan order, keeping only what the set needs of each. */
export type ChangeSetBuilder = {
	add(s: ScannedEntry, e: Entry): void;
	result(): ChangeSet;
};

/**
 The change set of an upper layer, docker-diff style (Added / Changed / Deleted), plus renames
 recovered from redirects and origin handles. Pure: everything comes from the scan. Entries come
 one by one (a held entry's kind is already final), so a diff of 10⁶ entries holds its changes,
 not its entries.
 */
export function changeSetBuilder(): ChangeSetBuilder {
	const out = new Map<string, DiffChange>();
	const add = (c: DiffChange): void => {
		out.set(c.path, c);
	};
	const whiteoutInodes = new Map<number, string>();
	// Where an entry may have been renamed from: a path, or a lower inode a whiteout may name.
	const candidates: {from: string | number; to: string; type: FileType}[] = [];
	return {
		add(s, e) {
			if (e.kind === 'whiteout') {
				if (s.before) {
					add({op: 'D', path: s.path, type: s.before.type});
					whiteoutInodes.set(s.before.ino, s.path);
				}
			} else if (!s.before) {
				add({op: 'A', path: s.path, type: s.stat.type});
			} else {
				const changes = statChanges(s.stat, s.before, s.otherXattrs, s.beforeXattrs);
				if (s.contentDiffers === true && !changes.includes('data')) changes.unshift('data');
				const unknown =
					s.stat.type === 'file' &&
					s.contentDiffers === undefined &&
					changes.includes('mtime') &&
					!changes.includes('data');
				if (changes.length > 0)
					add({op: 'C', path: s.path, type: s.stat.type, changes, ...(unknown ? {dataUnknown: true} : {})});
			}
			for (const h of s.hidden ?? []) add({op: 'D', path: h});
			for (const r of s.revealed ?? []) {
				if (r.same) continue;
				if (!r.before) add({op: 'A', path: r.path, type: r.hit.type});
				else {
					const changes = statChanges(r.hit, r.before);
					if (changes.length > 0) add({op: 'C', path: r.path, type: r.hit.type, changes});
				}
			}
			let from: string | number | undefined;
			if (e.kind === 'redirect-dir' || (e.kind === 'metacopy' && e.origin !== undefined))
				from = e.redirect?.origin ?? e.origin;
			else if (e.kind === 'copy-up' && (!s.before || s.before.type !== s.stat.type))
				from = originInode(s.xattrs['origin']);
			if (from !== undefined) candidates.push({from, to: s.path, type: s.stat.type});
		},
		result() {
			const renames: Rename[] = [];
			for (const c of candidates) {
				const from = typeof c.from === 'number' ? whiteoutInodes.get(c.from) : c.from;
				if (from === undefined || from === c.to || out.get(from)?.op !== 'D') continue;
				renames.push({from, to: c.to, type: c.type});
			}
			const result = [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
			const renameAt = firstRenameAt(renames);
			const tagged = result.map((c) => {
				const r = renameAt(c.path);
				return r && c.op !== 'C' ? {...c, rename: `${r.from} → ${r.to}`} : c;
			});
			return {changes: tagged, renames};
		},
	};
}

/**
 The first rename (in order) whose source or target is `p` or one of its ancestors: by a map of
 those paths and a look at each ancestor, not every rename for every change (10⁴ renames of 10⁶
 changes were 10¹⁰ comparisons).
 */
function firstRenameAt(renames: readonly Rename[]): (p: string) => Rename | undefined {
	const first = new Map<string, number>();
	renames.forEach((r, i) => {
		for (const at of [r.from, r.to]) if (!first.has(at)) first.set(at, i);
	});
	return (p) => {
		let best = -1;
		for (let at = p; at.length > 0; at = at.slice(0, Math.max(0, at.lastIndexOf('/')))) {
			const i = first.get(at);
			if (i !== undefined && (best < 0 || i < best)) best = i;
		}
		return best < 0 ? undefined : renames[best];
	};
}

/** The change set of a whole scan: changeSetBuilder over its entries. */
export function diffEntries(scanned: readonly ScannedEntry[], entries: readonly Entry[]): ChangeSet {
	const b = changeSetBuilder();
	scanned.forEach((s, i) => b.add(s, entries[i] as Entry));
	return b.result();
}

/**
 The lines people read: renames as one R line, and below a deleted, added or renamed directory
 only the directory itself (the full list stays in --all and --json).
 */
export function collapseChanges(set: ChangeSet): {op: DiffOp | 'R'; path: string; detail: string}[] {
	const lines: {op: DiffOp | 'R'; path: string; detail: string}[] = [];
	const collapsedRoots: string[] = [];
	for (const r of set.renames) {
		lines.push({op: 'R', path: r.to, detail: `from ${r.from}`});
		collapsedRoots.push(r.from, r.to);
	}
	for (const c of set.changes) {
		if (c.rename !== undefined) continue;
		if (collapsedRoots.some((root) => c.path.startsWith(`${root}/`))) continue;
		if ((c.op === 'D' || c.op === 'A') && (c.type === 'dir' || c.type === undefined)) collapsedRoots.push(c.path);
		const detail = c.op === 'C' ? (c.changes ?? []).join(',') : '';
		lines.push({
			op: c.op,
			path: c.path,
			detail: c.dataUnknown ? `${detail} (data may differ: same size; --content checks)` : detail,
		});
	}
	return lines.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
