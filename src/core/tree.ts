import {entryKinds, type Entry, type EntryKind, type FileType} from './entry.js';

/** A path in the explorer: an upper entry, or a lower entry the upper did not touch. */
export type TreeNode = {
	readonly name: string;
	readonly path: string;
	readonly depth: number;
	readonly type: FileType;
	readonly entry?: Entry;
	/** For lower-only nodes: the layer serving it, and whether an upper whiteout/opaque dir hides it. */
	readonly lower?: {readonly layer: number; readonly hidden: boolean};
	readonly children: TreeNode[];
	/** Upper entries in this subtree (itself included). */
	upperCount: number;
	/** Nodes in this subtree the merged view shows (itself included): upper entries and what the lowers serve. */
	mergedCount: number;
	/** The entry's kind, read once here: filters test it on every node of 10⁶. */
	kind?: EntryKind;
	/** The path in lower case, made when the tree is built (the path itself when it has no capitals). */
	foldedPath?: string;
	/** A leaf's row is always the same: made once, shared by every list that shows it. */
	leafRow?: Row;
};

/**
 Which nodes the explorer lists: the merged view (upper entries plus what the lowers serve), the
 upper layer alone, or everything in the layers (lower entries hidden by whiteouts, opaque and renamed dirs too).
 */
export type TreeMode = 'merged' | 'upper' | 'all';
export const treeModes: readonly TreeMode[] = ['merged', 'upper', 'all'];

export type LowerListing = {
	readonly path: string;
	readonly type: FileType;
	readonly layer: number;
	readonly hidden: boolean;
};

