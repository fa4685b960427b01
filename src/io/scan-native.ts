import {isUtf8} from 'node:buffer';
import {constants} from 'node:os';
import {decodePath, encodePath, hasRawBytes} from '../core/bytes.js';
import type {StatLite} from '../core/entry.js';
import {fileTypeOfMode} from '../core/lower-view.js';
import {childPath, type LowerDirEntry} from './lower-dirs.js';
import type {NativeApi, ScanData} from './native.js';
import {
	xattrEntry,
	type DirListing,
	type KnownXattrs,
	type Ns,
	type Probed,
	type ScanPort,
	type WalkedTree,
	type XattrFailure,
	type XattrSet,
} from './scan-port.js';

// The native scan port: native/scan.c does the syscalls in libuv's thread pool and returns flat
// Float64Arrays; this file turns them into the shapes io/scan-js.ts gives. Field numbers below
// are the C enum's.

const REC = 18;
const [PARENT, , NAME_LEN, MODE, UID, GID, SIZE, BLOCKS, NLINK, INO, DEV, RDEV, MTIME] = [
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];
const [XFIRST, XCOUNT, STAT_ERR, XATTR_ERR, EXTRA] = [13, 14, 15, 16, 17];
const XREC = 5;
const mode = {tree: 0, paths: 1, dirs: 2} as const;
const flags = {xattrs: 1, otherValues: 2} as const;

const errnoName = new Map(Object.entries(constants.errno).map(([k, v]) => [v, k]));
const errName = (n: number): string => errnoName.get(n) ?? `errno ${n}`;

function stat(r: Float64Array, o: number): StatLite {
	return {
		type: fileTypeOfMode(r[o + MODE] as number),
		perm: (r[o + MODE] as number) & 0o7777,
		uid: r[o + UID] as number,
		gid: r[o + GID] as number,
		size: r[o + SIZE] as number,
		blocks: r[o + BLOCKS] as number,
		nlink: r[o + NLINK] as number,
		ino: r[o + INO] as number,
		dev: r[o + DEV] as number,
		rdev: r[o + RDEV] as number,
		mtimeMs: r[o + MTIME] as number,
	};
}

const none: XattrSet = {overlay: {}, other: []};
const plain: KnownXattrs = Object.freeze({set: none, failures: Object.freeze<XattrFailure[]>([])});

