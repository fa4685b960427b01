import type {Dirent, Stats} from 'node:fs';
import type {FileType, StatLite} from '../core/entry.js';
import {fileTypeOfMode, type CtxDir, type LowerName} from '../core/lower-view.js';
import type {ByName, DirListing, KnownXattrs, XattrFailure, XattrSet} from './scan-port.js';
import {getXattrPath, lstatPath, readdirTyped} from './walk-fs.js';

/**
 A lower name found by a lookup, with the lstat (and xattrs) its dir's bulk read made, when it
 made them: the scan takes them from here rather than from a map of 10⁵ paths.
 */
export type FoundName = LowerName & {readonly stat?: StatLite; readonly known?: KnownXattrs};

const noHits: readonly FoundName[] = Object.freeze([]);

/** A lower name's type, or 'whiteout' (a 0/0 char device or an xattr whiteout): interned strings, no object per name. */
export type LowerDirEntry = FileType | 'whiteout';

export function statLite(st: Stats): StatLite {
	return {
		type: fileTypeOfMode(st.mode),
		perm: st.mode & 0o7777,
		uid: st.uid,
		gid: st.gid,
		size: st.size,
		blocks: st.blocks,
		nlink: st.nlink,
		ino: st.ino,
		dev: st.dev,
		rdev: st.rdev,
		mtimeMs: st.mtimeMs,
	};
}

/** path.join for a normalised absolute dir and one name, without join's normalising pass (hot: once per lower hit). */
export const childPath = (dir: string, name: string): string => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

const direntType = (d: Dirent<Buffer>): FileType | undefined =>
	d.isDirectory()
		? 'dir'
		: d.isFile()
			? 'file'
			: d.isSymbolicLink()
				? 'symlink'
				: d.isFIFO()
					? 'fifo'
					: d.isSocket()
						? 'socket'
						: d.isCharacterDevice()
							? 'char'
							: d.isBlockDevice()
								? 'block'
								: undefined;

/**
 Reads each lower directory once (readdir into a map) and answers lookups from memory, as the
 kernel's merge would see them: whiteouts (0/0 char devices, xattr whiteouts) and opaque dirs in
 lower layers stop the merge. Never follows symlinks.
 */
export class LowerDirs {
	private readonly cache = new Map<string, Map<string, LowerDirEntry>>();
	private readonly opaqueCache = new Map<string, string>();
	private readonly ns: 'trusted' | 'user';
	dirsRead = 0;
	/** xattr reads that failed for another reason than "none there". */
	readonly errors: {path: string; code: string}[] = [];

	constructor(ns: 'trusted' | 'user') {
		this.ns = ns;
	}

	private readonly prefetched = new Map<string, DirListing | undefined>();
	/** What the bulk read of a dir gave for its wanted names, by name. */
	private readonly given = new Map<string, {readonly stats: ByName<StatLite>; readonly xattrs?: ByName<KnownXattrs>}>();
	/**
	 Dirs read for some names only. The scan looks up only names it wanted there, and says so;
	 another lookup reads the dir whole. (Keeping the 10⁶ wanted names to tell them apart would
	 hold them for the whole scan.)
	 */
	private readonly partial = new Set<string>();

	/**
	 Listings read ahead in bulk (a scan port's readDirs): answered from here on first use. A
	 listing read for wanted names answers lookups of those; any other name reads the whole dir.
	 The stats and xattrs read for wanted names come back with their hits.
	 */
	prefetch(dirs: ReadonlyMap<string, DirListing | undefined>): void {
		for (const [dir, listing] of dirs) {
			if (this.cache.has(dir)) continue;
			this.prefetched.set(dir, listing && {names: listing.names, opaque: listing.opaque});
			if (listing?.stats) {
				this.given.set(dir, listing.xattrs ? {stats: listing.stats, xattrs: listing.xattrs} : {stats: listing.stats});
				this.partial.add(dir);
			}
		}
	}

	read(dir: string): Map<string, LowerDirEntry> {
		let m = this.cache.get(dir);
		if (m) return m;
		const listing = this.prefetched.has(dir) ? this.prefetched.get(dir) : this.readListing(dir);
		this.prefetched.delete(dir);
		if (listing) {
			this.dirsRead++;
			this.opaqueCache.set(dir, listing.opaque);
		}
		m = listing?.names ?? new Map<string, LowerDirEntry>(); // vanished or unreadable: an empty dir to the merge
		this.cache.set(dir, m);
		return m;
	}

	/** One name in one dir: from a partial listing when it was wanted there, else from a whole read. */
	private lookup(dir: string, name: string, wanted: boolean): LowerDirEntry | undefined {
		const e = this.read(dir).get(name);
		if (e !== undefined || wanted || !this.partial.has(dir)) return e;
		return this.whole(dir).get(name);
	}

	/** A dir read for some names only, read again whole (children(), a name nobody asked for). */
	private whole(dir: string): Map<string, LowerDirEntry> {
		const m = this.read(dir);
		if (!this.partial.delete(dir)) return m;
		const names = this.readListing(dir)?.names ?? new Map<string, LowerDirEntry>();
		this.cache.set(dir, names);
		return names;
	}

