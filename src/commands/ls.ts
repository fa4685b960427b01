import type {Context} from '../context.js';
import {emit} from '../output.js';
import type {Style} from '../ui/style.js';
import {renderOption} from '../core/options.js';
import type {LowerLayer, OverlayMount} from '../core/types.js';
import {recordFor, type MountRecord} from '../io/registry.js';
import {overlayMounts} from '../core/mountinfo.js';
import {bottomUp, topFirst} from '../core/lowerdir.js';

export type ListedMount = {
	readonly mountPoint: string;
	readonly mountId: number;
	readonly readOnly: boolean;
	/** Bottom→top, as ovl shows layers everywhere; absolute when ovl (or the kernel) knows them. */
	readonly lowers: readonly LowerLayer[];
	readonly upper?: string;
	readonly work?: string;
	readonly recordedLowerdir: readonly string[];
	readonly options: readonly string[];
	readonly xattrNamespace: 'trusted' | 'user';
	readonly mountedBy: 'ovl' | 'other';
	readonly strategy?: string;
	readonly mountedAt?: string;
};

export function listMount(o: OverlayMount, registry: readonly MountRecord[]): ListedMount {
	const rec = recordFor(registry, o);
	const recorded = o.layers.lowers.map((l) => l.path);
	const fromRecord = rec !== undefined;
	return {
		mountPoint: o.entry.mountPoint,
		mountId: o.entry.mountId,
		readOnly: o.readOnly,
		lowers: fromRecord ? rec.lowers : bottomUp(o.layers.lowers),
		...((fromRecord ? rec.upper : o.layers.upper) === undefined
			? {}
			: {upper: (fromRecord ? rec.upper : o.layers.upper) as string}),
		...((fromRecord ? rec.work : o.layers.work) === undefined
			? {}
			: {work: (fromRecord ? rec.work : o.layers.work) as string}),
		recordedLowerdir: recorded,
		options: o.options.map(renderOption),
		xattrNamespace: o.xattrNamespace,
		mountedBy: rec ? 'ovl' : 'other',
		...(rec ? {strategy: rec.strategy, mountedAt: rec.mountedAt} : {}),
	};
}

/** `ovl ls`: every overlay in this mount namespace, decoded. */
export async function lsCommand(ctx: Context): Promise<void> {
	const [entries, registry] = await Promise.all([ctx.deps.mountinfo(), ctx.deps.registry.list()]);
	const mounts = overlayMounts(entries).map((o) => listMount(o, registry));
	emit(ctx, {
		json: {schema: 'ovl.ls/v1', mounts},
		plain: () => ({out: mounts.map(plainLine).join('')}),
		human: () => ({out: humanList(mounts, ctx.style)}),
	});
}

function plainLine(m: ListedMount): string {
	const fields = [m.mountPoint, m.lowers.length, m.upper ?? '-', m.readOnly ? 'ro' : 'rw'];
	return `${[...fields, m.options.join(',') || '-', m.mountedBy].join('\t')}\n`;
}

function humanList(mounts: readonly ListedMount[], s: Style): string {
	if (mounts.length === 0) return 'no overlay mounts in this mount namespace\n';
	const lines: string[] = [];
	for (const m of mounts) {
		const n = m.lowers.length;
		const by = m.mountedBy === 'ovl' ? s.dim(` (ovl, ${m.strategy ?? ''}, ${m.mountedAt ?? ''})`) : '';
		lines.push(`${s.bold(m.mountPoint)}  ${m.readOnly ? s.yellow('ro') : 'rw'}  ${n} lower${n === 1 ? '' : 's'}${by}`);
		if (m.upper !== undefined) lines.push(`  upper ${m.upper}`);
		const shown = topFirst(m.lowers);
		for (const [i, l] of shown.slice(0, 8).entries())
			lines.push(`  lower ${n - i} ${l.path}${l.dataOnly ? ' (data-only)' : ''}`);
		if (shown.length > 8) lines.push(s.dim(`  … and ${shown.length - 8} more (--json lists all)`));
		if (m.options.length > 0) lines.push(`  options ${m.options.join(',')}`);
	}
	return `${lines.join('\n')}\n`;
}
