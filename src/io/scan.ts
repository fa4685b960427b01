import {closeSync, openSync, readSync, constants} from 'node:fs';
import path from 'node:path';
import type {FileType, LayerRef, LowerHit, Revealed, ScannedEntry, StatLite} from '../core/entry.js';
import {sameCtx, type CtxDir, type LowerName} from '../core/lower-view.js';
import {topFirst} from '../core/lowerdir.js';
import {resolveRedirect} from '../core/paths.js';
import {LowerDirs, childPath, statLite} from './lower-dirs.js';
import {native, nativeStatus} from './native.js';
import {jsScanPort, jsXattrs} from './scan-js.js';
import {nativeScanPort} from './scan-native.js';
import type {Probed, ScanPort, XattrFailure, XattrSet} from './scan-port.js';
import {lstatPath, releaseWalkFds, sysPath} from './walk-fs.js';

export type ScanInput = {
	readonly upper: string;
	/** Bottom→top; data-only layers (at the bottom) only serve metacopy redirects. */
	readonly lowers: readonly LayerRef[];
	readonly ns: 'trusted' | 'user';
	readonly onProgress?: (scanned: number, dir: string) => void;
	/** Hash copied-up files against their lower copy (reads contents; off by default). */
	readonly content?: boolean;
	/** Also gather what a change set needs (the lower-only view at each path). */
	readonly forDiff?: boolean;
};

export type ScanResult = {
	readonly entries: ScannedEntry[];
	readonly lowerDirsRead: number;
	readonly problems: readonly {path: string; message: string}[];
	/** xattrs that could not be read (EIO, EACCES, a name the JS fallback cannot pass): kinds there may be wrong. */
	readonly xattrErrors: readonly {path: string; code: string}[];
	/** Newest mtime seen on a lower directory or file that inspect looked at. */
	readonly newestLowerMtimeMs: number;
};

type DirJob = {
	/** Index of the dir in the walked tree; -1 for the root. */
	readonly index: number;
	readonly rel: string;
	/**
	 The lower path this dir's merge context stands for: its own path, or where a redirect (its
	 own or an ancestor's) points. A relative redirect is relative to this, not to the upper path.
	 */
	readonly origin: string;
	readonly merge: CtxDir[];
	readonly view: CtxDir[];
};

/** One upper entry between the names-only pass and the stat pass: lower paths known, not yet stat'd. */
type Pending = {
	raw: {-readonly [K in keyof ScannedEntry]: ScannedEntry[K]};
	readonly shadows: readonly LowerName[];
	readonly before: LowerName | undefined;
	readonly redirect: readonly CtxDir[] | undefined;
	/** Metacopy: where to look for the data (undefined: no metacopy xattr). */
	readonly data: {readonly absolute: string} | {readonly hit: LowerName | undefined} | undefined;
	readonly wantShadowXattrs: boolean;
	readonly wantBeforeXattrs: boolean;
};

/** Prefetching every upper dir in every lower costs dirs × layers reads: above this, read on demand. */
const prefetchLimit = 200_000;

/** Which scanner inspect uses and why (`ovl doctor` shows it). */
export function scannerStatus(): {readonly name: 'native' | 'js'; readonly reason: string} {
	if (process.env['OVL_SCANNER'] === 'js') return {name: 'js', reason: 'OVL_SCANNER=js forces the pure-JS scanner'};
	const api = native();
	return api
		? {name: 'native', reason: 'native/scan.c, off the main thread'}
		: {name: 'js', reason: `the native helper is not loaded: ${nativeStatus().reason}`};
}

/** The port in use: the native scanner when built, else the pure-JS one. */
export function defaultScanPort(): ScanPort {
	const api = scannerStatus().name === 'native' ? native() : undefined;
	return api ? nativeScanPort(api) : jsScanPort;
}

/**
 Walks the upper layer (lstat, no-follow xattrs, never file contents) and pairs every entry with
 the lower layers: `merge` is the kernel's merge context for classification (it follows upper
 redirects and stops at upper opaque dirs); `view` is what the lowers alone show at the same path,
 which is what a change set compares against. Three bulk passes through the port: the upper tree,
 the lower dirs, then the stats and xattrs of every lower path the pairing found; each lower
 directory is read once.
 */
