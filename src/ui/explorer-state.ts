import type {EntryKind} from '../core/entry.js';
import {initialExpanded, rowIndexOf, treeModes, type RowList, type TreeMode, type TreeNode} from '../core/tree.js';

export type Mode = 'tree' | 'search' | 'findings' | 'help';

/** Everything the explorer remembers between keys. Plain data, changed only by explorerStep. */
export type ExplorerState = {
	readonly expanded: ReadonlySet<string>;
	/** Merged (upper entries plus what the lowers serve), upper only, or all (hidden lower entries too). */
	readonly view: TreeMode;
	/** First line of the details pane shown; back to 0 when the selection moves. */
	readonly detailsScroll: number;
	readonly kindIndex: number;
	readonly search: string;
	readonly mode: Mode;
	readonly cursor: number;
	readonly exit?: 'quit' | 'interrupt';
};

/** Where the explorer starts: the merged view, the dirs that fit opened, the first row selected. */
export const initialExplorerState = (tree: TreeNode): ExplorerState => ({
	expanded: initialExpanded(tree),
	view: 'merged',
	detailsScroll: 0,
	kindIndex: -1,
	search: '',
	mode: 'tree',
	cursor: 0,
});

/** One key press as ink reports it (a subset of ink's Key), or one character of a burst. */
export type KeyEvent = {
	readonly input: string;
	readonly upArrow?: boolean;
	readonly downArrow?: boolean;
	readonly leftArrow?: boolean;
	readonly rightArrow?: boolean;
	readonly pageUp?: boolean;
	readonly pageDown?: boolean;
	readonly return?: boolean;
	readonly escape?: boolean;
	readonly backspace?: boolean;
	readonly delete?: boolean;
	readonly ctrl?: boolean;
	readonly meta?: boolean;
};

export type StepEnv = {
	readonly kinds: readonly EntryKind[];
	readonly page: number;
	/** The rows a state shows (rowList over the right tree). */
	readonly rows: (s: ExplorerState) => RowList;
	/** How far the details pane can scroll for the current selection (0: it fits). */
	readonly detailsMax?: number;
};

/**
 The last few row lists, keyed by what they depend on: the reducer asks for the rows on every
 key, and with a filter they come from a walk of the whole tree (10⁶ nodes).
 */
export function rowsCache(): (tree: TreeNode, s: ExplorerState, make: () => RowList) => RowList {
	let recent: {key: readonly unknown[]; rows: RowList}[] = [];
	return (tree, s, make) => {
		const key = [tree, s.expanded, s.view, s.kindIndex, s.search];
		const hit = recent.find((r) => r.key.every((k, i) => k === key[i]));
		if (hit) return hit.rows;
		const rows = make();
		recent = [{key, rows}, ...recent.slice(0, 3)];
		return rows;
	};
}

/** Terminals deliver fast typing and pastes as one chunk: split plain text into single keys. */
export function splitKeys(e: KeyEvent): KeyEvent[] {
	const special =
		e.upArrow ||
		e.downArrow ||
		e.leftArrow ||
		e.rightArrow ||
		e.pageUp ||
		e.pageDown ||
		e.escape ||
		e.ctrl ||
		e.meta ||
		e.backspace ||
		e.delete;
	if (special || e.input.length <= 1) return [e];
	const keys: KeyEvent[] = [...e.input.replace(/\r$/, '')].map((c) => ({input: c}));
	if (e.input.endsWith('\r') || e.return) keys.push({input: '', return: true});
	return keys;
}

const toggle = (set: ReadonlySet<string>, path: string, open?: boolean): Set<string> => {
	const next = new Set(set);
	if (open ?? !next.has(path)) next.add(path);
	else next.delete(path);
	return next;
};

/** Puts the cursor on the first row that matches the search itself (not just an ancestor of a match). */
function firstMatch(s: ExplorerState, env: StepEnv): ExplorerState {
	const q = s.search.toLowerCase();
	const i = env
		.rows(s)
		.findIndex(
			(r) => r.node.path.toLowerCase().includes(q) && r.node.name.toLowerCase().includes(q.split('/').at(-1) ?? q),
		);
	return {...s, cursor: Math.max(0, i)};
}

