import {Box, Text, useApp, useInput, useStdout} from 'ink';
import {useEffect, useMemo, useRef, useState} from 'react';
import type {EntryKind} from '../core/entry.js';
import {InterruptedError} from '../core/errors.js';
import type {Report} from '../core/report.js';
import {rowIndexOf, rowList, type RowList, type TreeMode, type TreeNode} from '../core/tree.js';
import {explorerStep, initialExplorerState, rowsCache, splitKeys, type ExplorerState} from './explorer-state.js';
import {Details, detailLines, detailsMaxScroll} from './Details.js';
import {FindingsView} from './FindingsView.js';
import {HelpView} from './HelpView.js';
import {Header} from './Header.js';
import type {LayerDetail} from './model.js';
import {rowWidth, TreeView} from './TreeView.js';

export type ExplorerProps = {
	readonly report: Report;
	/** The upper entries alone: shown at once. */
	readonly tree: TreeNode;
	/** Builds the tree with what the lowers hold (reads them once, right after the first frame): the merged view. */
	readonly loadLowerTree: () => TreeNode;
	readonly details: (node: TreeNode) => readonly LayerDetail[];
	/** Fixed size for tests; otherwise the terminal's, following resizes. */
	readonly size?: {columns: number; rows: number};
};

function useTerminalSize(fixed?: {columns: number; rows: number}): {columns: number; rows: number} {
	const {stdout} = useStdout();
	const read = () => fixed ?? {columns: stdout.columns || 80, rows: stdout.rows || 24};
	const [size, setSize] = useState(read);
	useEffect(() => {
		if (fixed) return;
		const onResize = () => setSize(read());
		stdout.on('resize', onResize);
		return () => {
			stdout.off('resize', onResize);
		};
	}, [stdout]);
	return size;
}

const widthSample = 2000;

const viewNames: Record<TreeMode, string> = {
	merged: 'merged view (l: upper only)',
	upper: 'upper only (l: all layers)',
	all: 'all layers, hidden too (l: merged)',
};

