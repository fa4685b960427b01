import {Box, Text} from 'ink';
import {printablePath as pp} from '../core/bytes.js';
import type {Row} from '../core/tree.js';
import {kindStyle} from './theme.js';

export type TreeViewProps = {
	readonly rows: readonly Row[];
	readonly cursor: number;
	readonly offset: number;
	readonly height: number;
	readonly width: number;
};

function label(row: Row): {badge: string; color: string; dim: boolean; serve: string} {
	const n = row.node;
	if (n.entry) {
		const st = kindStyle[n.entry.kind];
		const serve =
			n.entry.kind === 'whiteout'
				? `hides L${n.entry.shadows[0] ?? '?'}`
				: n.entry.kind === 'metacopy'
					? `data L${n.entry.metacopy?.dataLayer ?? '?'}`
					: 'upper';
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

/** The visible window of the merged tree: only `height` rows are ever rendered. */
export function TreeView({rows, cursor, offset, height, width}: TreeViewProps) {
	const slice = rows.slice(offset, offset + height);
	return (
		<Box flexDirection="column" width={width} height={height}>
			{slice.map((row, i) => {
				const index = offset + i;
				const l = label(row);
				const n = row.node;
				const marker = row.expandable ? (row.expanded ? '▾' : '▸') : ' ';
				const indent = '  '.repeat(Math.max(0, n.depth - 1));
				return (
					<Text key={n.path} inverse={index === cursor} wrap="truncate-end" dimColor={l.dim}>
						<Text color={l.color}>{l.badge.padEnd(4)}</Text> {indent}
						{marker} {pp(n.name)}
						{n.type === 'dir' ? '/' : ''}
						<Text dimColor> {l.serve}</Text>
					</Text>
				);
			})}
			{rows.length === 0 ? <Text dimColor>nothing to show (f: filter, /: search, l: lower entries)</Text> : null}
		</Box>
	);
}
