import {Box, Text} from 'ink';
import {printablePath as pp} from '../core/bytes.js';
import type {Report} from '../core/report.js';
import type {Row, RowList} from '../core/tree.js';
import {originOf} from './model.js';
import {kindStyle} from './theme.js';

export type TreeViewProps = {
	readonly rows: RowList;
	readonly cursor: number;
	readonly offset: number;
	readonly height: number;
	readonly width: number;
	/** The report's layers, to name a copy-up's origin by its overlay path. */
	readonly layers?: Report['mount']['layers'];
};

type Label = {badge: string; color: string; dim: boolean; serve: string};

function label(row: Row, layers: Report['mount']['layers'] = []): Label {
	const n = row.node;
	if (n.entry) {
		const st = kindStyle[n.entry.kind];
		const o = originOf(n.entry, layers);
		const from = o && o.path !== n.path ? `, from ${o.layer ? `L${o.layer} ` : ''}${pp(o.path)}` : '';
		const serve =
			n.entry.kind === 'whiteout'
				? `hides L${n.entry.shadows[0] ?? '?'}`
				: n.entry.kind === 'metacopy'
					? `data L${n.entry.metacopy?.dataLayer ?? '?'}${from}`
					: `upper${from}`;
		return {badge: st.badge, color: st.color, dim: false, serve};
	}
	if (n.lower)
		return {
			badge: n.lower.hidden ? kindStyle.hidden.badge : kindStyle.lower.badge,
			color: 'gray',
			dim: true,
			serve: n.lower.hidden ? 'hidden' : `L${n.lower.layer}`,
		};
	return {badge: '', color: 'white', dim: false, serve: ''};
}

const indentOf = (row: Row): string => '  '.repeat(Math.max(0, row.node.depth - 1));

/** The columns a row needs, to give the tree pane no more than its widest row. */
export function rowWidth(row: Row, layers?: Report['mount']['layers']): number {
	const n = row.node;
	return (
		4 +
		1 +
		indentOf(row).length +
		2 +
		[...pp(n.name)].length +
		(n.type === 'dir' ? 1 : 0) +
		1 +
		label(row, layers).serve.length
	);
}

/** The visible window of the tree: only `height` rows are ever rendered. */
export function TreeView({rows, cursor, offset, height, width, layers}: TreeViewProps) {
	const slice = rows.slice(offset, offset + height);
	return (
		<Box flexDirection="column" width={width} height={height}>
			{slice.map((row, i) => {
				const index = offset + i;
				const l = label(row, layers);
				const n = row.node;
				const marker = row.expandable ? (row.expanded ? '▾' : '▸') : ' ';
				const indent = indentOf(row);
				return (
					<Text key={n.path} inverse={index === cursor} wrap="truncate-end" dimColor={l.dim}>
						<Text color={l.color}>{l.badge.padEnd(4)}</Text> {indent}
						{marker} {pp(n.name)}
						{n.type === 'dir' ? '/' : ''}
						<Text dimColor> {l.serve}</Text>
					</Text>
				);
			})}
			{rows.length === 0 ? <Text dimColor>nothing to show (f: filter, /: search, l: view)</Text> : null}
		</Box>
	);
}