/** The interactive explorer. All data arrives as props; the only side effect is reading details on selection. */
export function Explorer({report, tree: upperTree, loadLowerTree, details, size: fixed}: ExplorerProps) {
	const {exit} = useApp();
	const {columns, rows} = useTerminalSize(fixed);
	const [lowerTree, setLowerTree] = useState<TreeNode | undefined>(undefined);
	const [state, setState] = useState<ExplorerState>(() => initialExplorerState(upperTree));
	const kinds = useMemo(
		() => (Object.entries(report.summary.counts) as [EntryKind, number][]).filter(([, n]) => n > 0).map(([k]) => k),
		[report],
	);

	// Frame must stay shorter than the terminal: ink 6 wipes the scrollback otherwise.
	const headerHeight = 4 + Math.min(report.mount.layers.length, 4) + (report.mount.layers.length > 4 ? 1 : 0);
	const bodyHeight = Math.max(3, rows - headerHeight - 2);
	const cache = useRef(rowsCache()).current;
	const rowsFor = (s: ExplorerState, lower = lowerTree): RowList => {
		const tree = lower ?? upperTree;
		return cache(tree, s, () => {
			const kind = s.kindIndex >= 0 ? kinds[s.kindIndex] : undefined;
			return rowList(tree, {
				expanded: s.expanded,
				mode: s.view,
				kinds: kind ? new Set([kind]) : undefined,
				search: s.search,
			});
		});
	};
	const list = useMemo(() => rowsFor(state), [state.expanded, state.view, state.kindIndex, state.search, lowerTree]);
	const layers = report.mount.layers;
	// The width the first rows need (a filter can list 10⁶ rows; measuring all of them per key is
	// seconds): a wider row further down is cut at the pane's edge.
	const widest = useMemo(
		() => list.slice(0, widthSample).reduce((w, r) => Math.max(w, rowWidth(r, layers)), 0),
		[list],
	);

	// Side by side from 110 columns: the tree gets the width its rows need (at most 55%), the details the rest.
	const side = columns >= 110;
	const treeWidth = side
		? Math.max(24, Math.min(widest + 2, Math.floor(columns * 0.55), Math.max(Math.floor(columns * 0.4), columns - 70)))
		: columns;
	// Stacked: the tree takes the rows it has (at least 3, at most its share), the details the rest.
	const treeShare = Math.max(3, bodyHeight - Math.min(10, Math.floor(bodyHeight / 2)));
	const treeHeight = side ? bodyHeight : Math.max(3, Math.min(treeShare, list.length + 1));
	const detailsHeight = side ? bodyHeight : bodyHeight - treeHeight;
	const detailsWidth = side ? columns - treeWidth : columns;

	const at = Math.min(state.cursor, Math.max(0, list.length - 1));
	const offset = Math.min(Math.max(0, at - Math.floor(treeHeight / 2)), Math.max(0, list.length - treeHeight));
	const selected = list.at(at)?.node;
	const layerRows = useMemo(() => (selected ? details(selected) : []), [selected]);
	// The pane has a left padding of one column.
	const lines = useMemo(
		() => detailLines(selected, layerRows, detailsWidth - 1, layers),
		[selected, layerRows, detailsWidth],
	);
	const detailsMax = detailsMaxScroll(lines.length, detailsHeight);

	// Keys can arrive before React re-renders: always step from the latest state, not the render's.
	const latest = useRef({state, lowerTree});
	latest.current = {state, lowerTree};
	// The merged view needs the lowers: read them once the first frame (the upper alone) is on screen.
	useEffect(() => {
		const t = setTimeout(() => {
			if (latest.current.lowerTree) return;
			const lower = loadLowerTree();
			const {state: s} = latest.current;
			// Keep the selected path selected as lower entries appear.
			const path = rowsFor(s, upperTree).at(s.cursor)?.node.path;
			const i = path === undefined ? -1 : rowIndexOf(rowsFor(s, lower), path);
			const next = {...s, cursor: Math.max(0, i)};
			latest.current = {state: next, lowerTree: lower};
			setLowerTree(lower);
			setState(next);
		}, 0);
		return () => clearTimeout(t);
	}, []);
	useInput((input, key) => {
		let lower = latest.current.lowerTree;
		let next = latest.current.state;
		for (const e of splitKeys({...key, input})) {
			if (e.input === 'l' && next.mode === 'tree' && !lower) lower = loadLowerTree();
			const l = lower;
			next = explorerStep(next, e, {
				kinds,
				page: Math.max(1, treeHeight - 1),
				rows: (s) => rowsFor(s, l),
				detailsMax,
			});
			if (next.exit) break;
		}
		if (lower !== latest.current.lowerTree) setLowerTree(lower);
		latest.current = {state: next, lowerTree: lower};
		if (next.exit === 'interrupt') return exit(new InterruptedError());
		if (next.exit === 'quit') return exit();
		setState(next);
	});

	const kind = state.kindIndex >= 0 ? kinds[state.kindIndex] : undefined;
	const status = [
		state.mode === 'search'
			? `/${state.search}▏ (Enter: keep, Esc: clear)`
			: state.search
				? `search "${state.search}"`
				: '',
		kind ? `kind: ${kind}` : '',
		lowerTree || state.view === 'upper' ? viewNames[state.view] : 'reading the lowers…',
		`${list.length === 0 ? 0 : at + 1}/${list.length}`,
		'? help · q quit',
	]
		.filter(Boolean)
		.join(' · ');
	return (
		<Box flexDirection="column" width={columns} height={rows - 1}>
			<Header report={report} width={columns} />
			<Text dimColor>{'─'.repeat(Math.max(0, columns - 1))}</Text>
			{state.mode === 'findings' ? (
				<FindingsView findings={report.findings} height={bodyHeight} width={columns} />
			) : state.mode === 'help' ? (
				<HelpView height={bodyHeight} width={columns} />
			) : (
				<Box flexDirection={side ? 'row' : 'column'}>
					<TreeView rows={list} cursor={at} offset={offset} height={treeHeight} width={treeWidth} layers={layers} />
					<Details lines={lines} scroll={state.detailsScroll} width={detailsWidth} height={detailsHeight} />
				</Box>
			)}
			<Text inverse wrap="truncate-end">
				{` ${status} `.padEnd(Math.max(0, columns - 1))}
			</Text>
		</Box>
	);
}
