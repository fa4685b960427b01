import {Box, Text} from 'ink';
import {printablePath as pp} from '../core/bytes.js';
import {describeOrigin} from '../core/classify.js';
import type {Report} from '../core/report.js';
import type {TreeNode} from '../core/tree.js';
import {formatBytes} from './inspect-text.js';
import {describeOriginOf, originOf, type LayerDetail} from './model.js';
import {formatMode, kindStyle} from './theme.js';

const time = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** One screen line of the details pane. */
export type DetailLine = {
	readonly text: string;
	readonly color?: string;
	readonly dim?: boolean;
	readonly bold?: boolean;
};

function xattrLines(x: Readonly<Record<string, string>>): string[] {
	return Object.entries(x).map(([k, v]) => {
		if (k === 'origin') return `origin handle: ${describeOrigin(v)}`;
		if (k === 'metacopy') return `metacopy: ${v === '' ? '(no digest)' : v}`;
		if (k === 'uuid') return `uuid: ${v}`;
		return `${k}: ${JSON.stringify(v)}`;
	});
}

const width = (s: string): number => [...s].length;

/**
 Breaks a line at spaces to fit `w` columns (a word longer than that is cut into pieces);
 continuation lines are indented two more than the line's own indent.
 */
export function wrapLine(line: DetailLine, w: number): DetailLine[] {
	if (w < 8 || width(line.text) <= w) return [line];
	const lead = /^ */.exec(line.text)?.[0] ?? '';
	const indent = ' '.repeat(Math.min(lead.length + 2, Math.floor(w / 2)));
	const out: string[] = [];
	let cur = lead;
	let fresh = true;
	const tokens = line.text.slice(lead.length).split(/( +)/);
	for (let i = 0; i < tokens.length; i += 2) {
		const word = tokens[i] ?? '';
		const gap = fresh ? '' : (tokens[i - 1] ?? ' ');
		if (width(cur) + width(gap) + width(word) <= w) {
			cur += gap + word;
			fresh = false;
			continue;
		}
		let rest = word;
		if (!fresh) {
			out.push(cur);
			cur = indent;
		}
		while (width(cur) + width(rest) > w) {
			const room = Math.max(1, w - width(cur));
			out.push(cur + [...rest].slice(0, room).join(''));
			rest = [...rest].slice(room).join('');
			cur = indent;
		}
		cur += rest;
		fresh = false;
	}
	out.push(cur);
	return out.map((text) => ({...line, text}));
}

/** Everything known about the selected path, as lines `w` columns wide: kind and why, origin, cost, every layer's copy, xattrs. */
export function detailLines(
	node: TreeNode | undefined,
	layers: readonly LayerDetail[],
	w: number,
	reportLayers: Report['mount']['layers'] = [],
): DetailLine[] {
	if (!node) return [];
	const e = node.entry;
	const lines: DetailLine[] = [];
	lines.push({text: pp(node.path), bold: true});
	if (e) {
		lines.push({text: `${e.kind}${e.opaque ? ` (${e.opaque})` : ''} · ${e.type}`, color: kindStyle[e.kind].color});
		const origin = originOf(e, reportLayers);
		const originLine = origin
			? `origin: ${describeOriginOf(origin)}`
			: 'origin: recorded, not resolved (the raw handle is under overlay xattrs)';
		// A copy-up found by its inode names its origin in a reason, by the path on disk
		// (copyUp.fromPath): say it as the overlay path instead.
		const fromPath = e.kind === 'copy-up' ? e.copyUp.fromPath : undefined;
		const linked = fromPath === undefined ? undefined : e.reasons.find((r) => r.includes(`'s ${fromPath} (`));
		let originShown = origin !== undefined && linked !== undefined;
		for (const r of e.reasons) {
			// The raw handle means nothing to a person: say where it points, keep the handle for the xattrs below.
			if (r.startsWith('origin: ')) {
				if (!originShown) lines.push({text: `  ${originLine}`});
				originShown = true;
				continue;
			}
			const resolved = `origin is lower ${origin?.layer ?? '?'}'s ${pp(origin?.path ?? '')} (renamed or linked after copy-up)`;
			lines.push({text: `  ${r === linked && origin ? resolved : r}`});
		}
		if (e.copyUp && e.copyUp.fromLayer > 0) {
			const {lowerSize, fromLayer, changes} = e.copyUp;
			const differs = changes.length > 0 ? `; differs in ${changes.join(', ')}` : '; identical metadata';
			lines.push({text: `copy-up cost: ${formatBytes(lowerSize)} from lower ${fromLayer}${differs}`});
		}
		if (e.metacopy) {
			const {dataLayer, lowerSize} = e.metacopy;
			const saved = lowerSize !== undefined ? ` (${formatBytes(lowerSize)} not copied)` : '';
			lines.push({text: `metadata only: data ${dataLayer ? `in lower ${dataLayer}` : 'MISSING'}${saved}`});
		}
	} else if (node.lower) {
		lines.push({
			text: node.lower.hidden
				? `lower ${node.lower.layer} only, hidden by the upper (a whiteout, opaque or renamed dir above it)`
				: `served by lower ${node.lower.layer} (not in the upper)`,
			dim: true,
		});
	}
	lines.push({text: 'layers, top first:', dim: true});
	const sizeWidth = Math.max(1, ...layers.map((l) => String(l.stat?.size ?? '').length));
	for (const l of layers) {
		const name = l.role === 'upper' ? 'upper' : `${l.role === 'data-only' ? 'data' : 'lower'} ${l.layer}`;
		const s = l.stat;
		if (!s) {
			lines.push({text: `  ${name.padEnd(8)} —`, dim: true});
			continue;
		}
		const stat = `${formatMode(s.type, s.perm)} ${s.uid}:${s.gid} ${String(s.size).padStart(sizeWidth)} ${time(s.mtimeMs)}`;
		const whiteout = s.type === 'char' && s.rdev === 0 ? ' whiteout' : '';
		lines.push({text: `  ${name.padEnd(8)} ${stat}${whiteout}${l.via ? ` (${l.via} ${pp(l.path)})` : ''}`});
	}
	if (e) {
		const xs = xattrLines(e.xattrs);
		if (xs.length > 0) lines.push({text: 'overlay xattrs:', dim: true}, ...xs.map((t) => ({text: `  ${t}`})));
	}
	return lines.flatMap((l) => wrapLine(l, w));
}

/** How far a pane of `height` rows showing `total` lines can scroll (one row goes to the scroll mark). */
export const detailsMaxScroll = (total: number, height: number): number =>
	total <= height ? 0 : Math.max(0, total - Math.max(1, height - 1));

/** The details pane: `height` rows of the lines from `scroll` on, and a mark when some are out of view. */
export function Details({
	lines,
	scroll,
	width: w,
	height,
}: {
	readonly lines: readonly DetailLine[];
	readonly scroll: number;
	readonly width: number;
	readonly height: number;
}) {
	const cut = lines.length > height;
	const room = cut ? Math.max(1, height - 1) : height;
	const from = Math.min(scroll, detailsMaxScroll(lines.length, height));
	const shown = lines.slice(from, from + room);
	const below = from + room < lines.length;
	const mark = cut
		? `${below ? '↓ more' : '↑ more above'} · J/K scroll · ${from + 1}–${from + shown.length}/${lines.length}`
		: '';
	return (
		<Box flexDirection="column" width={w} height={height} paddingLeft={1}>
			{shown.map((l, i) => (
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
			{cut ? (
				<Text wrap="truncate-end" color="cyan">
					{mark}
				</Text>
			) : null}
		</Box>
	);
}
