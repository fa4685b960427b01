import {closeSync, openSync, readSync, constants} from 'node:fs';
import path from 'node:path';
import type {LayerRef, LowerHit, Revealed, ScannedEntry, StatLite} from '../core/entry.js';
import {sameCtx, type CtxDir, type LowerName} from '../core/lower-view.js';
import {resolveRedirect} from '../core/paths.js';
import {LowerDirs, childPath, statLite} from './lower-dirs.js';
import {getXattrPath, listXattrsPath, lstatPath, readdirPath, releaseWalkFds, sysPath} from './walk-fs.js';
import {topFirst} from '../core/lowerdir.js';

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

const textXattrs = new Set(['opaque', 'redirect', 'nlink', 'protattr', 'impure']);

/** Where an xattr read that failed (not ENODATA/ENOTSUP) is reported: it must not pass for "no xattr". */
type XattrSink = (path: string, error: unknown) => void;

function overlayXattrs(p: string, ns: string, sink: XattrSink): {overlay: Record<string, string>; other: string[]} {
	const overlay: Record<string, string> = {};
	const other: string[] = [];
	let names: string[] = [];
	try {
		names = listXattrsPath(p);
	} catch (error) {
		sink(p, error);
		return {overlay, other};
	}
	const prefix = `${ns}.overlay.`;
	for (const n of names) {
		if (n.startsWith(prefix)) {
			const key = n.slice(prefix.length);
			const v = safeGet(p, n, sink);
			overlay[key] = v === undefined ? '' : textXattrs.has(key) ? v.toString('utf8') : v.toString('hex');
		} else if (!n.startsWith('trusted.overlay.') && !n.startsWith('user.overlay.')) {
			other.push(`${n}=${safeGet(p, n, sink)?.toString('hex') ?? ''}`);
		}
	}
	return {overlay, other};
}

function safeGet(p: string, name: string, sink: XattrSink): Buffer | undefined {
	try {
		return getXattrPath(p, name);
	} catch (error) {
		sink(p, error);
		return undefined;
	}
}

type DirJob = {readonly rel: string; readonly abs: string; readonly merge: CtxDir[]; readonly view: CtxDir[]};

/**
 Walks the upper layer (lstat, no-follow xattrs, never file contents) and pairs every entry with
 the lower layers: `merge` is the kernel's merge context for classification (it follows upper
 redirects and stops at upper opaque dirs); `view` is what the lowers alone show at the same path,
 which is what a change set compares against. Each lower directory is read once.
 */
