import {writeJson, type Context} from '../context.js';
import {renderOption} from '../core/options.js';
import type {OverlayMount} from '../core/types.js';
import {recordFor, type MountRecord} from '../io/registry.js';
import {overlayMounts} from '../core/mountinfo.js';

export type ListedMount = {
	readonly mountPoint: string;
	readonly mountId: number;
	readonly readOnly: boolean;
	/** Bottom→top, as ovl shows layers everywhere; absolute when ovl (or the kernel) knows them. */
	readonly lowers: readonly {path: string; dataOnly: boolean}[];
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
		lowers: fromRecord ? rec.lowers : [...o.layers.lowers].reverse(),
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
	if (ctx.mode === 'json') return writeJson(ctx, {schema: 'ovl.ls/v1', mounts});
	if (ctx.mode === 'plain') {
		for (const m of mounts)
			ctx.out(
				`${[m.mountPoint, m.lowers.length, m.upper ?? '-', m.readOnly ? 'ro' : 'rw', m.options.join(',') || '-', m.mountedBy].join('\t')}\n`,
			);
		return;
	}
	const s = ctx.style;
	if (mounts.length === 0) {
		ctx.out('no overlay mounts in this mount namespace\n');
		return;
	}
	for (const m of mounts) {
		ctx.out(
			`${s.bold(m.mountPoint)}  ${m.readOnly ? s.yellow('ro') : 'rw'}  ${m.lowers.length} lower${m.lowers.length === 1 ? '' : 's'}${m.mountedBy === 'ovl' ? s.dim(` (ovl, ${m.strategy ?? ''}, ${m.mountedAt ?? ''})`) : ''}\n`,
		);
		if (m.upper !== undefined) ctx.out(`  upper ${m.upper}\n`);
		const shown = [...m.lowers].reverse();
		for (const [i, l] of shown.slice(0, 8).entries())
			ctx.out(`  lower ${m.lowers.length - i} ${l.path}${l.dataOnly ? ' (data-only)' : ''}\n`);
		if (shown.length > 8) ctx.out(s.dim(`  … and ${shown.length - 8} more (--json lists all)\n`));
		if (m.options.length > 0) ctx.out(`  options ${m.options.join(',')}\n`);
	}
}
