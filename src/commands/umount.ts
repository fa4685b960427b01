import type {Context} from '../context.js';
import {emit} from '../output.js';
import {umountFlow} from '../flows/umount.js';
import {overlayTarget} from './overlay-target.js';

/** `ovl umount`: only overlays; when busy, say who holds it. */
export async function umountCommand(o: {merged: string; lazy: boolean}, ctx: Context): Promise<void> {
	const entries = await ctx.deps.mountinfo();
	const target = await overlayTarget(o.merged, ctx.cwd, entries);
	const done = await umountFlow(target, o.lazy, ctx.deps, entries);
	const how = o.lazy ? ' (lazily: it goes away once nothing uses it)' : '';
	emit(ctx, {
		json: {...done, unmounted: true},
		plain: () => ({out: `${ctx.style.green('✓')} unmounted ${target}${how}\n`}),
	});
}
