// A tree as commit verifies it: one fact per path, compared field by field. Pure.

export type TreeFact = {
	readonly type: string;
	readonly perm: number;
	readonly uid: number;
	readonly gid: number;
	/** Files and symlinks; 0 for the rest. */
	readonly size: number;
	/** Nanoseconds, as a decimal string (a BigInt does not survive JSON). */
	readonly mtime: string;
	readonly rdev: number;
	/** Symlink target, hex of its bytes. */
	readonly link?: string;
	/** sha256 of a regular file's bytes, where it was hashed. */
	readonly hash?: string;
	/** Non-overlay xattrs as `name=hexvalue`, sorted. */
	readonly xattrs: string;
	/** Another path of the tree with the same inode (the group's first), for hard links. */
	readonly linkOf?: string;
};

export type TreeRecord = ReadonlyMap<string, TreeFact>;

const fields = ['type', 'perm', 'uid', 'gid', 'size', 'mtime', 'rdev', 'link', 'hash', 'xattrs', 'linkOf'] as const;

const show = (k: (typeof fields)[number], v: unknown): string =>
	v === undefined ? '-' : k === 'perm' ? (v as number).toString(8) : String(v);

/** Every difference between the expected tree (the merged view) and the target, one line each. */
export function compareRecords(expected: TreeRecord, actual: TreeRecord): string[] {
	const out: string[] = [];
	for (const [p, want] of expected) {
		const got = actual.get(p);
		if (!got) {
			out.push(`${p}: missing (the merged view has a ${want.type})`);
			continue;
		}
		for (const k of fields) {
			// A hash is compared where both sides hashed; the type check covers the rest.
			if (k === 'hash' && (want.hash === undefined || got.hash === undefined)) continue;
			if (want[k] !== got[k]) out.push(`${p}: ${k} ${show(k, got[k])}, the merged view has ${show(k, want[k])}`);
		}
	}
	for (const [p, got] of actual) if (!expected.has(p)) out.push(`${p}: a ${got.type} the merged view does not have`);
	return out;
}