export async function scanLayers(input: ScanInput, port: ScanPort = defaultScanPort()): Promise<ScanResult> {
	const ns = input.ns;
	const lowers = new LowerDirs(ns);
	const regular = topFirst(input.lowers.filter((l) => !l.dataOnly));
	const all = topFirst(input.lowers);
	const rootCtx: CtxDir[] = regular.map((l) => ({layer: l.layer, path: l.path}));
	const problems: {path: string; message: string}[] = [];
	const onProgress = input.onProgress;
	const tree = await port.walk(input.upper, ns, onProgress && ((n) => onProgress(n, '')));
	// By path: the native walk's threads meet entries in another order than the JS walk.
	const xattrErrors: XattrFailure[] = [...tree.xattrFailures].sort((a, b) =>
		a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
	);
	if (tree.rootError) problems.push({path: '/', message: `cannot read the upper dir: ${tree.rootError}`});
	const n = tree.names.length;
	const rels: string[] = new Array<string>(n);
	const children = new Map<number, number[]>([[-1, []]]);
	// Where each upper dir's merge context lies in the lowers (pass 1's DirJob.origin, from the
	// walk's xattrs alone): its own path, or below a redirect; none below an opaque dir.
	const origins = new Map<number, string | undefined>([[-1, '']]);
	for (let i = 0; i < n; i++) {
		const parent = tree.parents[i] as number;
		const name = tree.names[i] as string;
		rels[i] = `${parent < 0 ? '' : rels[parent]}/${name}`;
		children.get(parent)?.push(i);
		if (tree.stats[i]?.type !== 'dir') continue;
		children.set(i, []);
		const x = (tree.xattrs[i] as XattrSet).overlay;
		const above = origins.get(parent);
		const r = x['redirect'];
		origins.set(
			i,
			x['opaque'] === 'y'
				? undefined
				: r?.startsWith('/')
					? r.replace(/\/+$/, '')
					: above === undefined
						? undefined
						: `${above}/${r ?? name}`,
		);
	}
	const upperDirs = [-1, ...[...children.keys()].filter((i) => i >= 0)];
	// Lower stats the bulk reads already made, by path: what pass 2 need not ask for again.
	const known = new Map<string, StatLite>();
	const knownXattrs = new Map<string, {readonly set: XattrSet; readonly failures: readonly XattrFailure[]}>();
	if (upperDirs.length * regular.length <= prefetchLimit) {
		// Each lower dir is read for the names its lookups will ask (with their lstats, from the
		// open dir): at the upper dir's merge context (its origin) and, for a change set, at its own
		// path too; a change set needs whole listings below an opaque or renamed upper dir.
		const wantedAt = new Map<string, Set<string> | undefined>();
		const want = (dir: string, names: readonly string[] | undefined): void => {
			const had = wantedAt.get(dir);
			if (names === undefined || (wantedAt.has(dir) && had === undefined)) wantedAt.set(dir, undefined);
			else if (had) for (const name of names) had.add(name);
			else wantedAt.set(dir, new Set(names));
		};
		for (const i of upperDirs) {
			const x = i < 0 ? undefined : (tree.xattrs[i] as XattrSet).overlay;
			const whole = x !== undefined && (x['opaque'] === 'y' || x['redirect'] !== undefined);
			const kids = children.get(i) as number[];
			const names = kids.map((k) => tree.names[k] as string);
			// A relative redirect names a sibling: a metacopy's data, or a renamed dir's origin.
			for (const k of kids) {
				const r = (tree.xattrs[k] as XattrSet).overlay['redirect'];
				if (r !== undefined && !r.startsWith('/') && !r.includes('/')) names.push(r);
			}
			const rel = i < 0 ? '' : (rels[i] as string);
			const origin = origins.get(i);
			// Where the merge and the lower-only view differ (below a renamed or opaque dir), the
			// change set compares their whole listings (lowerDelta).
			const only = input.forDiff && (whole || origin !== rel) ? undefined : names;
			for (const l of regular) {
				if (input.forDiff) want(i < 0 ? l.path : childPath(l.path, rel.slice(1)), only);
				if (origin !== undefined) want(origin === '' ? l.path : path.join(l.path, origin), only);
			}
		}
		// Layer roots first: readDirs follows a symlink there only.
		const wantPaths = [...wantedAt.keys()];
		const wantedByPath = new Map<string, string[]>();
		const wanted = wantPaths.map((p) => {
			const set = wantedAt.get(p);
			if (!set) return undefined;
			const names = [...set];
			wantedByPath.set(p, names);
			return names;
		});
		const {dirs, failures} = await port.readDirs(wantPaths, ns, regular.length, wanted);
		lowers.prefetch(dirs, wantedByPath);
		for (const [dir, listing] of dirs) {
			if (listing?.self) known.set(dir, listing.self);
			if (listing?.stats) for (const [name, st] of listing.stats) known.set(childPath(dir, name), st);
			if (listing?.xattrs) for (const [name, x] of listing.xattrs) knownXattrs.set(childPath(dir, name), x);
		}
		xattrErrors.push(...failures);
	}

	// Pass 1, from memory (and the rare sync read): which lower paths each entry needs.
	const pending: Pending[] = [];
	const index = new Map<string, number>();
	const statPaths = new Set<string>();
	const xattrPaths = new Set<string>();
	const deltas: {job: DirJob; names: ReadonlySet<string>}[] = [];
	const stack: DirJob[] = [{index: -1, rel: '', origin: '', merge: rootCtx, view: rootCtx}];
	while (stack.length > 0) {
		const job = stack.pop() as DirJob;
		for (const d of job.merge) statPaths.add(d.path);
		const dirError = job.index >= 0 ? tree.dirErrors.get(job.index) : undefined;
		if (dirError) {
			problems.push({path: job.rel, message: `cannot read this directory: ${dirError}`});
			continue;
		}
		const kids = children.get(job.index) ?? [];
		const next: DirJob[] = [];
		// Only a change set compares names (lowerDelta): no set of every name otherwise.
		const names = input.forDiff ? new Set<string>() : undefined;
		for (const i of kids) {
			const name = tree.names[i] as string;
			const rel = rels[i] as string;
			names?.add(name);
			const stat = tree.stats[i];
			if (!stat) {
				problems.push({path: rel, message: 'vanished while scanning'});
				continue;
			}
			const {overlay, other} = tree.xattrs[i] as XattrSet;
			const shadows = lowers.hits(job.merge, name);
			const before = input.forDiff ? lowers.hits(job.view, name)[0] : undefined;
			const top = shadows[0];
			const isWhiteout = stat.type === 'char' && stat.rdev === 0;
			const metacopy = 'metacopy' in overlay;
			// Lower xattrs matter only for comparing a full copy with its original.
			const wantShadowXattrs =
				top !== undefined &&
				((!isWhiteout && !metacopy && stat.type !== 'dir') || (stat.type === 'dir' && !('opaque' in overlay)));
			const raw: Pending['raw'] = {path: rel, stat, xattrs: overlay, otherXattrs: other, shadows: noShadows};
			let data: Pending['data'];
			if (metacopy) {
				const r = overlay['redirect'];
				if (r !== undefined && !r.startsWith('/')) raw.redirectOrigin = `${job.origin}/${r}`;
				data =
					r !== undefined && r.startsWith('/')
						? {absolute: resolveRedirect(rel, r)}
						: {hit: r !== undefined ? lowers.hits(job.merge, r)[0] : top};
				if ('hit' in data && data.hit) xattrPaths.add(data.hit.path);
			}
			if (input.forDiff && isWhiteout && before?.type === 'dir')
				raw.hidden = [...lowers.tree(lowers.childCtx(job.view, name), rel).keys()];
			let redirect: CtxDir[] | undefined;
			if (stat.type === 'dir') {
				const view = lowers.childCtx(job.view, name);
				let merge: CtxDir[];
				let origin = `${job.origin}/${name}`;
				const r = overlay['redirect'];
				if (overlay['opaque'] === 'y') merge = [];
				else if (r !== undefined) {
					merge = redirect = redirectCtx(job, r);
					origin = r.startsWith('/') ? r.replace(/\/+$/, '') : `${job.origin}/${r}`;
					raw.redirectOrigin = origin;
				} else merge = lowers.childCtx(job.merge, name);
				next.push({index: i, rel, origin, merge, view});
			}
			for (const h of shadows) statPaths.add(h.path);
			for (const d of redirect ?? []) statPaths.add(d.path);
			if (wantShadowXattrs && top) xattrPaths.add(top.path);
			const wantBeforeXattrs = before !== undefined && !isWhiteout && before.path !== top?.path;
			if (before) (wantBeforeXattrs ? xattrPaths : statPaths).add(before.path);
			if (stat.type === 'dir') index.set(rel, pending.length);
			pending.push({
				raw,
				shadows,
				before,
				redirect,
				data,
				wantShadowXattrs,
				wantBeforeXattrs,
			});
		}
		// Where the upper changed the merge (opaque, redirect), the lower-provided names differ
		// between the new view and the lower-only view: record what disappears and what appears.
		if (names && !sameCtx(job.merge, job.view) && job.rel !== '') deltas.push({job, names});
		stack.push(...next.reverse());
	}

	// Pass 2: every lower path's stat (and xattrs where compared) in two bulk calls.
	for (const p of xattrPaths) statPaths.delete(p);
	for (const p of known.keys()) statPaths.delete(p);
	// What the lower dirs' reads already gave (stat and xattrs of a wanted name) is not asked again.
	const probed = new Map<string, Probed>();
	for (const p of xattrPaths) {
		const st = known.get(p);
		const x = knownXattrs.get(p);
		if (!st || !x) continue;
		probed.set(p, {stat: st, xattrs: x.set});
		xattrErrors.push(...x.failures);
		xattrPaths.delete(p);
	}
	const [statted, xattred] = await Promise.all([
		port.probe([...statPaths], ns, false),
		port.probe([...xattrPaths], ns, true),
	]);
	for (const [p, {stat}] of statted.found) known.set(p, stat);
	for (const [p, x] of xattred.found) probed.set(p, x);
	xattrErrors.push(...xattred.failures);
	let newest = 0;
	for (const stat of known.values()) if (stat.mtimeMs > newest) newest = stat.mtimeMs;
	for (const {stat} of probed.values()) if (stat.mtimeMs > newest) newest = stat.mtimeMs;
	function lowerStat(p: string): StatLite | undefined {
		const k = known.get(p) ?? probed.get(p)?.stat;
		if (k) return k;
		const st = lstatPath(p);
		if (!st) return undefined;
		if (st.mtimeMs > newest) newest = st.mtimeMs;
		return statLite(st);
	}
	function lowerXattrs(p: string): XattrSet {
		const known = probed.get(p)?.xattrs;
		if (known) return known;
		return jsXattrs(p, ns, xattrErrors);
	}
	const toHit = (h: LowerName): LowerHit => ({
		layer: h.layer,
		path: h.path,
		stat: lowerStat(h.path) ?? placeholder(h.type),
	});
	const resolveInLayers = (layers: readonly LayerRef[], overlayPath: string): LowerHit | undefined => {
		for (const l of layers) {
			const stat = lowerStat(path.join(l.path, overlayPath));
			if (stat) return {layer: l.layer, path: path.join(l.path, overlayPath), stat};
		}
		return undefined;
	};
	// A lower file may itself be a metacopy stub (composefs-style, or an earlier overlay's upper)
	// whose redirect points into a layer below it: follow the chain to the layer holding the bytes.
	// An absolute redirect is from the layer root; a relative one (a rename within one dir) names a
	// sibling of the stub, so it resolves against the stub's own dir in its layer.
	const followLowerMetacopy = (hit: LowerHit): LowerHit | undefined => {
		let current: LowerHit | undefined = hit;
		for (let depth = 0; current && depth < 8; depth++) {
			const stub: LowerHit = current;
			const x = lowerXattrs(stub.path).overlay;
			if (!('metacopy' in x)) return stub;
			const next = x['redirect'];
			const below = all.filter((l) => l.layer < stub.layer);
			const inLayer = stub.path.slice((all.find((l) => l.layer === stub.layer)?.path ?? '').length) || '/';
			current = resolveInLayers(below, next === undefined ? inLayer : resolveRedirect(inLayer, next));
		}
		return current;
	};

	for (const {job, names} of deltas) {
		const delta = lowerDelta(lowers, job, names, lowerStat);
		const parent = pending[index.get(job.rel) ?? -1];
		if (parent && (delta.hidden.length > 0 || delta.revealed.length > 0))
			parent.raw = {...parent.raw, hidden: [...(parent.raw.hidden ?? []), ...delta.hidden], revealed: delta.revealed};
	}

	// Pass 3: the entries, with their lower stats.
	const entries: ScannedEntry[] = pending.map((p) => {
		const raw = p.raw;
		raw.shadows = p.shadows.length === 0 ? noShadows : p.shadows.map(toHit);
		const top = raw.shadows[0];
		if (p.wantShadowXattrs && top) raw.shadowXattrs = lowerXattrs(top.path).other;
		if (input.content && top && raw.stat.type === 'file' && top.stat.type === 'file' && !('metacopy' in raw.xattrs))
			raw.contentDiffers =
				raw.stat.size !== top.stat.size || !sameContents(childPath(input.upper, raw.path.slice(1)), top.path);
		if (p.before) {
			const same = top !== undefined && top.path === p.before.path;
			const beforeStat = same ? top.stat : lowerStat(p.before.path);
			if (beforeStat) raw.before = beforeStat;
			if (!(raw.stat.type === 'char' && raw.stat.rdev === 0))
				raw.beforeXattrs = same ? (raw.shadowXattrs ?? []) : lowerXattrs(p.before.path).other;
		}
		if (p.data) {
			const hit =
				'absolute' in p.data ? resolveInLayers(all, p.data.absolute) : p.data.hit ? toHit(p.data.hit) : undefined;
			const data = hit ? followLowerMetacopy(hit) : undefined;
			if (data) raw.dataHit = data;
		}
		if (p.redirect) raw.redirectHits = p.redirect.map((d) => toHit({layer: d.layer, path: d.path, type: 'dir'}));
		return raw;
	});
	// The walk is depth first in byte order: already sorted unless a sibling sorts between a dir
	// and its children ("a", "a.b", "a/c"). A check is one pass; a sort of 10^6 paths is a second.
	if (!isSorted(entries)) entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	releaseWalkFds();
	return {
		entries,
		lowerDirsRead: lowers.dirsRead,
		problems,
		xattrErrors: [...xattrErrors, ...lowers.errors],
		newestLowerMtimeMs: newest,
	};

	function redirectCtx(job: DirJob, value: string): CtxDir[] {
		if (!value.startsWith('/')) return lowers.childCtx(job.merge, value);
		const out: CtxDir[] = [];
		for (const l of regular) {
			const p = path.join(l.path, value);
			const st = lstatPath(p);
			if (!st) continue;
			if (!st.isDirectory()) break;
			out.push({layer: l.layer, path: p});
			if (lowers.isOpaque(p)) break;
		}
		return out;
	}
}

