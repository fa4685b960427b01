import type {Context} from '../context.js';
import {escapeLayerPath, topFirst} from '../core/lowerdir.js';
import {lsFlow, type ListedMount} from '../flows/ls.js';
import {emit} from '../output.js';
import type {Style} from '../ui/style.js';

/** `ovl ls`: every overlay in this mount namespace, decoded. */
export async function lsCommand(ctx: Context): Promise<void> {
	const listed = await lsFlow(ctx.deps);
	const {mounts} = listed;
	emit(ctx, {
		json: listed,
		plain: () => ({out: plainTable(mounts)}),
		human: () => ({out: humanList(mounts, ctx.style)}),
	});
}

const plainHeader = ['MOUNT', 'RW', 'NLOWER', 'LOWERS', 'UPPER', 'WORK', 'OPTIONS', 'BY'];

/**
 A header, then one tab-separated row per overlay. LOWERS is bottom → top, ':'-separated, with
 ':' and '\' in a path escaped by '\' (the kernel's lowerdir syntax, in ovl's order).
 */
function plainTable(mounts: readonly ListedMount[]): string {
	const rows = mounts.map((m) => [
		m.mountPoint,
		m.readOnly ? 'ro' : 'rw',
		String(m.lowers.length),
		m.lowers.map((l) => escapeLayerPath(l.path)).join(':'),
		m.upper ?? '-',
		m.work ?? '-',
		m.options.join(',') || '-',
		m.mountedBy,
	]);
	return [plainHeader, ...rows].map((r) => `${r.join('\t')}\n`).join('');
}

/** Each overlay drawn as the kernel stacks it: upper on top, then lowers from the top one down. */
function humanList(mounts: readonly ListedMount[], s: Style): string {
	if (mounts.length === 0) return 'no overlay mounts in this mount namespace\n';
	const lines: string[] = [];
	for (const m of mounts) {
		const n = m.lowers.length;
		const by = m.mountedBy === 'ovl' ? s.dim(` (ovl, ${m.strategy ?? ''}, ${m.mountedAt ?? ''})`) : '';
		lines.push(`${s.bold(m.mountPoint)}  ${m.readOnly ? s.yellow('ro') : 'rw'}  ${n} lower${n === 1 ? '' : 's'}${by}`);
		lines.push(s.dim('  layers, top → bottom (lower 1 is the bottom):'));
		if (m.upper !== undefined) lines.push(`    upper    ${m.upper}`);
		const shown = topFirst(m.lowers);
		for (const [i, l] of shown.slice(0, 8).entries())
			lines.push(`    lower ${String(n - i).padEnd(3)}${l.path}${l.dataOnly ? ' (data-only)' : ''}`);
		if (shown.length > 8) lines.push(s.dim(`    … and ${shown.length - 8} more (--plain or --json lists all)`));
		if (m.work !== undefined) lines.push(`  work       ${m.work}`);
		if (m.unresolved) lines.push(s.yellow(`  relative paths nothing resolved: ${m.unresolved.join(', ')}`));
		if (m.options.length > 0) lines.push(`  options    ${m.options.join(',')}`);
		if (m.commitPending)
			lines.push(
				s.yellow('  a commit of this upper stopped part-way: ovl commit --resume finishes it, --abort rolls it back'),
			);
	}
	return `${lines.join('\n')}\n`;
}
