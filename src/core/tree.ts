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

/** Builds the merged tree from upper entries and (optionally) the lower-only listing. Pure. */
export function buildTree(entries: readonly Entry[], lower: readonly LowerListing[] = []): TreeNode {
	const root: TreeNode = {name: '/', path: '/', depth: 0, type: 'dir', children: [], upperCount: 0, mergedCount: 0};
	const byPath = new Map<string, TreeNode>([['', root]]);
	const ensure = (p: string, make: (parent: TreeNode, name: string) => TreeNode): TreeNode => {
		const existing = byPath.get(p);
		if (existing) return existing;
		const cut = p.lastIndexOf('/');
		const parentPath = p.slice(0, cut);
		const parent =
			byPath.get(parentPath) ??
			ensure(parentPath, (pp, n) => ({
				name: n,
				path: parentPath,
				depth: pp.depth + 1,
				type: 'dir',
				children: [],
				upperCount: 0,
				mergedCount: 0,
			}));
		const node = make(parent, p.slice(cut + 1));
		parent.children.push(node);
		byPath.set(p, node);
		return node;
	};
	for (const e of entries) {
		const existing = byPath.get(e.path);
		if (existing) {
			byPath.set(e.path, Object.assign(existing, {entry: e, type: e.type}));
			continue;
		}
		ensure(e.path, (parent, name) => ({
			name,
			path: e.path,
			depth: parent.depth + 1,
			type: e.type,
			entry: e,
			children: [],
			upperCount: 0,
			mergedCount: 0,
		}));
	}
	for (const l of lower) {
		const existing = byPath.get(l.path);
		if (existing) {
			// A dir made only to hold a deeper path: now it is known to be a lower's.
			if (!existing.entry && !existing.lower) Object.assign(existing, {lower: {layer: l.layer, hidden: l.hidden}});
			continue;
		}
		ensure(l.path, (parent, name) => ({
			name,
			path: l.path,
			depth: parent.depth + 1,
			type: l.type,
			lower: {layer: l.layer, hidden: l.hidden},
			children: [],
			upperCount: 0,
			mergedCount: 0,
		}));
	}
	const finish = (n: TreeNode): void => {
		n.children.sort(compare);
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

/** Case-insensitive "path contains q" (q in lower case), folding only paths that hold capitals or non-ASCII. */
const unfolded = /[A-Z\u0080-\uffff]/;
const pathHas = (p: string, q: string): boolean => p.includes(q) || (unfolded.test(p) && p.toLowerCase().includes(q));

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
	// Filtered: one pass over the whole tree; a node is shown when it or something below it matches.
	const kinds = v.kinds;
	const q = v.search.toLowerCase();
	const matches = (n: TreeNode): boolean =>
		(kinds === undefined || (n.entry !== undefined && kinds.has(n.entry.kind))) && (q === '' || pathHas(n.path, q));
	const filtered = (n: TreeNode): boolean => {
		let any = false;
		for (const c of n.children) {
			if (!visible(c)) continue;
			const at = rows.length;
			rows.push(placeholderRow);
			const below = c.children.length > 0 && filtered(c);
			if (below || matches(c)) {
				rows[at] = {node: c, expandable: below, expanded: below};
				any = true;
			} else rows.length = at;
		}
		return any;
	};
	filtered(root);
	return rows;
}

const placeholderRow = {} as Row;

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