export function scanLayers(input: ScanInput): ScanResult {
	const lowers = new LowerDirs(input.ns);
	const regular = topFirst(input.lowers.filter((l) => !l.dataOnly));
	const all = topFirst(input.lowers);
	const rootCtx: CtxDir[] = regular.map((l) => ({layer: l.layer, path: l.path}));
	const entries: ScannedEntry[] = [];
	const index = new Map<string, number>();
	const problems: {path: string; message: string}[] = [];
	const xattrErrors: {path: string; code: string}[] = [];
	const sink: XattrSink = (p, error) => {
		xattrErrors.push({path: p, code: (error as NodeJS.ErrnoException).code ?? 'EIO'});
	};
	let newest = 0;
	const lowerStat = (p: string): StatLite | undefined => {
		const st = lstatPath(p);
		if (!st) return undefined;
		if (st.mtimeMs > newest) newest = st.mtimeMs;
		return statLite(st);
	};
	// Lower stats are read on first use: a whiteout only needs its layer number, a copy-up its size.
	const toHit = (n: LowerName): LowerHit => {
		let cached: StatLite | undefined;
		return {
			layer: n.layer,
			path: n.path,
			get stat(): StatLite {
				cached ??= lowerStat(n.path) ?? {
					type: n.type,
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
				};
				return cached;
			},
		};
	};
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
			if (safeGet(stub.path, `${input.ns}.overlay.metacopy`, sink) === undefined) return stub;
			const next = safeGet(stub.path, `${input.ns}.overlay.redirect`, sink)?.toString();
			const below = all.filter((l) => l.layer < stub.layer);
			const inLayer = stub.path.slice((all.find((l) => l.layer === stub.layer)?.path ?? '').length) || '/';
			current = resolveInLayers(below, next === undefined ? inLayer : resolveRedirect(inLayer, next));
		}
		return current;
	};
	const redirectCtx = (job: DirJob, value: string): CtxDir[] => {
		if (value.startsWith('/')) {
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
		return lowers.childCtx(job.merge, value);
	};

	const stack: DirJob[] = [{rel: '', abs: input.upper, merge: rootCtx, view: rootCtx}];
	let scanned = 0;
	while (stack.length > 0) {
		const job = stack.pop() as DirJob;
		for (const d of job.merge) lowerStat(d.path);
		let names: string[];
		try {
			names = readdirPath(job.abs).sort();
		} catch (error) {
			problems.push({path: job.rel || '/', message: (error as Error).message});
			continue;
		}
		const children: DirJob[] = [];
		for (const name of names) {
			const abs = childPath(job.abs, name);
			const rel = `${job.rel}/${name}`;
			const st = lstatPath(abs);
			if (!st) {
				problems.push({path: rel, message: 'vanished while scanning'});
				continue;
			}
			scanned++;
			const stat = statLite(st);
			// The kernel puts no xattrs on whiteouts (0/0 char devices): skip the listxattr.
			const {overlay, other} =
				stat.type === 'char' && stat.rdev === 0 ? {overlay: {}, other: []} : overlayXattrs(abs, input.ns, sink);
			const shadows = lowers.hits(job.merge, name).map(toHit);
			const viewHits = lowers.hits(job.view, name);
			const before = viewHits[0];
			const top = shadows[0];
			const raw: {-readonly [K in keyof ScannedEntry]: ScannedEntry[K]} = {
				path: rel,
				stat,
				xattrs: overlay,
				otherXattrs: other,
				shadows,
			};
			const isWhiteout = stat.type === 'char' && stat.rdev === 0;
			// Lower xattrs matter only for comparing a full copy with its original.
			if (top && !isWhiteout && !('metacopy' in overlay) && stat.type !== 'dir')
				raw.shadowXattrs = overlayXattrs(top.path, input.ns, sink).other;
			else if (top && stat.type === 'dir' && !('opaque' in overlay))
				raw.shadowXattrs = overlayXattrs(top.path, input.ns, sink).other;
			if (input.content && top && stat.type === 'file' && top.stat.type === 'file' && !('metacopy' in overlay))
				raw.contentDiffers = stat.size !== top.stat.size || !sameContents(abs, top.path);
			if (before && input.forDiff) {
				const same = top !== undefined && top.path === before.path;
				const beforeStat = same ? top.stat : lowerStat(before.path);
				if (beforeStat) raw.before = beforeStat;
				if (!isWhiteout)
					raw.beforeXattrs = same ? (raw.shadowXattrs ?? []) : overlayXattrs(before.path, input.ns, sink).other;
			}
			if ('metacopy' in overlay) {
				const r = overlay['redirect'];
				const dataPath = r === undefined ? rel : resolveRedirect(rel, r);
				const hit =
					r !== undefined && r.startsWith('/')
						? resolveInLayers(all, dataPath)
						: r !== undefined
							? lowers.hits(job.merge, r).map(toHit)[0]
							: top;
				const data = hit ? followLowerMetacopy(hit) : undefined;
				if (data) raw.dataHit = data;
			}
			if (input.forDiff && isWhiteout && before?.type === 'dir')
				raw.hidden = [...lowers.tree(lowers.childCtx(job.view, name), rel).keys()];
			if (stat.type === 'dir') {
				const viewCtx = lowers.childCtx(job.view, name);
				let merge: CtxDir[];
				if (overlay['opaque'] === 'y') merge = [];
				else if (overlay['redirect'] !== undefined) {
					merge = redirectCtx(job, overlay['redirect']);
					raw.redirectHits = merge.map((d) => toHit({layer: d.layer, path: d.path, type: 'dir'}));
				} else merge = lowers.childCtx(job.merge, name);
				children.push({rel, abs, merge, view: viewCtx});
			}
			index.set(rel, entries.length);
			entries.push(raw);
		}
		// Where the upper changed the merge (opaque, redirect), the lower-provided names differ
		// between the new view and the lower-only view: record what disappears and what appears.
		if (input.forDiff && !sameCtx(job.merge, job.view) && job.rel !== '') {
			const delta = lowerDelta(lowers, job, new Set(names), lowerStat);
			const i = index.get(job.rel);
			const parent = i === undefined ? undefined : entries[i];
			if (parent && i !== undefined && (delta.hidden.length > 0 || delta.revealed.length > 0)) {
				entries[i] = {...parent, hidden: [...(parent.hidden ?? []), ...delta.hidden], revealed: delta.revealed};
			}
		}
		stack.push(...children.reverse());
		input.onProgress?.(scanned, job.rel || '/');
	}
	entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	releaseWalkFds();
	return {
		entries,
		lowerDirsRead: lowers.dirsRead,
		problems,
		xattrErrors: [...xattrErrors, ...lowers.errors],
		newestLowerMtimeMs: newest,
	};
}

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
