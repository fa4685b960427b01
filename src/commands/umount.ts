import {exitCodes} from '../core/exit-codes.js';
import path from 'node:path';
import {writeJson, type Context} from '../context.js';
import {OvlError} from '../core/errors.js';
import {decodeOverlay, topMountAt} from '../core/mountinfo.js';
import {runUmount} from '../io/exec.js';
import {findHolders} from '../io/holders.js';
import {readMountinfo} from '../io/proc.js';
import {removeRecord} from '../io/registry.js';
import {canonicalPath} from './stack-input.js';

/** `ovl umount`: only overlays; when busy, say who holds it. */
export async function umountCommand(o: {merged: string; lazy: boolean}, ctx: Context): Promise<void> {
	const target = await canonicalPath(path.resolve(ctx.cwd, o.merged));
	const top = topMountAt(await readMountinfo(), target);
	if (!top)
		throw new OvlError(
			'OVL_NOT_MOUNTED',
			`nothing is mounted on ${target}`,
			'ovl ls lists the overlay mounts on this host',
			{exitCode: exitCodes.usage},
		);
	if (!decodeOverlay(top))
		throw new OvlError(
			'OVL_NOT_OVERLAY',
			`${target} is a ${top.fsType} mount, not an overlay; ovl leaves it alone`,
			'use umount(8) for other filesystems',
			{exitCode: exitCodes.usage},
		);
	const result = await runUmount(target, o.lazy);
	if (!result.ok) {
		const holders = /busy/i.test(result.output) ? await findHolders(target) : [];
		const list = holders.map((h) => `  pid ${h.pid} (${h.command}): ${h.how}`).join('\n');
		throw new OvlError(
			holders.length > 0 || /busy/i.test(result.output) ? 'OVL_MOUNT_BUSY' : 'OVL_UMOUNT_FAILED',
			`cannot unmount ${target}: ${result.output.trim().split('\n')[0] ?? ''}${list ? `\nheld by:\n${list}` : ''}`,
			/busy/i.test(result.output)
				? `stop those processes (or leave the directory), or detach now with: ovl umount --lazy ${target}`
				: 'run umount(8) yourself to see the full error',
		);
	}
	await removeRecord(target);
	if (ctx.mode === 'json')
		return writeJson(ctx, {schema: 'ovl.umount/v1', merged: target, lazy: o.lazy, unmounted: true});
	ctx.out(
		`${ctx.style.green('✓')} unmounted ${target}${o.lazy ? ' (lazily: it goes away once nothing uses it)' : ''}\n`,
	);
}
