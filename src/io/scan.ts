import {closeSync, openSync, readSync, constants} from 'node:fs';
import path from 'node:path';
import type {FileType, LayerRef, LowerHit, Revealed, ScannedEntry, StatLite} from '../core/entry.js';
import {sameCtx, type CtxDir, type LowerName} from '../core/lower-view.js';
import {topFirst} from '../core/lowerdir.js';
import {byText, resolveRedirect, sortedBy} from '../core/paths.js';
import {LowerDirs, childPath, statLite, type FoundName} from './lower-dirs.js';
import {native, nativeStatus} from './native.js';
import {jsScanPort, jsXattrs} from './scan-js.js';
import {nativeScanPort} from './scan-native.js';
import type {KnownXattrs, NameList, PairedLowers, Probed, ScanPort, XattrFailure, XattrSet} from './scan-port.js';
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
	/** Entries per chunk (tests make it small to cross chunk boundaries everywhere). */
	readonly chunk?: number;
	/** Lower dirs per prefetch batch (default: 8, doubling to 128; tests take 1 to cross every boundary). */
	readonly prefetchBatch?: number;
};

/** What a scan found besides its entries. */
export type ScanTotals = {
	readonly lowerDirsRead: number;
	readonly problems: readonly {path: string; message: string}[];
	/** xattrs that could not be read (EIO, EACCES, a name the JS fallback cannot pass): kinds there may be wrong. */
	readonly xattrErrors: readonly {path: string; code: string}[];
	/** Newest mtime seen on a lower directory or file that inspect looked at. */
	readonly newestLowerMtimeMs: number;
};

export type ScanResult = ScanTotals & {readonly entries: ScannedEntry[]};

/** What the walk alone tells of the upper, before any entry is paired: what observing it needs first. */
export type UpperPreview = {
	/** Entries with more than one link (not dirs, not whiteouts), `dev:ino` → their paths, in path order. */
	readonly linked: ReadonlyMap<string, readonly string[]>;
	/** Every origin xattr (hex) recorded in the upper. */
	readonly origins: readonly string[];
};

