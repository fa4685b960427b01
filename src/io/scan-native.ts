import {isUtf8} from 'node:buffer';
import {constants} from 'node:os';
import {decodePath, encodePath} from '../core/bytes.js';
import type {StatLite} from '../core/entry.js';
import {fileTypeOfMode} from '../core/lower-view.js';
import {childPath, type LowerDirEntry} from './lower-dirs.js';
import type {NativeApi, ScanData} from './native.js';
import {
	textXattrs,
	xattrEntry,
	type DirListing,
	type KnownXattrs,
	type Ns,
	type PairedDir,
	type PairedHit,
	type PairedLowers,
	type Probed,
	type ScanPort,
	type WalkedTree,
	type XattrFailure,
	type XattrSet,
} from './scan-port.js';

// The native scan port: native/scan.c does the syscalls in libuv's thread pool and returns flat
// arrays; this file turns them into the shapes io/scan-js.ts gives.

/**
 native/scan.c's rec_t, 96 bytes: six doubles (indices into a Float64Array, 12 per record), then
 32-bit fields (indices into an Int32Array of the same bytes, 24 per record).
 */
const [SIZE, BLOCKS, INO, DEV, RDEV, MTIME] = [0, 1, 2, 3, 4, 5];
const [PARENT, NAME_OFF, NAME_LEN, MODE, UID, GID, NLINK, XFIRST, XCOUNT, STAT_ERR, XATTR_ERR, EXTRA] = [
	12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];
const XREC = 5;

/** One result's records: entry k's doubles at f[12k + field], its 32-bit fields at i[24k + field]. */
type Recs = {readonly f: Float64Array; readonly i: Int32Array; readonly n: number};

function recsOf(d: {readonly recs: Float64Array}): Recs {
	const f = d.recs;
	return {f, i: new Int32Array(f.buffer, f.byteOffset, f.length * 2), n: f.length / 12};
}

/** A 32-bit field that is unsigned in C (mode, uid, gid, nlink, xattr index and count). */
const u32 = (r: Recs, k: number, field: number): number => (r.i[k * 24 + field] as number) >>> 0;
const i32 = (r: Recs, k: number, field: number): number => r.i[k * 24 + field] as number;
const mode = {tree: 0, paths: 1, dirs: 2} as const;
const flags = {xattrs: 1, otherValues: 2} as const;

const errnoName = new Map(Object.entries(constants.errno).map(([k, v]) => [v, k]));
const errName = (n: number): string => errnoName.get(n) ?? `errno ${n}`;

function stat(r: Recs, k: number): StatLite {
	const o = k * 12;
	const mode = u32(r, k, MODE);
	return {
		type: fileTypeOfMode(mode),
		perm: mode & 0o7777,
		uid: u32(r, k, UID),
		gid: u32(r, k, GID),
		size: r.f[o + SIZE] as number,
		blocks: r.f[o + BLOCKS] as number,
		nlink: u32(r, k, NLINK),
		ino: r.f[o + INO] as number,
		dev: r.f[o + DEV] as number,
		rdev: r.f[o + RDEV] as number,
		mtimeMs: r.f[o + MTIME] as number,
	};
}

const none: XattrSet = {overlay: {}, other: []};
const plain: KnownXattrs = Object.freeze({set: none, failures: Object.freeze<XattrFailure[]>([])});

function xattrsOf(d: ScanData, r: Recs, e: number, ns: Ns, path: () => string, failures: XattrFailure[]): XattrSet {
	if (i32(r, e, XATTR_ERR)) failures.push({path: path(), code: errName(i32(r, e, XATTR_ERR))});
	const count = u32(r, e, XCOUNT);
	if (count === 0) return none;
	const out = {overlay: {} as Record<string, string>, other: [] as string[]};
	for (let k = 0, x = u32(r, e, XFIRST) * XREC; k < count; k++, x += XREC) {
		const at = d.xattrs[x] as number;
		const name = d.bytes.toString('utf8', at, at + (d.xattrs[x + 1] as number));
		const vlen = d.xattrs[x + 3] as number;
		const vat = d.xattrs[x + 2] as number;
		if (d.xattrs[x + 4]) failures.push({path: path(), code: errName(d.xattrs[x + 4] as number)});
		xattrEntry(ns, name, vlen < 0 ? undefined : d.bytes, out, vat, vat + vlen);
	}
	return out;
}

/** Every entry name of a result, in record order: one decode and split when all are UTF-8. */
function namesOf(d: ScanData): string[] {
	if (isUtf8(d.names)) return d.names.toString('utf8').split('/').slice(0, -1);
	const out: string[] = [];
	for (let at = 0; at < d.names.length;) {
		const end = d.names.indexOf(0x2f, at);
		out.push(decodePath(d.names.subarray(at, end)));
		at = end + 1;
	}
	return out;
}

