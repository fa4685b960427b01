import {exitCodes} from '../core/exit-codes.js';
import {withArticle} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {decodeOverlay, notMounted, topMountAt} from '../core/mountinfo.js';
import type {MountInfoEntry} from '../core/types.js';
import type {Deps} from './deps.js';

export type Unmounted = {readonly schema: 'ovl.umount/v1'; readonly merged: string; readonly lazy: boolean};

/**
 Unmounts the overlay on `target` (canonical), only an overlay; when busy, names who holds it.
 `read`: the mount table the caller just read to find `target`, not read a second time.
 */
export async function umountFlow(
	target: string,
	lazy: boolean,
	deps: Deps,
	read?: readonly MountInfoEntry[],
): Promise<Unmounted> {
	const entries = read ?? (await deps.mountinfo());
	const top = topMountAt(entries, target);
	if (!top) throw notMounted(target, entries);
	if (!decodeOverlay(top))
		throw new OvlError(
			'OVL_NOT_OVERLAY',
			`${target} is ${withArticle(top.fsType)} mount, not an overlay; ovl leaves it alone`,
			'use umount(8) for other filesystems',
			{exitCode: exitCodes.usage},
		);
	const result = await deps.exec.umount(target, lazy);
	if (!result.ok) {
		const busy = /busy/i.test(result.output);
		// Who holds it is a walk of /proc: only when umount(2) said EBUSY.
		const holders = busy ? await (await import('../io/holders.js')).findHolders(target) : [];
		const list = holders.map((h) => `  pid ${h.pid} (${h.command}): ${h.how}`).join('\n');
		throw new OvlError(
			holders.length > 0 || busy ? 'OVL_MOUNT_BUSY' : 'OVL_UMOUNT_FAILED',
			`cannot unmount ${target}: ${result.output.trim().split('\n')[0] ?? ''}${list ? `\nheld by:\n${list}` : ''}`,
			busy
				? `stop those processes (or leave the directory), or detach now with: ovl umount --lazy ${target}`
				: 'run umount(8) yourself to see the full error',
		);
	}
	await deps.registry.remove(target);
	return {schema: 'ovl.umount/v1', merged: target, lazy};
}
