import {Box, Text} from 'ink';
import {printablePath as pp} from '../core/bytes.js';
import {describeOrigin} from '../core/classify.js';
import type {TreeNode} from '../core/tree.js';
import {formatBytes} from './inspect-text.js';
import type {LayerDetail} from './model.js';
import {formatMode, kindStyle} from './theme.js';

const time = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function xattrLines(x: Readonly<Record<string, string>>): string[] {
	return Object.entries(x).map(([k, v]) => {
		if (k === 'origin') return `origin: ${describeOrigin(v)}`;
		if (k === 'metacopy') return `metacopy: ${v === '' ? '(no digest)' : v}`;
		if (k === 'uuid') return `uuid: ${v}`;
		return `${k}: ${JSON.stringify(v)}`;
	});
}

/** Everything known about the selected path: kind and why, every layer's copy, xattrs, cost. */
export function Details({
	node,
	layers,
	width,
	height,
}: {
	readonly node: TreeNode | undefined;
	readonly layers: readonly LayerDetail[];
	readonly width: number;
	readonly height: number;
}) {
	if (!node) return <Box width={width} height={height} />;
	const e = node.entry;
	const lines: {text: string; color?: string; dim?: boolean; bold?: boolean}[] = [];
	lines.push({text: pp(node.path), bold: true});
	if (e) {
		lines.push({text: `${e.kind}${e.opaque ? ` (${e.opaque})` : ''} · ${e.type}`, color: kindStyle[e.kind].color});
		for (const r of e.reasons) lines.push({text: `  ${r}`});
		if (e.redirect)
			lines.push({
				text: `renamed from ${e.redirect.origin} (${e.redirect.absolute ? 'absolute' : 'relative'} redirect)`,
			});
		if (e.copyUp && e.copyUp.fromLayer > 0)
			lines.push({
				text: `copy-up cost: ${formatBytes(e.copyUp.lowerSize)} from lower ${e.copyUp.fromLayer}${e.copyUp.changes.length > 0 ? `; differs in ${e.copyUp.changes.join(', ')}` : '; identical metadata'}`,
			});
		if (e.metacopy)
			lines.push({
				text: `metadata only: data ${e.metacopy.dataLayer ? `in lower ${e.metacopy.dataLayer}` : 'MISSING'}${e.metacopy.lowerSize !== undefined ? ` (${formatBytes(e.metacopy.lowerSize)} not copied)` : ''}`,
			});
		const xs = xattrLines(e.xattrs);
		if (xs.length > 0) lines.push({text: 'overlay xattrs:', dim: true}, ...xs.map((t) => ({text: `  ${t}`})));
	} else if (node.lower) {
		lines.push({
			text: node.lower.hidden
				? `lower ${node.lower.layer} only, hidden by the upper`
				: `served by lower ${node.lower.layer} (not in the upper)`,
			dim: true,
		});
	}
	lines.push({text: 'layers, top first:', dim: true});
	for (const l of layers) {
		const name = l.role === 'upper' ? 'upper' : `${l.role === 'data-only' ? 'data' : 'lower'} ${l.layer}`;
		const s = l.stat;
		lines.push({
			text: s
				? `  ${name.padEnd(8)} ${formatMode(s.type, s.perm)} ${s.uid}:${s.gid} ${String(s.size).padStart(8)} ${time(s.mtimeMs)}${s.type === 'char' && s.rdev === 0 ? ' whiteout' : ''}${l.via ? ` (${l.via} ${pp(l.path)})` : ''}`
				: `  ${name.padEnd(8)} —`,
			...(s ? {} : {dim: true}),
		});
	}
	return (
		<Box flexDirection="column" width={width} height={height} paddingLeft={1}>
			{lines.slice(0, height).map((l, i) => (
				<Text
					key={i}
					wrap="truncate-end"
					{...(l.color ? {color: l.color} : {})}
					dimColor={l.dim ?? false}
					bold={l.bold ?? false}
				>
					{l.text}
				</Text>
			))}
		</Box>
	);
}