/** A path whose last component, if a symlink, the kernel resolves: a trailing slash forces that. */
const followed = (p: string): Buffer => {
	const b = encodePath(p);
	return b[b.length - 1] === 0x2f ? b : Buffer.concat([b, Buffer.from('/')]);
};

/** Splits a long list in two halves run at once (the pool has threads for both cores); a short one is one call. */
async function halves(
	api: NativeApi,
	m: number,
	bytes: readonly Buffer[],
	ns: Ns,
	f: number,
	wanted?: readonly (Buffer | null)[],
): Promise<ScanData[]> {
	if (bytes.length < 256) return [await api.scan(m, bytes, ns, f, null, wanted)];
	const mid = bytes.length >> 1;
	return Promise.all([
		api.scan(m, bytes.slice(0, mid), ns, f, null, wanted?.slice(0, mid)),
		api.scan(m, bytes.slice(mid), ns, f, null, wanted?.slice(mid)),
	]);
}

/**
 The walk's names, decoded one at a time when asked: 10⁶ names as strings held for the whole
 scan cost ~35 MB; pass 1 decodes each once, and wanted lists are copied from the bytes.
 */
function walkNames(d: ScanData, r: Recs): Pick<WalkedTree, 'name' | 'nameList'> {
	const bytes = d.names;
	const utf8 = isUtf8(bytes);
	const name = (i: number): string => {
		const at = u32(r, i, NAME_OFF);
		const end = at + i32(r, i, NAME_LEN);
		return utf8 ? bytes.toString('utf8', at, end) : decodePath(bytes.subarray(at, end));
	};
	return {
		name,
		nameList(kids, extra) {
			const more = extra.map(encodePath);
			let size = 0;
			for (let j = 0; j < kids.length; j++) size += i32(r, kids[j] as number, NAME_LEN) + 1;
			for (const b of more) size += b.length + 1;
			const out = Buffer.allocUnsafe(size);
			let at = 0;
			for (let j = 0; j < kids.length; j++) {
				const k = kids[j] as number;
				const from = u32(r, k, NAME_OFF);
				at += bytes.copy(out, at, from, from + i32(r, k, NAME_LEN));
				out[at++] = 0;
			}
			for (const b of more) {
				at += b.copy(out, at);
				out[at++] = 0;
			}
			return out;
		},
	};
}

/**
 A partial listing's stats and xattrs, decoded from its records when a hit asks: made up front
 for 10⁵ lower names they were 20 MB of objects held for the whole scan.
 */
function onDemand(
	d: ScanData,
	r: Recs,
	ns: Ns,
	dir: string,
	at: ReadonlyMap<string, number>,
): Pick<DirListing, 'stats' | 'xattrs'> {
	return {
		stats: {
			get(name) {
				const k = at.get(name);
				return k === undefined ? undefined : stat(r, k < 0 ? -1 - k : k);
			},
		},
		xattrs: {
			get(name) {
				const k = at.get(name);
				if (k === undefined || k < 0) return undefined;
				const own: XattrFailure[] = [];
				const set = xattrsOf(d, r, k, ns, () => childPath(dir, name), own);
				// Most lower files have no xattrs and no failure: one shared answer for them.
				return set === none && own.length === 0 ? plain : {set, failures: own};
			},
		},
	};
}

/**
 The walk's lower lookups, decoded when pass 1 asks. Hits come sorted by their upper entry (a
 dir's children are recorded before its subdirs are walked), so an entry's are found by a binary
 search; contexts by a map of each dir's range.
 */