export type ScanSink = {
	/** Called once, after the walk and before the first chunk. */
	readonly preview?: (p: UpperPreview) => void;
	/** The entries, in path order, a chunk at a time. */
	readonly chunk: (entries: ScannedEntry[]) => void;
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
	readonly shadows: readonly FoundName[];
	readonly before: FoundName | undefined;
	readonly redirect: readonly CtxDir[] | undefined;
	/** Metacopy: where to look for the data (undefined: no metacopy xattr). */
	readonly data: {readonly absolute: string} | {readonly hit: FoundName | undefined} | undefined;
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
 which is what a change set compares against. Bulk passes through the port: the upper tree, the
 lower dirs, then, a chunk of entries at a time, the stats and xattrs of every lower path the
 pairing found; each lower directory is read once.
 */
export async function scanLayers(input: ScanInput, port: ScanPort = defaultScanPort()): Promise<ScanResult> {
	const entries: ScannedEntry[] = [];
	const totals = await scanInChunks(input, port, {chunk: (c) => void pushAll(entries, c)});
	return {...totals, entries};
}

/** Entries per chunk: each chunk's lower stats are asked in one bulk call, then let go. */
const chunkSize = 2048;

/**
 scanLayers a chunk at a time, in path order, so that a consumer that writes entries as they come
 (inspect --json, diff) holds one chunk, not 10⁶ entries. A change set's pass adds to a renamed
 or opaque dir's entry what it hides and reveals (lowerDelta): no chunk ends between such an entry
 and the opening of its children.
 */
export async function scanInChunks(
	input: ScanInput,
	port: ScanPort = defaultScanPort(),
	sink: ScanSink,
): Promise<ScanTotals> {
	const ns = input.ns;
	const lowers = new LowerDirs(ns);
	const regular = topFirst(input.lowers.filter((l) => !l.dataOnly));
	const all = topFirst(input.lowers);
	const rootCtx: CtxDir[] = regular.map((l) => ({layer: l.layer, path: l.path}));
	const problems: {path: string; message: string}[] = [];
	const onProgress = input.onProgress;
	// A change set compares lower-only views as well: the walk pairs an inspect's merge only.
	const pairWith = input.forDiff || regular.length === 0 ? undefined : regular.map((l) => l.path);
	const tree = await port.walk(input.upper, ns, onProgress && ((n) => onProgress(n, '')), pairWith);
	const paired = tree.paired;
	// By path: the native walk's threads meet entries in another order than the JS walk.
	const xattrErrors: XattrFailure[] = [...tree.xattrFailures].sort((a, b) => byText(a.path, b.path));
	if (tree.rootError) problems.push({path: '/', message: `cannot read the upper dir: ${tree.rootError}`});
	const n = tree.count;
	// Paths are kept for dirs only (10³ of 10⁶ entries); an entry's is made when it is paired.
	const dirRels = new Map<number, string>([[-1, '']]);
	const childrenOf = childLists(tree.parents, n);
	const upperDirs = [-1];
	// Where each upper dir's merge context lies in the lowers (pass 1's DirJob.origin, from the
	// walk's xattrs alone): its own path, or below a redirect; none below an opaque dir.
	const origins = new Map<number, string | undefined>([[-1, '']]);
	// Dirs that are opaque or redirected: their merge is not the lower-only view at their path.
	const remerged = new Set<number>();
	const linkedAt = new Map<string, number[]>();
	const originXattrs: string[] = [];
	for (let i = 0; i < n; i++) {
		const parent = tree.parents[i] as number;
		const origin = tree.overlayXattr(i, 'origin');
		if (origin !== undefined) originXattrs.push(origin);
		if (!tree.isDir(i)) {
			const st = tree.links(i) > 1 ? tree.stat(i) : undefined;
			// Whiteouts are all links of one shared inode in work/: not a hard-link group worth listing.
			if (st && !(st.type === 'char' && st.rdev === 0)) {
				const key = `${st.dev}:${st.ino}`;
				const at = linkedAt.get(key);
				if (at) at.push(i);
				else linkedAt.set(key, [i]);
			}
			continue;
		}
		const name = tree.name(i);
		dirRels.set(i, `${dirRels.get(parent) ?? ''}/${name}`);
		upperDirs.push(i);
		const above = origins.get(parent);
		const r = tree.overlayXattr(i, 'redirect');
		const opaque = tree.overlayXattr(i, 'opaque') === 'y';
		if (opaque || r !== undefined) remerged.add(i);
		origins.set(
			i,
			opaque
				? undefined
				: r?.startsWith('/')
					? r.replace(/\/+$/, '')
					: above === undefined
						? undefined
						: `${above}/${r ?? name}`,
		);
	}
	const relOf = (i: number): string =>
		dirRels.get(i) ?? `${dirRels.get(tree.parents[i] as number) ?? ''}/${tree.name(i)}`;
	const linked = new Map<string, string[]>();
	for (const [key, at] of linkedAt) linked.set(key, at.map(relOf).sort(byText));
	sink.preview?.({linked, origins: originXattrs});
	// Lower dirs' own stats from the bulk read, by path (a wanted name's comes back with its hit:
	// FoundName): what pass 2 need not ask for again.
	const known = new Map<string, StatLite>();
	let newest = 0;
	let prefetch: Prefetch | undefined;
	if (!paired && upperDirs.length * regular.length <= prefetchLimit) {
		// Each lower dir is read for the names its lookups will ask (with their lstats, from the
		// open dir): at the upper dir's merge context (its origin) and, for a change set, at its own
		// path too; a change set needs whole listings below an opaque or renamed upper dir.
		// The names go as bytes (NameList): most lower dirs are wanted by one upper dir, whose list
		// is used as it is; a second want adds its list (repeats do no harm).
		const wantedAt = new Map<string, NameList[] | undefined>();
		const want = (dir: string, names: NameList | undefined): void => {
			const had = wantedAt.get(dir);
			if (names === undefined || (wantedAt.has(dir) && had === undefined)) wantedAt.set(dir, undefined);
			else if (had === undefined) wantedAt.set(dir, [names]);
			else if (!had.includes(names)) had.push(names);
		};
		for (const i of upperDirs) {
			const whole = remerged.has(i);
			const kids = childrenOf(i);
			// A relative redirect names a sibling: a metacopy's data, or a renamed dir's origin.
			const siblings: string[] = [];
			for (let j = 0; j < kids.length; j++) {
				const r = tree.overlayXattr(kids[j] as number, 'redirect');
				if (r !== undefined && isSiblingName(r)) siblings.push(r);
			}
			const names = tree.nameList(kids, siblings);
			const rel = dirRels.get(i) as string;
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
		const wanted = wantPaths.map((p) => {
			const lists = wantedAt.get(p);
			return lists && (lists.length === 1 ? lists[0] : Buffer.concat(lists));
		});
		wantedAt.clear();
		prefetch = prefetchInBatches(port, ns, regular.length, wantPaths, wanted, input.prefetchBatch);
	}
	/** Takes in the prefetched listings up to the one a dir of `ctx` is in. */
	async function prefetched(ctx: readonly CtxDir[]): Promise<void> {
		if (!prefetch) return;
		let need = -1;
		for (const d of ctx) need = Math.max(need, prefetch.batchOf.get(d.path) ?? -1);
		await takeUpTo(need);
	}
	/** Batches are taken in order and when pass 1 needs them, never as they arrive: the same report every run. */
	async function takeUpTo(need: number): Promise<void> {
		if (!prefetch) return;
		while (prefetch.taken <= need) {
			const {dirs, failures} = await (prefetch.batches[prefetch.taken++] as Prefetch['batches'][number]);
			lowers.prefetch(dirs);
			for (const [dir, listing] of dirs) if (listing?.self) known.set(dir, listing.self);
			xattrErrors.push(...failures);
		}
	}

	// Pass 1, from memory (and the rare sync read): which lower paths each entry needs, entry by
	// entry in path order. Siblings come in name order, and a dir's subtree where "name/" sorts:
	// "a", "a.b", "a/c" (a '.' sorts before '/').
	let pending: Pending[] = [];
	// Where the upper changed a dir's merge (opaque, redirect), a change set records what its
	// lower-provided names lose and gain (lowerDelta), on the dir's own entry.
	const hasDelta = (job: DirJob): boolean => input.forDiff === true && job.rel !== '' && !sameCtx(job.merge, job.view);
	// Those dirs of this chunk by path, for lowerDelta to find their entries.
	const index = new Map<string, number>();
	const deltas: {job: DirJob; names: ReadonlySet<string>}[] = [];
	// Those dirs of this chunk whose children are not opened yet: their delta is not known, so no
	// chunk ends before it is ("a" waits for "a/", after "a.b" and its subtree).
	let awaiting = 0;
	const limit = Math.max(1, input.chunk ?? chunkSize);
	/** An entry (with, for a dir, the job that opens it), or a dir's job, where "name/" sorts. */
	type Item = {readonly key: string; readonly entry?: Pending; readonly opens?: DirJob; readonly job?: DirJob};
	const frames: {readonly items: Item[]; at: number}[] = [];
	// Each dir's merge context is stat'd with its chunk (the newest lower mtime counts it).
	const merges: (readonly CtxDir[])[] = [];
	const open = (job: DirJob): void => {
		merges.push(job.merge);
		const dirError = job.index >= 0 ? tree.dirErrors.get(job.index) : undefined;
		if (dirError) {
			problems.push({path: job.rel, message: `cannot read this directory: ${dirError}`});
			return;
		}
		const kids = childrenOf(job.index);
		const items: Item[] = [];
		// Only a change set compares names (lowerDelta): no set of every name otherwise.
		const names = input.forDiff ? new Set<string>() : undefined;
		for (let k = 0; k < kids.length; k++) {
			const i = kids[k] as number;
			const name = tree.name(i);
			const rel = `${job.rel}/${name}`;
			names?.add(name);
			const stat = tree.stat(i);
			if (!stat) {
				problems.push({path: rel, message: 'vanished while scanning'});
				continue;
			}
			const {overlay, other} = tree.xattrs(i);
			// A child's name was wanted in every dir of its parent's merge and view (the prefetch).
			const shadows = paired ? pairedHits(paired, job, i, name, false) : lowers.hits(job.merge, name, true);
			const before = input.forDiff ? lowers.hits(job.view, name, true)[0] : undefined;
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
						: {hit: r === undefined ? top : siblingHit(job, i, r)};
			}
			if (input.forDiff && isWhiteout && before?.type === 'dir')
				raw.hidden = [...lowers.tree(lowers.childCtx(job.view, name), rel).keys()];
			let redirect: CtxDir[] | undefined;
			let sub: DirJob | undefined;
			if (stat.type === 'dir') {
				let merge: CtxDir[];
				let origin = `${job.origin}/${name}`;
				const r = overlay['redirect'];
				// The walk's context is the kernel's whatever made it (opaque, redirect, plain).
				const fromWalk = paired && pairedCtx(paired, job, i, name, overlay['opaque'] === 'y' ? undefined : r);
				const view = fromWalk ?? lowers.childCtx(job.view, name, true);
				if (overlay['opaque'] === 'y') merge = fromWalk ?? [];
				else if (r !== undefined) {
					merge = redirect = fromWalk ?? redirectCtx(job, r);
					origin = r.startsWith('/') ? r.replace(/\/+$/, '') : `${job.origin}/${r}`;
					raw.redirectOrigin = origin;
				} else merge = fromWalk ?? lowers.childCtx(job.merge, name, true);
				sub = {index: i, rel, origin, merge, view};
			}
			const wantBeforeXattrs = before !== undefined && !isWhiteout && before.path !== top?.path;
			const entry = {raw, shadows, before, redirect, data, wantShadowXattrs, wantBeforeXattrs};
			items.push(sub ? {key: name, entry, opens: sub} : {key: name, entry});
			if (sub) items.push({key: `${name}/`, job: sub});
		}
		if (names && hasDelta(job)) deltas.push({job, names});
		sortedBy(items, (item) => item.key);
		frames.push({items, at: 0});
	};
	await prefetched(rootCtx);
	// The layer roots' own stats are lstat'd with the first chunk (a root may be a symlink the walk followed).
	if (paired)
		for (const d of paired.ctx(-1))
			if (d.xattrError) xattrErrors.push({path: rootCtx[d.pos]?.path ?? '', code: d.xattrError});
	open({index: -1, rel: '', origin: '', merge: rootCtx, view: rootCtx});
	while (frames.length > 0) {
		const frame = frames[frames.length - 1] as {readonly items: Item[]; at: number};
		if (frame.at >= frame.items.length) {
			frames.pop();
			continue;
		}
		const item = frame.items[frame.at++] as Item;
		if (item.job) {
			await prefetched(item.job.merge);
			if (input.forDiff) await prefetched(item.job.view);
			open(item.job);
			if (hasDelta(item.job)) awaiting--;
			continue;
		}
		const entry = item.entry as Pending;
		if (item.opens && hasDelta(item.opens)) {
			index.set(entry.raw.path, pending.length);
			awaiting++;
		}
		pending.push(entry);
		if (pending.length >= limit && awaiting === 0) {
			sink.chunk(await pairChunk(pending, merges.splice(0)));
			pending = [];
			index.clear();
		}
	}
	if (pending.length > 0 || merges.length > 0) sink.chunk(await pairChunk(pending, merges.splice(0)));
	// Listings no lookup came to still count (their dirs' mtimes, their xattr failures).
	if (prefetch) await takeUpTo(prefetch.batches.length - 1);
	releaseWalkFds();
	return {
		lowerDirsRead: lowers.dirsRead + (paired?.dirsRead ?? 0),
		problems,
		// By path: the walk's pairing and LowerDirs meet lower failures in another order. Once
		// each: a lower path two chunks ask about (or one read again before its batch) fails twice.
		xattrErrors: onceEach(sortedBy([...xattrErrors, ...lowers.errors], (x) => x.path)),
		newestLowerMtimeMs: newest,
	};

	/** The lower dir of `job`'s merge context in the lower at position `pos`. */
	function dirAt(job: DirJob, pos: number): string {
		const layer = (regular[pos] as LayerRef).layer;
		return job.merge.find((d) => d.layer === layer)?.path ?? '';
	}

	/** Entry i's hits from the walk's pairing, as LowerDirs.hits gives them. */
	function pairedHits(p: PairedLowers, job: DirJob, i: number, name: string, redirect: boolean): readonly FoundName[] {
		const hits = p.hits(i, redirect);
		if (hits.length === 0) return noFound;
		return hits.map((h) => {
			const hitPath = childPath(dirAt(job, h.pos), name);
			if (h.whiteoutError) xattrErrors.push({path: hitPath, code: h.whiteoutError});
			const failures = h.xattrErrors.length === 0 ? noFailures : h.xattrErrors.map((code) => ({path: hitPath, code}));
			const layer = (regular[h.pos] as LayerRef).layer;
			if (!h.stat) return {layer, path: hitPath, type: h.type};
			return h.xattrs
				? {layer, path: hitPath, type: h.type, stat: h.stat, known: {set: h.xattrs, failures}}
				: {layer, path: hitPath, type: h.type, stat: h.stat};
		});
	}

	/** A metacopy's data under a relative redirect: the top lower entry of that name (a sibling's, or none). */
	function siblingHit(job: DirJob, i: number, r: string): FoundName | undefined {
		if (!isSiblingName(r)) return paired ? undefined : lowers.hits(job.merge, r, false)[0];
		return paired ? pairedHits(paired, job, i, r, true)[0] : lowers.hits(job.merge, r, true)[0];
	}

	/** Dir i's merge context from the walk's pairing; its dirs' stats become known. */
	function pairedCtx(p: PairedLowers, job: DirJob, i: number, name: string, redirect: string | undefined): CtxDir[] {
		const out: CtxDir[] = [];
		for (const d of p.ctx(i)) {
			const layer = regular[d.pos] as LayerRef;
			const at = redirect?.startsWith('/')
				? path.join(layer.path, redirect)
				: childPath(dirAt(job, d.pos), redirect ?? name);
			out.push({layer: layer.layer, path: at});
			if (d.stat) known.set(at, d.stat);
			if (d.xattrError) xattrErrors.push({path: at, code: d.xattrError});
		}
		return out;
	}

	/** Passes 2 and 3 for one chunk: its lower paths' stats (and xattrs where compared) in two bulk calls, then its entries. */
	async function pairChunk(
		chunk: readonly Pending[],
		mergeDirs: readonly (readonly CtxDir[])[],
	): Promise<ScannedEntry[]> {
		const statPaths = new Set<string>();
		const xattrPaths = new Set<string>();
		// The newest lower mtime counts what the merge looks at: its dirs and the entries found in them.
		const seen = (st: StatLite | undefined): void => {
			if (st && st.mtimeMs > newest) newest = st.mtimeMs;
		};
		for (const merge of mergeDirs)
			for (const d of merge) {
				const k = known.get(d.path);
				if (k) seen(k);
				else statPaths.add(d.path);
			}
		// A hit the lower dir's bulk read gave a stat (and xattrs) is not asked again; what failed
		// reading its xattrs is reported (once each, at the end of the scan: onceEach).
		const wantXattrs = (h: FoundName): void => {
			if (!h.stat || !h.known) return void xattrPaths.add(h.path);
			xattrErrors.push(...h.known.failures);
		};
		for (const p of chunk) {
			// Indexed: for-of over shadows that are sometimes the frozen empty array was a tenth of this pass.
			for (let k = 0; k < p.shadows.length; k++) {
				const h = p.shadows[k] as FoundName;
				if (!h.stat) statPaths.add(h.path);
				else seen(h.stat);
			}
			if (p.data && 'hit' in p.data) seen(p.data.hit?.stat);
			seen(p.before?.stat);
			if (p.redirect) for (const d of p.redirect) if (!known.has(d.path)) statPaths.add(d.path);
			if (p.data && 'hit' in p.data && p.data.hit) wantXattrs(p.data.hit);
			const top = p.shadows[0];
			if (p.wantShadowXattrs && top) wantXattrs(top);
			if (p.before && p.wantBeforeXattrs) wantXattrs(p.before);
			else if (p.before && !p.before.stat) statPaths.add(p.before.path);
		}
		for (const p of xattrPaths) statPaths.delete(p);
		const probed = new Map<string, Probed>();
		// Most chunks have nothing left to ask (their lower dirs' reads gave it): no call then.
		const none = {found: new Map<string, Probed>(), failures: []};
		const [statted, xattred] = await Promise.all([
			statPaths.size > 0 ? port.probe([...statPaths], ns, false) : none,
			xattrPaths.size > 0 ? port.probe([...xattrPaths], ns, true) : none,
		]);
		const stats = new Map<string, StatLite>();
		for (const [p, {stat}] of statted.found) {
			stats.set(p, stat);
			if (stat.mtimeMs > newest) newest = stat.mtimeMs;
		}
		for (const [p, x] of xattred.found) {
			probed.set(p, x);
			if (x.stat.mtimeMs > newest) newest = x.stat.mtimeMs;
		}
		xattrErrors.push(...xattred.failures);
		function lowerStat(p: string): StatLite | undefined {
			const k = known.get(p) ?? stats.get(p) ?? probed.get(p)?.stat;
			if (k) return k;
			const st = lstatPath(p);
			if (!st) return undefined;
			if (st.mtimeMs > newest) newest = st.mtimeMs;
			return statLite(st);
		}
		function lowerXattrs(p: string, given?: KnownXattrs): XattrSet {
			return given?.set ?? probed.get(p)?.xattrs ?? jsXattrs(p, ns, xattrErrors);
		}
		const toHit = (h: FoundName): LowerHit => ({
			layer: h.layer,
			path: h.path,
			stat: h.stat ?? lowerStat(h.path) ?? placeholder(h.type),
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
		const followLowerMetacopy = (hit: LowerHit, given?: KnownXattrs): LowerHit | undefined => {
			let current: LowerHit | undefined = hit;
			for (let depth = 0; current && depth < 8; depth++) {
				const stub: LowerHit = current;
				const x = lowerXattrs(stub.path, depth === 0 ? given : undefined).overlay;
				if (!('metacopy' in x)) return stub;
				const next = x['redirect'];
				const below = all.filter((l) => l.layer < stub.layer);
				const inLayer = stub.path.slice((all.find((l) => l.layer === stub.layer)?.path ?? '').length) || '/';
				current = resolveInLayers(below, next === undefined ? inLayer : resolveRedirect(inLayer, next));
			}
			return current;
		};

		for (const {job, names} of deltas.splice(0)) {
			const delta = lowerDelta(lowers, job, names, lowerStat);
			const parent = chunk[index.get(job.rel) ?? -1];
			if (parent && (delta.hidden.length > 0 || delta.revealed.length > 0))
				parent.raw = {...parent.raw, hidden: [...(parent.raw.hidden ?? []), ...delta.hidden], revealed: delta.revealed};
		}

		// Pass 3: the entries, with their lower stats.
		return chunk.map((p) => {
			const raw = p.raw;
			raw.shadows = p.shadows.length === 0 ? noShadows : p.shadows.map(toHit);
			const top = raw.shadows[0];
			if (p.wantShadowXattrs && top) raw.shadowXattrs = lowerXattrs(top.path, p.shadows[0]?.known).other;
			if (input.content && top && raw.stat.type === 'file' && top.stat.type === 'file' && !('metacopy' in raw.xattrs))
				raw.contentDiffers =
					raw.stat.size !== top.stat.size || !sameContents(childPath(input.upper, raw.path.slice(1)), top.path);
			if (p.before) {
				const same = top !== undefined && top.path === p.before.path;
				const beforeStat = same ? top.stat : (p.before.stat ?? lowerStat(p.before.path));
				if (beforeStat) raw.before = beforeStat;
				if (!(raw.stat.type === 'char' && raw.stat.rdev === 0))
					raw.beforeXattrs = same ? (raw.shadowXattrs ?? []) : lowerXattrs(p.before.path, p.before.known).other;
			}
			if (p.data) {
				const found = 'hit' in p.data ? p.data.hit : undefined;
				const hit = 'absolute' in p.data ? resolveInLayers(all, p.data.absolute) : found ? toHit(found) : undefined;
				const data = hit ? followLowerMetacopy(hit, found?.known) : undefined;
				if (data) raw.dataHit = data;
			}
			if (p.redirect) raw.redirectHits = p.redirect.map((d) => toHit({layer: d.layer, path: d.path, type: 'dir'}));
			return raw;
		});
	}

	function redirectCtx(job: DirJob, value: string): CtxDir[] {
		if (!value.startsWith('/')) return lowers.childCtx(job.merge, value, isSiblingName(value));
		// A . or .. component names nothing: the kernel's lookup refuses them (and the walk's pairing does).
		if (value.split('/').some((c) => c === '.' || c === '..')) return [];
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
const noFound: readonly FoundName[] = Object.freeze([]);
const noFailures: readonly XattrFailure[] = Object.freeze([]);

/** Lower listings read ahead, in batches that come one after another while pass 1 runs. */
type Prefetch = {
	readonly batches: readonly ReturnType<ScanPort['readDirs']>[];
	/** Each wanted dir's batch. */
	readonly batchOf: ReadonlyMap<string, number>;
	/** Batches taken in so far (always in order). */
	taken: number;
};

/** The first batch small (pass 1 starts on it), then doubling, up to what one native call reads on one thread. */
const firstBatch = 8;
const batchMax = 128;
/** Batches read at once: warm, one core reads while the other classifies; cold, two hide more of the disk. */
const inFlight = 2;

/**
 Reads the wanted lower dirs in batches, each starting when the one `inFlight` before it is done:
 the native port reads each on one thread of the pool while the main thread pairs and classifies
 what came before (a single call on both threads left the main thread idle meanwhile). Cold, two
 at once were ~90 ms faster on the 100k fixture than one; warm, the same.
 */
function prefetchInBatches(
	port: ScanPort,
	ns: 'trusted' | 'user',
	roots: number,
	paths: readonly string[],
	wanted: readonly (NameList | undefined)[],
	fixed?: number,
): Prefetch {
	const batches: ReturnType<ScanPort['readDirs']>[] = [];
	const batchOf = new Map<string, number>();
	const settled: Promise<unknown>[] = [];
	// The layer roots (the first `roots` paths, which readDirs may follow) all go in the first batch.
	for (
		let from = 0, size = Math.max(fixed ?? firstBatch, roots);
		from < paths.length;
		from += size, size = fixed ?? Math.min(size * 2, batchMax)
	) {
		const to = Math.min(paths.length, from + size);
		const b = batches.length;
		for (let k = from; k < to; k++) batchOf.set(paths[k] as string, b);
		const batch = (settled[b - inFlight] ?? Promise.resolve()).then(() =>
			port.readDirs(paths.slice(from, to), ns, from === 0 ? roots : 0, wanted.slice(from, to)),
		);
		// A failed batch fails where it is taken in; the next ones start anyway.
		settled.push(batch.catch(() => undefined));
		batches.push(batch);
	}
	return {batches, batchOf, taken: 0};
}

/**
 Each dir's children by index (-1: the root's), in walk order, from the parent links: two
 Int32Arrays for the whole tree, not an array per dir.
 */
function childLists(parents: ArrayLike<number>, n: number): (dir: number) => Int32Array {
	// Counted at [parent + 2], summed so [p + 1] starts p's range, then advanced past it by the
	// fill: p's children end up in [ends[p], ends[p + 1]) (the root's from 0).
	const ends = new Int32Array(n + 2);
	for (let i = 0; i < n; i++) {
		const at = (parents[i] as number) + 2;
		ends[at] = (ends[at] as number) + 1;
	}
	for (let k = 2; k < n + 2; k++) ends[k] = (ends[k] as number) + (ends[k - 1] as number);
	const kids = new Int32Array(n);
	for (let i = 0; i < n; i++) {
		const at = (parents[i] as number) + 1;
		kids[ends[at] as number] = i;
		ends[at] = (ends[at] as number) + 1;
	}
	return (dir) => kids.subarray(dir < 0 ? 0 : (ends[dir] as number), ends[dir + 1] as number);
}

/** A relative redirect within one dir (the kernel's for a rename there): its name was prefetched with the dir's. */
const isSiblingName = (r: string): boolean => !r.includes('/');

/** Each (path, errno) once, in order. */
function onceEach(failures: readonly XattrFailure[]): XattrFailure[] {
	const seen = new Set<string>();
	return failures.filter((f) => {
		const key = `${f.code}\0${f.path}`;
		return seen.has(key) ? false : (seen.add(key), true);
	});
}

/** push(...xs) without the argument-count limit of a spread. */
function pushAll<T>(to: T[], xs: readonly T[]): void {
	for (const x of xs) to.push(x);
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