/** The explorer's key handling as a pure function: (state, key) → state. */
export function explorerStep(s: ExplorerState, e: KeyEvent, env: StepEnv): ExplorerState {
	const next = step(s, e, env);
	// The details pane scrolls with J/K; whatever else changes shows a new selection's details from the top.
	const moved =
		next.cursor !== s.cursor || next.view !== s.view || next.search !== s.search || next.kindIndex !== s.kindIndex;
	return moved && next.detailsScroll !== 0 ? {...next, detailsScroll: 0} : next;
}

function step(s: ExplorerState, e: KeyEvent, env: StepEnv): ExplorerState {
	if (e.ctrl && e.input === 'c') return {...s, exit: 'interrupt'};
	if (s.mode === 'search') {
		if (e.return) return {...s, mode: 'tree'};
		if (e.escape) return {...s, search: '', mode: 'tree', cursor: 0};
		if (e.backspace || e.delete) return firstMatch({...s, search: s.search.slice(0, -1)}, env);
		if (e.input !== '' && !e.ctrl && !e.meta) return firstMatch({...s, search: s.search + e.input}, env);
		return s;
	}
	if (s.mode === 'findings' || s.mode === 'help') {
		if (
			e.escape ||
			e.input === 'q' ||
			(s.mode === 'findings' && e.input === 'w') ||
			(s.mode === 'help' && e.input === '?')
		)
			return {...s, mode: 'tree'};
		return s;
	}
	const rows = env.rows(s);
	const at = Math.min(s.cursor, Math.max(0, rows.length - 1));
	const row = rows.at(at);
	const last = Math.max(0, rows.length - 1);
	if (e.input === 'q' || e.escape) return {...s, exit: 'quit'};
	if (e.upArrow || e.input === 'k') return {...s, cursor: Math.max(0, at - 1)};
	if (e.downArrow || e.input === 'j') return {...s, cursor: Math.min(last, at + 1)};
	if (e.pageUp) return {...s, cursor: Math.max(0, at - env.page)};
	if (e.pageDown) return {...s, cursor: Math.min(last, at + env.page)};
	if (e.input === 'J') return {...s, detailsScroll: Math.min(env.detailsMax ?? Infinity, s.detailsScroll + 1)};
	if (e.input === 'K')
		return {...s, detailsScroll: Math.max(0, Math.min(env.detailsMax ?? Infinity, s.detailsScroll) - 1)};
	if (e.input === 'g') return {...s, cursor: 0};
	if (e.input === 'G') return {...s, cursor: last};
	if ((e.return || e.input === ' ') && row?.expandable) return {...s, expanded: toggle(s.expanded, row.node.path)};
	if (e.rightArrow && row?.expandable) return {...s, expanded: toggle(s.expanded, row.node.path, true)};
	if (e.leftArrow && row) {
		if (row.expanded) return {...s, expanded: toggle(s.expanded, row.node.path, false)};
		const parent = row.node.path.slice(0, row.node.path.lastIndexOf('/'));
		const i = rowIndexOf(rows, parent);
		return i >= 0 ? {...s, cursor: i} : s;
	}
	if (e.input === '/') return {...s, mode: 'search', search: '', cursor: 0};
	if (e.input === 'f') return {...s, kindIndex: s.kindIndex + 1 >= env.kinds.length ? -1 : s.kindIndex + 1, cursor: 0};
	if (e.input === 'l') {
		// Keep the selected path selected when lower entries appear or vanish.
		const next = {...s, view: treeModes[(treeModes.indexOf(s.view) + 1) % treeModes.length] ?? 'merged'};
		const i = row ? rowIndexOf(env.rows(next), row.node.path) : -1;
		return {...next, cursor: Math.max(0, i)};
	}
	if (e.input === 'w') return {...s, mode: 'findings'};
	if (e.input === '?') return {...s, mode: 'help'};
	return s;
}