function pairedOf(d: ScanData, ns: Ns): PairedLowers | undefined {
	if (!d.hits || !d.ctxs) return undefined;
	const h = recsOf({recs: d.hits});
	const c = recsOf({recs: d.ctxs});
	const ranges = new Map<number, [number, number]>();
	for (let k = 0; k < c.n; k++) {
		const dir = i32(c, k, PARENT);
		const range = ranges.get(dir);
		if (range) range[1] = k + 1;
		else ranges.set(dir, [k, k + 1]);
	}
	const noHits: readonly PairedHit[] = Object.freeze([]);
	const noErrors: readonly string[] = Object.freeze([]);
	const first = (i: number): number => {
		let lo = 0;
		let hi = h.n;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			if (i32(h, mid, PARENT) < i) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	};
	const xd = {xattrs: d.xattrs, bytes: d.bytes} as ScanData;
	return {
		dirsRead: d.dirsRead ?? 0,
		ctx(dir) {
			const range = ranges.get(dir);
			if (!range) return [];
			const out: PairedDir[] = [];
			for (let k = range[0]; k < range[1]; k++) {
				const err = i32(c, k, XATTR_ERR);
				const base = {pos: i32(c, k, EXTRA), ...(err ? {xattrError: errName(err)} : {})};
				out.push(i32(c, k, STAT_ERR) ? base : {...base, stat: stat(c, k)});
			}
			return out;
		},
		hits(i, redirect) {
			let out: PairedHit[] | undefined;
			for (let k = first(i); k < h.n && i32(h, k, PARENT) === i; k++) {
				// name_off: HIT_REDIRECT 1, HIT_XATTRS 4 (native/scan.c).
				if ((i32(h, k, NAME_OFF) & 1) !== (redirect ? 1 : 0)) continue;
				// Most hits have no failure: one shared empty list, not two arrays each.
				const failures: XattrFailure[] = [];
				const read = (i32(h, k, NAME_OFF) & 4) !== 0;
				const wErr = i32(h, k, NAME_LEN);
				const xattrs = read ? xattrsOf(xd, h, k, ns, () => '', failures) : undefined;
				const hit: PairedHit = {
					pos: i32(h, k, EXTRA),
					type: fileTypeOfMode(u32(h, k, MODE)),
					...(i32(h, k, STAT_ERR) ? {} : {stat: stat(h, k)}),
					...(xattrs ? {xattrs} : {}),
					xattrErrors: failures.length === 0 ? noErrors : failures.map((f) => f.code),
					...(wErr ? {whiteoutError: errName(wErr)} : {}),
				};
				(out ??= []).push(hit);
			}
			return out ?? noHits;
		},
	};
}