const compare = (a: TreeNode, b: TreeNode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 Builds the merged tree from upper entries and (optionally) the lower-only listing. Pure.
 Only directories are indexed by path (10³ of them for 10⁶ entries: a Map of every path cost
 seconds); any other node is found through its parent's children, indexed by name on demand.
 */
export function buildTree(entries: readonly Entry[], lower: readonly LowerListing[] = []): TreeNode {
	const root: TreeNode = {name: '/', path: '/', depth: 0, type: 'dir', children: [], upperCount: 0, mergedCount: 0};
	const dirs = new Map<string, TreeNode>([['', root]]);
	const named = new Map<TreeNode, Map<string, TreeNode>>();
	const child = (parent: TreeNode, name: string): TreeNode | undefined => {
		let index = named.get(parent);
		if (!index) named.set(parent, (index = new Map(parent.children.map((c) => [c.name, c]))));
		return index.get(name);
	};
	const add = (parent: TreeNode, node: TreeNode): TreeNode => {
		parent.children.push(node);
		named.get(parent)?.set(node.name, node);
		if (node.type === 'dir') dirs.set(node.path === '/' ? '' : node.path, node);
		return node;
	};
	const split = (p: string): [string, string] => {
		const cut = p.lastIndexOf('/');
		return [p.slice(0, cut), p.slice(cut + 1)];
	};
	const find = (p: string): TreeNode | undefined => {
		const dir = dirs.get(p);
		if (dir || p === '') return dir;
		const [parentPath, name] = split(p);
		const parent = find(parentPath);
		return parent && child(parent, name);
	};
	let holders = 0;
	/** The node at p, made as a plain dir (and its parents) when nothing is there yet. */
	const holder = (p: string): TreeNode => {
		const known = find(p);
		if (known) return known;
		holders++;
		const [parentPath, name] = split(p);
		const parent = holder(parentPath);
		const node: TreeNode = {
			name,
			path: p,
			depth: parent.depth + 1,
			type: 'dir',
			children: [],
			upperCount: 0,
			mergedCount: 0,
		};
		return add(parent, node);
	};
	for (const e of entries) {
		// Upper paths are unique: only a dir made to hold a deeper path can be here already (none
		// when parents come first, as in a scan's sorted entries).
		const existing = holders > 0 ? dirs.get(e.path) : undefined;
		if (existing && existing !== root) {
			Object.assign(existing, {entry: e, type: e.type});
			continue;
		}
		const [parentPath, name] = split(e.path);
		const parent = dirs.get(parentPath) ?? holder(parentPath);
		add(parent, {
			name,
			path: e.path,
			depth: parent.depth + 1,
			type: e.type,
			entry: e,
			children: [],
			upperCount: 0,
			mergedCount: 0,
		});
	}
	for (const l of lower) {
		const existing = find(l.path);
		if (existing) {
			// A dir made only to hold a deeper path: now it is known to be a lower's.
			if (!existing.entry && !existing.lower) Object.assign(existing, {lower: {layer: l.layer, hidden: l.hidden}});
			continue;
		}
		const [parentPath, name] = split(l.path);
		const parent = holder(parentPath);
		add(parent, {
			name,
			path: l.path,
			depth: parent.depth + 1,
			type: l.type,
			lower: {layer: l.layer, hidden: l.hidden},
			children: [],
			upperCount: 0,
			mergedCount: 0,
		});
	}
	const finish = (n: TreeNode): void => {
		n.children.sort(compare);
		if (n.entry) n.kind = n.entry.kind;
		// Every node once here: a search's first key would otherwise pay for 10⁶ of them.
		n.foldedPath = unfolded.test(n.path) ? n.path.toLowerCase() : n.path;
		n.upperCount = n.entry ? 1 : 0;
		n.mergedCount = n.entry || (n.lower && !n.lower.hidden) ? 1 : 0;
		for (const c of n.children) {
			finish(c);
			n.upperCount += c.upperCount;
			n.mergedCount += c.mergedCount;
		}
		// Packed now, while the children are hot: the first filter key would pay for 10⁶ of them.
		if (n.children.length > 0) leafPack(n);
	};
	finish(root);
	return root;
}

export type ViewState = {
	readonly expanded: ReadonlySet<string>;
	readonly mode: TreeMode;
	readonly kinds: ReadonlySet<EntryKind> | undefined;
	readonly search: string;
};

export type Row = {readonly node: TreeNode; readonly expandable: boolean; readonly expanded: boolean};

/** Case-insensitive "path contains q" (q in lower case): paths are folded once, only those with capitals or non-ASCII. */
const unfolded = /[A-Z\u0080-\uffff]/;
const pathHas = (n: TreeNode, q: string): boolean =>
	(n.foldedPath ??= unfolded.test(n.path) ? n.path.toLowerCase() : n.path).includes(q);

/**
 The rows to show, in order: in the merged view upper entries and the lower entries they leave
 visible, in the upper view upper entries only, in the all view every node. With a kind filter or
 a search, only matching nodes and their ancestors are shown, all expanded.
 */
export function flattenTree(root: TreeNode, v: ViewState): Row[] {
	// Filtered lists are counted, not walked row by row: rowList makes them, here all at once.
	if (v.kinds !== undefined || v.search !== '') return rowList(root, v).slice();
	const rows: Row[] = [];
	const visible = (n: TreeNode): boolean =>
		v.mode === 'all' ? true : v.mode === 'merged' ? n.mergedCount > 0 : n.upperCount > 0;
	const walk = (n: TreeNode): void => {
		for (const c of n.children) {
			if (!visible(c)) continue;
			const kids = c.children.some(visible);
			const open = kids && v.expanded.has(c.path);
			rows.push({node: c, expandable: kids, expanded: open});
			if (open) walk(c);
		}
	};
	walk(root);
	return rows;
}

/**
 A directory's leaf children packed for filters: their kinds, visibility and folded paths in
 arrays and one string, so a filter over 10⁶ leaves reads a few contiguous arrays instead of 10⁶
 objects scattered over the heap (memory-bound: ~60 ns a node, against a few here). Made when
 the tree is built, kept with it (it never changes once built).
 */
type LeafPack = {
	readonly dirs: readonly TreeNode[];
	readonly kind: Uint8Array;
	readonly upper: Uint8Array;
	readonly merged: Uint8Array;
	/** The leaves' folded paths, each ended by a NUL (which no path holds). */
	readonly text: string;
	/** Where each leaf's path starts in text; one more at the end. */
	readonly starts: Int32Array;
	/** Every leaf's folded path starts with the dir's and a '/': a query the dir's path holds, they all hold. */
	readonly prefixed: boolean;
};

const packs = new WeakMap<TreeNode, LeafPack>();

function leafPack(n: TreeNode): LeafPack {
	let pack = packs.get(n);
	if (pack) return pack;
	const leaves = n.children.filter((c) => c.children.length === 0);
	const kind = new Uint8Array(leaves.length);
	const upper = new Uint8Array(leaves.length);
	const merged = new Uint8Array(leaves.length);
	const starts = new Int32Array(leaves.length + 1);
	const texts: string[] = [];
	const dirPath = `${n.foldedPath ?? n.path}/`;
	let prefixed = true;
	let at = 0;
	leaves.forEach((c, i) => {
		kind[i] = c.kind === undefined ? 0 : entryKinds.indexOf(c.kind) + 1;
		upper[i] = c.upperCount > 0 ? 1 : 0;
		merged[i] = c.mergedCount > 0 ? 1 : 0;
		const folded = c.foldedPath ?? c.path; // folded by finish() before its parent is packed
		starts[i] = at;
		if (prefixed && !folded.startsWith(dirPath)) prefixed = false;
		texts.push(folded);
		at += folded.length + 1;
	});
	starts[leaves.length] = at;
	texts.push('');
	const dirs = n.children.filter((c) => c.children.length > 0);
	pack = {dirs, kind, upper, merged, text: texts.join('\0'), starts, prefixed};
	packs.set(n, pack);
	return pack;
}

/** How many of a pack's leaves a filter shows: those visible in the mode, of an allowed kind, holding q. */
function countLeaves(p: LeafPack, mode: TreeMode, allowed: Uint8Array | undefined, q: string): number {
	const vis = mode === 'all' ? undefined : mode === 'merged' ? p.merged : p.upper;
	const shown = (i: number): boolean =>
		(vis === undefined || vis[i] === 1) && (allowed === undefined || allowed[p.kind[i] as number] === 1);
	let total = 0;
	const n = p.kind.length;
	if (q === '') {
		for (let i = 0; i < n; i++) if (shown(i)) total++;
		return total;
	}
	if (q.includes('\0')) return 0;
	// Each hit in the text names the leaf whose path holds it; the search goes on after that path.
	let leaf = 0;
	for (let at = p.text.indexOf(q); at >= 0;) {
		while ((p.starts[leaf + 1] as number) <= at) leaf++;
		if (shown(leaf)) total++;
		leaf++;
		at = leaf < n ? p.text.indexOf(q, p.starts[leaf] as number) : -1;
	}
	return total;
}

/**
 Rows by index, as an array answers them: a filtered list of 10⁶ rows is counted, not made, and a
 window of it is made when drawn. An array of rows is one too.
 */
export type RowList = {
	readonly length: number;
	at(index: number): Row | undefined;
	slice(from?: number, to?: number): Row[];
	/** The first row passing the test, in order (stops there). */
	findIndex(test: (row: Row) => boolean): number;
	/** Where the node at `path` is listed, -1 when it is not. */
	indexOfPath?(path: string): number;
};

export const rowIndexOf = (rows: RowList, path: string): number =>
	rows.indexOfPath ? rows.indexOfPath(path) : rows.findIndex((r) => r.node.path === path);

/**
 flattenTree's rows, the same ones in the same order, without a row list as long as the tree: a
 filter or a search counts, in one pass, how many rows each directory's subtree shows (only
 directories are remembered: 10³ of them for 10⁶ nodes); a row is found by skipping whole
 subtrees, and made only when asked for.
 */
export function rowList(root: TreeNode, v: ViewState): RowList {
	if (v.kinds === undefined && v.search === '') return flattenTree(root, v);
	const kinds = v.kinds;
	const q = v.search.toLowerCase();
	const visible = (n: TreeNode): boolean =>
		v.mode === 'all' ? true : v.mode === 'merged' ? n.mergedCount > 0 : n.upperCount > 0;
	const matches = (n: TreeNode): boolean =>
		(kinds === undefined || (n.kind !== undefined && kinds.has(n.kind))) && (q === '' || pathHas(n, q));
	/** Rows below each shown directory (its own row not counted). */
	const below = new Map<TreeNode, number>();
	const allowed =
		kinds &&
		new Uint8Array(entryKinds.length + 1).map((_, i) => (i > 0 && kinds.has(entryKinds[i - 1] as EntryKind) ? 1 : 0));
	const count = (n: TreeNode): number => {
		const pack = leafPack(n);
		// Below a dir whose path holds the query every leaf does: counted as with no query (a
		// search for "0" in d0000/f0000… was 10⁶ text hits, one a leaf).
		const every = q !== '' && pack.prefixed && pathHas(n, q);
		let total = countLeaves(pack, v.mode, allowed, every ? '' : q);
		for (const c of pack.dirs) {
			if (!visible(c)) continue;
			const b = count(c);
			if (b > 0 || matches(c)) total += 1 + b;
		}
		below.set(n, total);
		return total;
	};
	const length = count(root);
	/** Rows a child takes: itself and, for a directory, what is below it. */
	const size = (c: TreeNode): number => {
		if (!visible(c)) return 0;
		if (c.children.length === 0) return matches(c) ? 1 : 0;
		const b = below.get(c) ?? 0;
		return b > 0 || matches(c) ? 1 + b : 0;
	};
	const dirRows = new Map<TreeNode, Row>();
	const rowOf = (c: TreeNode): Row => {
		if (c.children.length === 0) return leafRow(c);
		let r = dirRows.get(c);
		if (!r) {
			const open = (below.get(c) ?? 0) > 0;
			dirRows.set(c, (r = {node: c, expandable: open, expanded: open}));
		}
		return r;
	};
	/** Calls `take` with the rows from index `from` on, in order, until it returns false. */
	const each = (from: number, take: (row: Row, index: number) => boolean): void => {
		let skip = Math.max(0, from);
		let index = skip;
		const walk = (n: TreeNode): boolean => {
			for (const c of n.children) {
				const s = size(c);
				if (s === 0) continue;
				if (skip >= s) {
					skip -= s;
					continue;
				}
				if (skip > 0) skip--;
				else if (!take(rowOf(c), index++)) return false;
				if (c.children.length > 0 && !walk(c)) return false;
			}
			return true;
		};
		walk(root);
	};
	return {
		length,
		at(index) {
			const i = index < 0 ? length + index : index;
			if (i < 0 || i >= length || !Number.isInteger(i)) return undefined;
			let found: Row | undefined;
			each(i, (r) => ((found = r), false));
			return found;
		},
		slice(from = 0, to = length) {
			const out: Row[] = [];
			const end = Math.min(to < 0 ? length + to : to, length);
			const start = from < 0 ? Math.max(0, length + from) : from;
			if (start < end) each(start, (r, i) => (i < end ? (out.push(r), i + 1 < end) : false));
			return out;
		},
		findIndex(test) {
			let at = -1;
			each(0, (r, i) => (test(r) ? ((at = i), false) : true));
			return at;
		},
		indexOfPath(path) {
			let index = 0;
			for (let n = root; ;) {
				let next: TreeNode | undefined;
				for (const c of n.children) {
					if (c.path === path || path.startsWith(`${c.path}/`)) {
						next = c;
						break;
					}
					index += size(c);
				}
				if (!next || size(next) === 0) return -1;
				if (next.path === path) return index;
				index++;
				n = next;
			}
		},
	};
}
const leafRow = (n: TreeNode): Row => (n.leafRow ??= {node: n, expandable: false, expanded: false});

/** Directories to open at start, top down: every dir holding upper entries while the rows stay within maxRows. */
export function initialExpanded(root: TreeNode, maxRows = 2000): Set<string> {
	const out = new Set<string>();
	const shown = (n: TreeNode): number => n.children.filter((c) => c.upperCount > 0).length;
	let rows = shown(root);
	const queue: TreeNode[] = [root];
	for (let at = 0; at < queue.length; at++) {
		for (const c of (queue[at] as TreeNode).children) {
			if (c.upperCount === 0 || c.children.length === 0) continue;
			const more = shown(c);
			if (rows + more > maxRows) return out;
			rows += more;
			out.add(c.path);
			queue.push(c);
		}
	}
	return out;
}