const noShadows: readonly LowerHit[] = Object.freeze([]);

function isSorted(entries: readonly ScannedEntry[]): boolean {
	for (let i = 1; i < entries.length; i++)
		if ((entries[i - 1] as ScannedEntry).path > (entries[i] as ScannedEntry).path) return false;
	return true;
}

/** A lower name whose stat failed (gone since its dir was read): its type, nothing else. */
const placeholder = (type: FileType): StatLite => ({
	type,
	perm: 0,
	uid: 0,
	gid: 0,
	size: 0,
	blocks: 0,
	nlink: 0,
	ino: -1,
	dev: 0,
	rdev: 0,
	mtimeMs: 0,
});

/** Compares the lower-provided children of one directory under its merge and view contexts. */
function lowerDelta(
	lowers: LowerDirs,
	job: DirJob,
	upperNames: ReadonlySet<string>,
	stat: (p: string) => StatLite | undefined,
): {hidden: string[]; revealed: Revealed[]} {
	const hidden: string[] = [];
	const revealed: Revealed[] = [];
	const merged = new Map<string, LowerName>();
	const viewed = new Map<string, LowerName>();
	for (const [name, hit] of lowers.children(job.merge)) {
		if (upperNames.has(name)) continue;
		const p = `${job.rel}/${name}`;
		merged.set(p, hit);
		if (hit.type === 'dir') lowers.tree(lowers.childCtx(job.merge, name), p, merged);
	}
	for (const [name, hit] of lowers.children(job.view)) {
		if (upperNames.has(name)) continue;
		const p = `${job.rel}/${name}`;
		viewed.set(p, hit);
		if (hit.type === 'dir') lowers.tree(lowers.childCtx(job.view, name), p, viewed);
	}
	for (const [p, hit] of merged) {
		const v = viewed.get(p);
		const hitStat = stat(hit.path);
		if (!hitStat) continue;
		const beforeStat = v ? stat(v.path) : undefined;
		revealed.push({path: p, hit: hitStat, ...(beforeStat ? {before: beforeStat} : {}), same: v?.path === hit.path});
	}
	for (const p of viewed.keys()) if (!merged.has(p)) hidden.push(p);
	return {hidden, revealed};
}

/** Compares two regular files chunk by chunk, opened without following links. */
function sameContents(a: string, b: string): boolean {
	const fa = openSync(sysPath(a), constants.O_RDONLY | constants.O_NOFOLLOW);
	const fb = openSync(sysPath(b), constants.O_RDONLY | constants.O_NOFOLLOW);
	try {
		const ba = Buffer.alloc(1 << 16);
		const bb = Buffer.alloc(1 << 16);
		for (;;) {
			const na = readSync(fa, ba, 0, ba.length, null);
			const nb = readSync(fb, bb, 0, bb.length, null);
			if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
			if (na === 0) return true;
		}
	} finally {
		closeSync(fa);
		closeSync(fb);
	}
}
