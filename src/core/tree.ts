import type {Entry, EntryKind, FileType} from './entry.js';

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
	/** The path in lower case, made on the first search (the path itself when it has no capitals). */
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
		n.upperCount = n.entry ? 1 : 0;
		n.mergedCount = n.entry || (n.lower && !n.lower.hidden) ? 1 : 0;
		for (const c of n.children) {
			finish(c);
			n.upperCount += c.upperCount;
			n.mergedCount += c.mergedCount;
		}
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
	const rows: Row[] = [];
	const visible = (n: TreeNode): boolean =>
		v.mode === 'all' ? true : v.mode === 'merged' ? n.mergedCount > 0 : n.upperCount > 0;
	if (v.kinds === undefined && v.search === '') {
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
	// Filtered: one pass over the whole tree; a node is shown when it or something below it
	// matches. Leaves (most nodes) are tested and pushed once; a dir's row is reserved before its
	// subtree and dropped again when nothing in it matched.
	const kinds = v.kinds;
	const q = v.search.toLowerCase();
	const matches = (n: TreeNode): boolean =>
		(kinds === undefined || (n.kind !== undefined && kinds.has(n.kind))) && (q === '' || pathHas(n, q));
	const filtered = (n: TreeNode): boolean => {
		let any = false;
		for (const c of n.children) {
			if (!visible(c)) continue;
			if (c.children.length === 0) {
				if (matches(c)) {
					rows.push(leafRow(c));
					any = true;
				}
				continue;
			}
			const at = rows.length;
			rows.push(placeholderRow);
			const below = filtered(c);
			if (below || matches(c)) {
				rows[at] = {node: c, expandable: below, expanded: below};
				any = true;
			} else rows.pop();
		}
		return any;
	};
	filtered(root);
	return rows;
}

const placeholderRow = {} as Row;
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