	/** The wanted names a dir has, each with its lstat (the native scanner's partial read, in JS). */
	readWanted(
		dir: string,
		wanted: readonly string[],
		self: boolean,
		readXattrs: (p: string, ns: 'trusted' | 'user', failures: XattrFailure[]) => XattrSet,
	): DirListing | undefined {
		let dirents: {name: string; dirent: Dirent<Buffer>}[];
		try {
			dirents = readdirTyped(dir);
		} catch {
			return undefined;
		}
		const want = new Set(wanted);
		const names = new Map<string, LowerDirEntry>();
		const stats = new Map<string, StatLite>();
		const xattrs = new Map<string, {set: XattrSet; failures: XattrFailure[]}>();
		const opaque = this.opaqueValue(dir);
		for (const d of dirents) {
			if (!want.has(d.name)) continue;
			const st = lstatPath(childPath(dir, d.name));
			const type = st ? fileTypeOfMode(st.mode) : (direntType(d.dirent) ?? 'file');
			if (st) stats.set(d.name, statLite(st));
			const whiteout =
				type === 'char'
					? st?.rdev === 0
					: opaque === 'x' && type === 'file' && this.hasXattr(childPath(dir, d.name), 'whiteout');
			names.set(d.name, whiteout ? 'whiteout' : type);
			if (st && !whiteout) {
				const failures: XattrFailure[] = [];
				xattrs.set(d.name, {set: readXattrs(childPath(dir, d.name), this.ns, failures), failures});
			}
		}
		const own = self ? lstatPath(dir) : undefined;
		return {names, opaque, stats, xattrs, ...(own ? {self: statLite(own)} : {})};
	}

	/** One directory's names and types (whiteouts marked), and its opaque xattr; undefined when unreadable. */
	readListing(dir: string): DirListing | undefined {
		let dirents: {name: string; dirent: Dirent<Buffer>}[];
		try {
			dirents = readdirTyped(dir);
		} catch {
			return undefined;
		}
		const names = new Map<string, LowerDirEntry>();
		const opaque = this.opaqueValue(dir);
		// xattr whiteouts are never made by the kernel; layers that carry them (composefs) mark the
		// directory opaque=x, which is also what the kernel's readdir relies on. Checking only there
		// saves a getxattr per lower file.
		const xwhiteouts = opaque === 'x';
		for (const d of dirents) {
			const known = direntType(d.dirent);
			const st = known === undefined || known === 'char' ? lstatPath(childPath(dir, d.name)) : undefined;
			const type = known ?? (st ? fileTypeOfMode(st.mode) : 'file');
			let whiteout = false;
			if (type === 'char') whiteout = st?.rdev === 0;
			else if (xwhiteouts && type === 'file' && this.hasXattr(childPath(dir, d.name), 'whiteout')) whiteout = true;
			names.set(d.name, whiteout ? 'whiteout' : type);
		}
		return {names, opaque};
	}

	private hasXattr(p: string, name: string): boolean {
		try {
			return getXattrPath(p, `${this.ns}.overlay.${name}`) !== undefined;
		} catch (error) {
			this.errors.push({path: p, code: (error as NodeJS.ErrnoException).code ?? 'EIO'});
			return false;
		}
	}

	private opaqueValue(dir: string): string {
		let v = this.opaqueCache.get(dir);
		if (v === undefined) {
			try {
				v = getXattrPath(dir, `${this.ns}.overlay.opaque`)?.toString() ?? '';
			} catch (error) {
				this.errors.push({path: dir, code: (error as NodeJS.ErrnoException).code ?? 'EIO'});
				v = '';
			}
			this.opaqueCache.set(dir, v);
		}
		return v;
	}

	isOpaque(dir: string): boolean {
		return this.opaqueValue(dir) === 'y';
	}

	/**
	 Every lower layer holding a name in a merge context, top first, up to a whiteout. Only the
	 first is visible. `wanted`: the name was among those prefetched for these dirs.
	 */
	hits(ctx: readonly CtxDir[], name: string, wanted = false): readonly FoundName[] {
		let out: FoundName[] | undefined;
		for (const d of ctx) {
			const e = this.lookup(d.path, name, wanted);
			if (!e) continue;
			if (e === 'whiteout') break;
			const given = this.given.get(d.path);
			const stat = given?.stats.get(name);
			const known = stat && given?.xattrs?.get(name);
			const path = childPath(d.path, name);
			(out ??= []).push(
				stat
					? known
						? {layer: d.layer, path, type: e, stat, known}
						: {layer: d.layer, path, type: e, stat}
					: {layer: d.layer, path, type: e},
			);
		}
		// Most names of a big upper are new: one shared empty answer, not an array each.
		return out ?? noHits;
	}

	/** The merge context of a child directory: lower dirs by that name, stopping at non-dirs and opaque lower dirs. */
	childCtx(ctx: readonly CtxDir[], name: string, wanted = false): CtxDir[] {
		const out: CtxDir[] = [];
		for (const h of this.hits(ctx, name, wanted)) {
			if (h.type !== 'dir') break;
			out.push({layer: h.layer, path: h.path});
			if (this.isOpaque(h.path)) break;
		}
		return out;
	}

	/** Names visible in a merge context (lower-only view), with the topmost hit for each. */
	children(ctx: readonly CtxDir[]): Map<string, LowerName> {
		const out = new Map<string, LowerName>();
		const hidden = new Set<string>();
		for (const d of ctx) {
			for (const [name, e] of this.whole(d.path)) {
				if (out.has(name) || hidden.has(name)) continue;
				if (e === 'whiteout') hidden.add(name);
				else out.set(name, {layer: d.layer, path: childPath(d.path, name), type: e});
			}
			// Below a non-dir the lower dirs are not merged; ctx already stops there.
		}
		// A name that is a non-dir in a higher layer hides lower dirs of the same name: hits() handles that.
		return out;
	}

	/** Every path below `rel` in a lower-only view (overlay path → topmost hit). */
	tree(ctx: readonly CtxDir[], rel: string, out = new Map<string, LowerName>()): Map<string, LowerName> {
		for (const [name, hit] of this.children(ctx)) {
			const p = `${rel}/${name}`;
			out.set(p, hit);
			if (hit.type === 'dir') this.tree(this.childCtx(ctx, name), p, out);
		}
		return out;
	}
}