export function nativeScanPort(api: NativeApi): ScanPort {
	return {
		name: 'native',
		async walk(root, ns, progress, lowers) {
			const counter = new Float64Array(1);
			const timer = progress ? setInterval(() => progress(counter[0] as number), 100) : undefined;
			let d: ScanData;
			try {
				const pairWith = lowers && lowers.length > 0 ? lowers.map(followed) : null;
				d = await api.scan(mode.tree, followed(root), ns, flags.xattrs | flags.otherValues, counter, pairWith);
			} catch (error) {
				return {
					count: 0,
					name: () => '',
					nameList: () => Buffer.alloc(0),
					parents: [],
					stat: () => undefined,
					isDir: () => false,
					links: () => 0,
					xattrs: () => none,
					overlayXattr: () => undefined,
					dirErrors: new Map(),
					xattrFailures: [],
					rootError: (error as NodeJS.ErrnoException).code ?? 'EIO',
				};
			} finally {
				if (timer) clearInterval(timer);
			}
			const recs = recsOf(d);
			const n = recs.n;
			const {name, nameList} = walkNames(d, recs);
			const parents = new Int32Array(n);
			const dirErrors = new Map<number, string>();
			const xattrFailures: XattrFailure[] = [];
			const paths: string[] = [];
			const pathOf = (i: number): string => {
				let p = paths[i];
				if (p === undefined) {
					const parent = parents[i] as number;
					p = `${parent < 0 ? root.replace(/\/$/, '') : pathOf(parent)}/${name(i)}`;
					paths[i] = p;
				}
				return p;
			};
			// Failures are gathered now, in record order; stats and xattrs are decoded when asked.
			for (let i = 0; i < n; i++) {
				parents[i] = i32(recs, i, PARENT);
				if (i32(recs, i, STAT_ERR)) continue;
				// As xattrsOf reports them: the list's errno, then each value's.
				if (i32(recs, i, XATTR_ERR)) xattrFailures.push({path: pathOf(i), code: errName(i32(recs, i, XATTR_ERR))});
				for (let k = 0, x = u32(recs, i, XFIRST) * XREC; k < u32(recs, i, XCOUNT); k++, x += XREC)
					if (d.xattrs[x + 4]) xattrFailures.push({path: pathOf(i), code: errName(d.xattrs[x + 4] as number)});
				if (i32(recs, i, EXTRA)) dirErrors.set(i, errName(i32(recs, i, EXTRA)));
			}
			const prefixed = new Map<string, Buffer>();
			const paired = pairedOf(d, ns);
			return {
				count: n,
				name,
				nameList,
				parents,
				stat: (i) => (i32(recs, i, STAT_ERR) ? undefined : stat(recs, i)),
				isDir: (i) => !i32(recs, i, STAT_ERR) && (u32(recs, i, MODE) & 0o170000) === 0o040000,
				links: (i) => (i32(recs, i, STAT_ERR) ? 0 : u32(recs, i, NLINK)),
				xattrs: (i) =>
					i32(recs, i, STAT_ERR) || !u32(recs, i, XCOUNT) ? none : xattrsOf(d, recs, i, ns, () => '', []),
				overlayXattr(i, key) {
					const count = i32(recs, i, STAT_ERR) ? 0 : u32(recs, i, XCOUNT);
					if (count === 0) return undefined;
					let want = prefixed.get(key);
					if (!want) prefixed.set(key, (want = Buffer.from(`${ns}.overlay.${key}`)));
					for (let k = 0, x = u32(recs, i, XFIRST) * XREC; k < count; k++, x += XREC) {
						const at = d.xattrs[x] as number;
						if (d.xattrs[x + 1] !== want.length || d.bytes.compare(want, 0, want.length, at, at + want.length) !== 0)
							continue;
						const vat = d.xattrs[x + 2] as number;
						const vlen = d.xattrs[x + 3] as number;
						if (vlen < 0) return '';
						return d.bytes.toString(textXattrs.has(key) ? 'utf8' : 'hex', vat, vat + vlen);
					}
					return undefined;
				},
				dirErrors,
				xattrFailures,
				...(paired ? {paired} : {}),
			} satisfies WalkedTree;
		},
		async probe(paths, ns, withXattrs) {
			const found = new Map<string, Probed>();
			const failures: XattrFailure[] = [];
			const f = withXattrs ? flags.xattrs | flags.otherValues : 0;
			let base = 0;
			for (const d of await halves(api, mode.paths, paths.map(encodePath), ns, f)) {
				const r = recsOf(d);
				for (let i = 0; i < r.n; i++) {
					if (i32(r, i, STAT_ERR)) continue;
					const p = paths[base + i32(r, i, PARENT)] as string;
					const st = stat(r, i);
					found.set(p, withXattrs ? {stat: st, xattrs: xattrsOf(d, r, i, ns, () => p, failures)} : {stat: st});
				}
				base += r.n;
			}
			return {found, failures};
		},
		async readDirs(paths, ns, roots, wanted) {
			const dirs = new Map<string, DirListing | undefined>();
			const failures: XattrFailure[] = [];
			let base = 0;
			const bytes = paths.map((p, i) => (i < roots ? followed(p) : encodePath(p)));
			const want = wanted?.map((list) => list ?? null);
			const f = want ? flags.xattrs | flags.otherValues : 0;
			for (const d of await halves(api, mode.dirs, bytes, ns, f, want)) {
				let names: Map<string, LowerDirEntry> | undefined;
				// A partial listing's wanted names → their records (-1 - k for a whiteout, which has no xattrs).
				let stats: Map<string, number> | undefined;
				let dir = '';
				const r = recsOf(d);
				const all = namesOf(d);
				let k = 0;
				let listed = 0;
				for (let i = 0; i < r.n; i++) {
					if (i32(r, i, NAME_LEN) < 0) {
						listed++;
						const at = base + i32(r, i, PARENT);
						dir = paths[at] as string;
						const partial = want?.[at] ? new Map<string, number>() : undefined;
						stats = partial;
						if (i32(r, i, XATTR_ERR)) failures.push({path: dir, code: errName(i32(r, i, XATTR_ERR))});
						if (i32(r, i, STAT_ERR)) {
							names = undefined;
							dirs.set(dir, undefined);
							continue;
						}
						names = new Map();
						const x = u32(r, i, XFIRST) * XREC;
						const opaque =
							u32(r, i, XCOUNT) === 1
								? d.bytes.toString(
										'utf8',
										d.xattrs[x + 2] as number,
										(d.xattrs[x + 2] as number) + (d.xattrs[x + 3] as number),
									)
								: '';
						const self = at >= roots ? stat(r, i) : undefined;
						dirs.set(
							dir,
							partial ? {names, opaque, ...onDemand(d, r, ns, dir, partial), ...(self ? {self} : {})} : {names, opaque},
						);
						continue;
					}
					const name = all[k++] as string;
					if (!names) continue;
					const extra = i32(r, i, EXTRA);
					if (stats && extra < 0) failures.push({path: childPath(dir, name), code: errName(-extra)});
					else if (!stats && i32(r, i, XATTR_ERR))
						failures.push({path: `${dir}/${name}`, code: errName(i32(r, i, XATTR_ERR))});
					const type = fileTypeOfMode(u32(r, i, MODE));
					const whiteout = (type === 'char' && r.f[i * 12 + RDEV] === 0) || extra === 1;
					names.set(name, whiteout ? 'whiteout' : type);
					if (stats && !i32(r, i, STAT_ERR)) stats.set(name, whiteout ? -1 - i : i);
				}
				base += listed;
			}
			return {dirs, failures};
		},
	};
}
