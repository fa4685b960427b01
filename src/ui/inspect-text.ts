import type {Entry} from '../core/entry.js';
import {printablePath as pp} from '../core/bytes.js';
import {collapseChanges, type ChangeSet} from '../core/diff.js';
import type {Report} from '../core/report.js';
import type {Style} from './style.js';

export function formatBytes(n: number): string {
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let v = n;
	let u = 0;
	while (v >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

const layerList = (e: Entry): string => (e.shadows.length === 0 ? '-' : e.shadows.map((l) => `lower${l}`).join(','));

/** One entry per line, tab-separated, nothing truncated, no colour (for pipes and scripts). */
export function plainEntries(report: Report): string {
	return report.entries
		.map((e) => `${e.kind}\t${pp(e.path)}\t${e.type}\t${layerList(e)}\t${e.bytes}\t${e.reasons.join('; ')}\n`)
		.join('');
}

export function plainChanges(set: ChangeSet, all: boolean): string {
	if (all) return set.changes.map((c) => `${c.op}\t${pp(c.path)}\t${c.changes?.join(',') ?? ''}\n`).join('');
	return collapseChanges(set)
		.map((l) => `${l.op}\t${pp(l.path)}\t${l.detail}\n`)
		.join('');
}

const badge: Record<string, (s: Style) => (t: string) => string> = {
	whiteout: (s) => s.red,
	xwhiteout: (s) => s.red,
	'opaque-dir': (s) => s.yellow,
	'redirect-dir': (s) => s.cyan,
	'merge-dir': (s) => s.dim,
	'copy-up': (s) => s.yellow,
	metacopy: (s) => s.cyan,
	new: (s) => s.green,
	anomaly: (s) => s.red,
};

/** A compact report for a terminal: mount facts, summary, entries (capped), findings last. */
export function humanReport(report: Report, s: Style, limit: number): string {
	const m = report.mount;
	const sum = report.summary;
	const lines: string[] = [s.bold(m.mountPoint ? `overlay on ${pp(m.mountPoint)}` : 'overlay layers (offline)')];
	for (const l of m.layers)
		lines.push(
			`  ${l.role === 'upper' ? s.green('upper    ') : l.role === 'data-only' ? `data ${String(l.layer).padEnd(4)}` : s.cyan(`lower ${String(l.layer).padEnd(3)}`)} ${pp(l.path)}${l.recorded ? s.dim(` (recorded as ${l.recorded})`) : ''}${l.label ? s.dim(`  ${l.label}`) : ''}`,
		);
	lines.push(`  options  ${m.options.join(',') || '(defaults)'}   xattrs ${m.xattrNamespace}.overlay.*`);
	const counts = Object.entries(sum.counts)
		.filter(([, n]) => n > 0)
		.map(([k, n]) => `${badge[k]?.(s)(k) ?? k} ${n}`);
	lines.push(`  ${sum.entries} upper entries: ${counts.join('  ') || 'none'}`);
	lines.push(
		`  upper uses ${formatBytes(sum.upperBytes)} in ${sum.upperInodes} inodes; copy-ups duplicate ${formatBytes(sum.duplicatedBytes)}${sum.metacopySavedBytes > 0 ? `; metacopy saved ${formatBytes(sum.metacopySavedBytes)}` : ''}`,
	);
	if (sum.upperSpace)
		lines.push(
			`  upper fs: ${formatBytes(sum.upperSpace.blocksFree * sum.upperSpace.blockSize)} and ${sum.upperSpace.inodesFree} inodes free`,
		);
	lines.push('');
	for (const e of report.entries.slice(0, limit)) {
		lines.push(
			`${(badge[e.kind]?.(s) ?? ((t: string) => t))(e.kind.padEnd(12))} ${pp(e.path)}${e.type === 'dir' ? '/' : ''}  ${s.dim(`${layerList(e)} · ${e.reasons.join('; ')}`)}`,
		);
	}
	if (report.entries.length > limit)
		lines.push(s.dim(`… and ${report.entries.length - limit} more (pipe, --plain or --json for all)`));
	return `${lines.join('\n')}\n`;
}
