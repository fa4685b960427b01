import {decodePath, encodePath} from '../core/bytes.js';
import type {FileType, StatLite} from '../core/entry.js';
import type {LowerDirEntry} from './lower-dirs.js';

// The syscall side of a scan, in three bulk calls: the native scanner (native/scan.c, off the
// main thread) and the pure-JS fallback (io/scan-js.ts) answer them identically, so the pairing
// and classification above them (io/scan.ts) never know which one ran.

/** overlay.* xattrs of the live namespace (names without the prefix) and the other xattrs as `name=hex`. */
export type XattrSet = {readonly overlay: Readonly<Record<string, string>>; readonly other: readonly string[]};

/** xattrs a bulk read gave for a lower name, and what failed reading them. */
export type KnownXattrs = {readonly set: XattrSet; readonly failures: readonly XattrFailure[]};

/** An xattr read that failed for another reason than "none there": kinds there may be wrong. */
export type XattrFailure = {readonly path: string; readonly code: string};

/**
 The upper tree, flat: entry i's parent is parents[i] (-1: the root), and a parent comes before
 its children. Stats and xattrs are read out per entry when asked (the native walk keeps them
 packed: 10⁶ of them as objects cost hundreds of MiB).
 */
export type WalkedTree = {
	readonly count: number;
	/** Entry i's name, decoded when asked: the native walk keeps 10⁶ of them as bytes, not strings. */
	name(i: number): string;
	/** The names of entries `kids`, then `extra`, as readDirs wants them. */
	nameList(kids: ArrayLike<number>, extra: readonly string[]): NameList;
	readonly parents: ArrayLike<number>;
	/** undefined: the lstat failed (vanished while scanning). */
	stat(i: number): StatLite | undefined;
	isDir(i: number): boolean;
	/** The entry's link count (0 when its lstat failed), without decoding the rest. */
	links(i: number): number;
	/** Decoded on every call: pass 1 asks once per entry. */
	xattrs(i: number): XattrSet;
	/** One overlay xattr of the live namespace (`opaque`, `redirect`, …), without decoding the rest. */
	overlayXattr(i: number, key: string): string | undefined;
	/** For a dir that could not be read: why. */
	readonly dirErrors: ReadonlyMap<number, string>;
	readonly xattrFailures: readonly XattrFailure[];
	/** When the root itself could not be read. */
	readonly rootError?: string;
	/** The walk's own lookups in the lowers, when the port made them (ScanPort.walk's `lowers`). */
	readonly paired?: PairedLowers;
};

/**
 Each upper dir looked up in its lower layers by the walk itself, as the kernel's lookup does:
 what pass 1 otherwise asks of LowerDirs. Lowers are named by their position in the list the
 walk was given (0: top); paths are the scan's to make.
 */
export type PairedLowers = {
	/** Upper dir `dir`'s merge context (-1: the root's), top first. */
	ctx(dir: number): readonly PairedDir[];
	/** The lower entries holding entry i's name (`redirect`: its sibling redirect's), top first, up to a whiteout. */
	hits(i: number, redirect: boolean): readonly PairedHit[];
	readonly dirsRead: number;
};

export type PairedDir = {
	readonly pos: number;
	/** Absent when the dir could not be opened. */
	readonly stat?: StatLite;
	/** Why its opaque xattr could not be read. */
	readonly xattrError?: string;
};

export type PairedHit = {
	readonly pos: number;
	readonly type: FileType;
	/** Absent when its lstat failed (gone since its dir was read). */
	readonly stat?: StatLite;
	/** Read for a name's top hit only (what a copy-up is compared with, a metacopy's data). */
	readonly xattrs?: XattrSet;
	/** What failed reading its xattrs (errno codes). */
	readonly xattrErrors: readonly string[];
	/** Why the whiteout xattr (in a dir marked opaque=x) could not be read. */
	readonly whiteoutError?: string;
};

/** Names wanted in one dir: each encoded (bytes, as on disk) and ended by a NUL; repeats allowed. */
export type NameList = Buffer;

/** The names in a NameList, decoded. */
export function namesIn(list: NameList): string[] {
	const out: string[] = [];
	for (let at = 0; at < list.length;) {
		const end = list.indexOf(0, at);
		out.push(decodePath(list.subarray(at, end)));
		at = end + 1;
	}
	return out;
}

/** A NameList of names given as strings. */
export function nameListOf(names: readonly string[]): NameList {
	return Buffer.concat(names.flatMap((n) => [encodePath(n), nul]));
}
const nul = Buffer.of(0);

export type Probed = {readonly stat: StatLite; readonly xattrs?: XattrSet};

/** Answers by name (a Map, or the native port's decoding of its records when asked). */
export type ByName<T> = {get(name: string): T | undefined};

/** A lower directory read into a name set, with its opaque xattr; undefined when unreadable. */
export type DirListing = {
	readonly names: Map<string, LowerDirEntry>;
	readonly opaque: string;
	/**
	 Read for wanted names only: `names` holds just those the dir has, and `stats` each one's lstat
	 (absent when the lstat failed). Any other name needs a whole read.
	 */
	readonly stats?: ByName<StatLite>;
	/** With wanted names: each one's xattrs (not a whiteout's), and what failed reading them. */
	readonly xattrs?: ByName<KnownXattrs>;
	/** The dir's own lstat (not given for a layer root, which may be reached through a symlink). */
	readonly self?: StatLite;
};

export type ScanPort = {
	readonly name: 'native' | 'js';
	/** With `lowers` (regular lower roots, top first) a port may pair the walk with them (WalkedTree.paired). */
	walk(root: string, ns: Ns, progress?: (scanned: number) => void, lowers?: readonly string[]): Promise<WalkedTree>;
	/** lstat (and, with xattrs, the xattrs) of each path; a path that is not there is absent from the map. */
	probe(
		paths: readonly string[],
		ns: Ns,
		xattrs: boolean,
	): Promise<{found: Map<string, Probed>; failures: XattrFailure[]}>;
	/**
	 The first `roots` paths are layer roots: a symlink there is followed, as the kernel follows a
	 layer dir given as one (Docker's lowerdir=l/ID); below them nothing is followed.
	 */
	readDirs(
		paths: readonly string[],
		ns: Ns,
		roots: number,
		/** Per path, the only names wanted (undefined: all of them): see DirListing.stats. */
		wanted?: readonly (NameList | undefined)[],
	): Promise<{
		dirs: Map<string, DirListing | undefined>;
		failures: XattrFailure[];
	}>;
};

export type Ns = 'trusted' | 'user';

/** overlay xattr values that are text; the rest (origin, metacopy digests, …) are shown as hex. */
export const textXattrs: ReadonlySet<string> = new Set(['opaque', 'redirect', 'nlink', 'protattr', 'impure']);

/** The whole-tree stat and xattr reads, with exact names of other xattrs: shared by both ports. */
export function xattrEntry(
	ns: Ns,
	name: string,
	value: Buffer | undefined,
	out: {overlay: Record<string, string>; other: string[]},
	/** The value's bytes within `value` (the native port's one buffer of every value). */
	start = 0,
	end = value?.length ?? 0,
): void {
	const prefix = prefixes[ns];
	if (name.startsWith(prefix)) {
		const key = name.slice(prefix.length);
		out.overlay[key] = value === undefined ? '' : value.toString(textXattrs.has(key) ? 'utf8' : 'hex', start, end);
	} else if (!name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.')) {
		out.other.push(`${name}=${value?.toString('hex', start, end) ?? ''}`);
	}
}
const prefixes = {trusted: 'trusted.overlay.', user: 'user.overlay.'} as const;
