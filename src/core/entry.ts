// Types for inspecting an overlay's layers. Plain data; JSON-serialisable.
import type {LowerLayer} from './types.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

export type StatLite = {
	readonly type: FileType;
	/** Permission bits (mode & 0o7777). */
	readonly perm: number;
	readonly uid: number;
	readonly gid: number;
	readonly size: number;
	/** 512-byte blocks allocated. */
	readonly blocks: number;
	readonly nlink: number;
	readonly ino: number;
	readonly dev: number;
	readonly rdev: number;
	readonly mtimeMs: number;
};

/** A lower layer as inspect numbers it: 1 is the bottom, as everywhere in ovl. */
export type LayerRef = LowerLayer & {readonly layer: number};

/** One place in a lower layer that holds a path. */
export type LowerHit = {
	readonly layer: number;
	readonly path: string;
	readonly stat: StatLite;
};

/** What the scanner saw for one upper entry, before classification. */
export type RawEntry = {
	/** Overlay path, '/'-rooted. */
	readonly path: string;
	readonly stat: StatLite;
	/** overlay.* xattrs of the live namespace, names without the prefix; binary values as hex. */
	readonly xattrs: Readonly<Record<string, string>>;
	/** Names of user-visible (non-overlay) xattrs. */
	readonly otherXattrs: readonly string[];
	/** Lower layers holding the same path in this dir's merge context, top first. */
	readonly shadows: readonly LowerHit[];
	/** For a redirect: the lower dirs/files the redirect resolves to, top first. */
	readonly redirectHits?: readonly LowerHit[];
	/**
	 The overlay path a redirect names, resolved as the kernel does: a relative one against the
	 parent's own origin (a dir renamed inside a renamed dir), not its upper path.
	 */
	readonly redirectOrigin?: string;
	/** For metacopy: where the data comes from (redirect or same path; data-only layers included). */
	readonly dataHit?: LowerHit;
	/** Same-named user-visible xattrs of the top shadow, for metadata comparison. */
	readonly shadowXattrs?: readonly string[];
	/** Only with --content: whether the bytes differ from the top shadow's. */
	readonly contentDiffers?: boolean;
};

export type EntryKind =
	'whiteout' | 'xwhiteout' | 'opaque-dir' | 'redirect-dir' | 'merge-dir' | 'copy-up' | 'metacopy' | 'new' | 'anomaly';

export const entryKinds: readonly EntryKind[] = [
	'whiteout',
	'xwhiteout',
	'opaque-dir',
	'redirect-dir',
	'merge-dir',
	'copy-up',
	'metacopy',
	'new',
	'anomaly',
];

export type Change = 'data' | 'mode' | 'owner' | 'mtime' | 'xattrs' | 'type';

/** What every classified entry has, whatever its kind. */
export type EntryBase = {
	readonly path: string;
	readonly type: FileType;
	/** The facts that decided the kind, e.g. "rdev 0:0", "opaque=y". */
	readonly reasons: readonly string[];
	/** Lower layers holding the same path, top first (layer numbers, 1 = bottom). */
	readonly shadows: readonly number[];
	readonly size: number;
	/** Bytes allocated in the upper (blocks × 512). */
	readonly bytes: number;
	readonly xattrs: Readonly<Record<string, string>>;
	readonly hardlink?: {readonly nlink: number; readonly indexed: boolean; readonly group?: readonly string[]};
	/** The lower path this entry came from, when it is not its own (a redirect). */
	readonly origin?: string;
};

export type Redirect = {
	readonly value: string;
	readonly absolute: boolean;
	readonly origin: string;
	readonly originLayers: readonly number[];
};

export type Metacopy = {
	readonly digest?: string;
	readonly dataLayer?: number;
	readonly dataPath?: string;
	readonly lowerSize?: number;
};

/** A file copied up whole, or a dir copied up to hold changed children (merge-dir): how it differs from its lower. */
export type CopyUp = {
	readonly fromLayer: number;
	/** The lower file it was copied from when that is not at its own path (renamed or linked after copy-up), as found on disk. */
	readonly fromPath?: string;
	readonly lowerSize: number;
	readonly changes: readonly Change[];
	readonly withOrigin: boolean;
};

type Payloads = {
	readonly opaque: 'replaced' | 'new';
	readonly redirect: Redirect;
	readonly metacopy: Metacopy;
	readonly copyUp: CopyUp;
};

/** One kind and exactly its payloads: the others cannot be set (a `new` entry has no copyUp). */
type Variant<K extends EntryKind, P extends keyof Payloads = never> = EntryBase & {readonly kind: K} & {
	readonly [k in P]: Payloads[k];
} & {readonly [k in Exclude<keyof Payloads, P>]?: never};

export type Entry =
	| Variant<'whiteout' | 'xwhiteout' | 'new' | 'anomaly'>
	| Variant<'opaque-dir', 'opaque'>
	| Variant<'redirect-dir', 'redirect'>
	| Variant<'copy-up' | 'merge-dir', 'copyUp'>
	| Variant<'metacopy', 'metacopy'>;

/** An entry's kind and payloads, without what every entry has: what the classifier decides. */
export type EntryVariant = Entry extends infer E ? (E extends Entry ? Omit<E, keyof EntryBase> : never) : never;

/** A lower entry the new view shows at `path` (below a renamed or opaque dir), and what the lower-only view had there. */
export type Revealed = {
	readonly path: string;
	readonly hit: StatLite;
	readonly before?: StatLite;
	readonly same: boolean;
};

/** A raw entry plus what a change set needs: the lower-only view at the same path. */
export type ScannedEntry = RawEntry & {
	readonly before?: StatLite;
	readonly beforeXattrs?: readonly string[];
	/** Lower-only paths this entry makes disappear (below whiteouts, opaque and renamed dirs). */
	readonly hidden?: readonly string[];
	/** Lower paths that appear below a renamed dir. */
	readonly revealed?: readonly Revealed[];
};