function xattrsOf(d: ScanData, o: number, ns: Ns, path: () => string, failures: XattrFailure[]): XattrSet {
	const r = d.recs;
	if (r[o + XATTR_ERR]) failures.push({path: path(), code: errName(r[o + XATTR_ERR] as number)});
	const count = r[o + XCOUNT] as number;
	if (count === 0) return none;
	const out = {overlay: {} as Record<string, string>, other: [] as string[]};
	for (let k = 0, x = (r[o + XFIRST] as number) * XREC; k < count; k++, x += XREC) {
		const at = d.xattrs[x] as number;
		const name = d.bytes.toString('utf8', at, at + (d.xattrs[x + 1] as number));
		const vlen = d.xattrs[x + 3] as number;
		const vat = d.xattrs[x + 2] as number;
		if (d.xattrs[x + 4]) failures.push({path: path(), code: errName(d.xattrs[x + 4] as number)});
		xattrEntry(ns, name, vlen < 0 ? undefined : d.bytes.subarray(vat, vat + vlen), out);
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

/** Splits a list in two halves run at once: the pool has threads for both cores. */
async function halves(
	api: NativeApi,
	m: number,
	bytes: readonly Buffer[],
	ns: Ns,
	f: number,
	wanted?: readonly (Buffer | null)[],
): Promise<ScanData[]> {
	if (bytes.length < 256 && !(wanted && bytes.length > 1)) return [await api.scan(m, bytes, ns, f, null, wanted)];
	const mid = bytes.length >> 1;
	return Promise.all([
		api.scan(m, bytes.slice(0, mid), ns, f, null, wanted?.slice(0, mid)),
		api.scan(m, bytes.slice(mid), ns, f, null, wanted?.slice(mid)),
	]);
}

/** Names for the C side's wanted list: each ended by a NUL (which no name holds). */
function wantedBytes(names: readonly string[]): Buffer {
	const text = names.join('\0');
	if (!hasRawBytes(text)) return Buffer.from(`${text}\0`, 'utf8');
	return Buffer.concat(names.flatMap((n) => [encodePath(n), nul]));
}
const nul = Buffer.of(0);

export function nativeScanPort(api: NativeApi): ScanPort {
	return {
		name: 'native',
		async walk(root, ns, progress) {
			const counter = new Float64Array(1);
			const timer = progress ? setInterval(() => progress(counter[0] as number), 100) : undefined;
			let d: ScanData;
			try {
				d = await api.scan(mode.tree, followed(root), ns, flags.xattrs | flags.otherValues, counter);
			} catch (error) {
				return {
					names: [],
					parents: [],
					stat: () => undefined,
					isDir: () => false,
					links: () => 0,
					xattrs: () => none,
					dirErrors: new Map(),
					xattrFailures: [],
					rootError: (error as NodeJS.ErrnoException).code ?? 'EIO',
				};
			} finally {
				if (timer) clearInterval(timer);
			}
			const recs = d.recs;
			const n = recs.length / REC;
			const names = namesOf(d);
			const parents = new Int32Array(n);
			const dirErrors = new Map<number, string>();
			const xattrFailures: XattrFailure[] = [];
			const paths: string[] = [];
			const pathOf = (i: number): string => {
				let p = paths[i];
				if (p === undefined) {
					const parent = parents[i] as number;
					p = `${parent < 0 ? root.replace(/\/$/, '') : pathOf(parent)}/${names[i] as string}`;
					paths[i] = p;
				}
				return p;
			};
			// Failures are gathered now, in record order; stats and xattrs are decoded when asked.
			for (let i = 0, o = 0; i < n; i++, o += REC) {
				parents[i] = recs[o + PARENT] as number;
				if (recs[o + STAT_ERR]) continue;
				// As xattrsOf reports them: the list's errno, then each value's.
				if (recs[o + XATTR_ERR]) xattrFailures.push({path: pathOf(i), code: errName(recs[o + XATTR_ERR] as number)});
				for (let k = 0, x = (recs[o + XFIRST] as number) * XREC; k < (recs[o + XCOUNT] as number); k++, x += XREC)
					if (d.xattrs[x + 4]) xattrFailures.push({path: pathOf(i), code: errName(d.xattrs[x + 4] as number)});
				if (recs[o + EXTRA]) dirErrors.set(i, errName(recs[o + EXTRA] as number));
			}
			// Decoded once each (the scan asks an entry's xattrs in three passes), for entries that have any.
			const decoded = new Map<number, XattrSet>();
			return {
				names,
				parents,
				stat: (i) => (recs[i * REC + STAT_ERR] ? undefined : stat(recs, i * REC)),
				isDir: (i) => !recs[i * REC + STAT_ERR] && ((recs[i * REC + MODE] as number) & 0o170000) === 0o040000,
				links: (i) => (recs[i * REC + STAT_ERR] ? 0 : (recs[i * REC + NLINK] as number)),
				xattrs: (i) => {
					if (recs[i * REC + STAT_ERR] || !recs[i * REC + XCOUNT]) return none;
					let x = decoded.get(i);
					if (!x) decoded.set(i, (x = xattrsOf(d, i * REC, ns, () => '', [])));
					return x;
				},
				dirErrors,
				xattrFailures,
			} satisfies WalkedTree;
		},
		async probe(paths, ns, withXattrs) {
			const found = new Map<string, Probed>();
			const failures: XattrFailure[] = [];
			const f = withXattrs ? flags.xattrs | flags.otherValues : 0;
			let base = 0;
			for (const d of await halves(api, mode.paths, paths.map(encodePath), ns, f)) {
				const n = d.recs.length / REC;
				for (let i = 0, o = 0; i < n; i++, o += REC) {
					if (d.recs[o + STAT_ERR]) continue;
					const p = paths[base + (d.recs[o + PARENT] as number)] as string;
					const st = stat(d.recs, o);
					found.set(p, withXattrs ? {stat: st, xattrs: xattrsOf(d, o, ns, () => p, failures)} : {stat: st});
				}
				base += n;
			}
			return {found, failures};
		},
		async readDirs(paths, ns, roots, wanted) {
			const dirs = new Map<string, DirListing | undefined>();
			const failures: XattrFailure[] = [];
			let base = 0;
			const bytes = paths.map((p, i) => (i < roots ? followed(p) : encodePath(p)));
			const want = wanted?.map((names) => (names ? wantedBytes(names) : null));
			const f = want ? flags.xattrs | flags.otherValues : 0;
			for (const d of await halves(api, mode.dirs, bytes, ns, f, want)) {
				let names: Map<string, LowerDirEntry> | undefined;
				let stats: Map<string, StatLite> | undefined;
				let xattrs: Map<string, KnownXattrs> | undefined;
				let dir = '';
				const n = d.recs.length / REC;
				const all = namesOf(d);
				let k = 0;
				let listed = 0;
				for (let i = 0, o = 0; i < n; i++, o += REC) {
					if ((d.recs[o + NAME_LEN] as number) < 0) {
						listed++;
						const at = base + (d.recs[o + PARENT] as number);
						dir = paths[at] as string;
						const partial = want?.[at] ? new Map<string, StatLite>() : undefined;
						stats = partial;
						xattrs = partial && new Map();
						if (d.recs[o + XATTR_ERR]) failures.push({path: dir, code: errName(d.recs[o + XATTR_ERR] as number)});
						if (d.recs[o + STAT_ERR]) {
							names = undefined;
							dirs.set(dir, undefined);
							continue;
						}
						names = new Map();
						const x = (d.recs[o + XFIRST] as number) * XREC;
						const opaque =
							d.recs[o + XCOUNT] === 1
								? d.bytes.toString(
										'utf8',
										d.xattrs[x + 2] as number,
										(d.xattrs[x + 2] as number) + (d.xattrs[x + 3] as number),
									)
								: '';
						const self = at >= roots ? stat(d.recs, o) : undefined;
						dirs.set(
							dir,
							partial && xattrs ? {names, opaque, stats: partial, xattrs, ...(self ? {self} : {})} : {names, opaque},
						);
						continue;
					}
					const name = all[k++] as string;
					if (!names) continue;
					const extra = d.recs[o + EXTRA] as number;
					if (stats && extra < 0) failures.push({path: childPath(dir, name), code: errName(-extra)});
					else if (!stats && d.recs[o + XATTR_ERR])
						failures.push({path: `${dir}/${name}`, code: errName(d.recs[o + XATTR_ERR] as number)});
					const type = fileTypeOfMode(d.recs[o + MODE] as number);
					const whiteout = (type === 'char' && d.recs[o + RDEV] === 0) || d.recs[o + EXTRA] === 1;
					names.set(name, whiteout ? 'whiteout' : type);
					if (stats && !d.recs[o + STAT_ERR]) {
						stats.set(name, stat(d.recs, o));
						if (!whiteout) {
							const own: XattrFailure[] = [];
							const set = xattrsOf(d, o, ns, () => childPath(dir, name), own);
							// Most lower files have no xattrs and no failure: one shared answer for them.
							xattrs?.set(name, set === none && own.length === 0 ? plain : {set, failures: own});
						}
					}
				}
				base += listed;
			}
			return {dirs, failures};
		},
	};
}
