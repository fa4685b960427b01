import {decodeOverlay} from '../core/mountinfo.js';
import {isSameOrInside} from '../core/paths.js';
import {listProcesses, ownMountNs} from './proc.js';

export type Holder = {readonly pid: number; readonly command: string; readonly how: string};

/**
 Processes keeping a mount busy: cwd, root, executable or open files below it, and processes in
 other mount namespaces that still have a copy of the mount (the classic leaked-mount EBUSY).
 */
export async function findHolders(mountPoint: string): Promise<Holder[]> {
	const self = await ownMountNs();
	const out: Holder[] = [];
	await Promise.all(
		(await listProcesses()).map(async (p) => {
			const {pid, command} = p;
			if (p.mountNs !== undefined && self !== undefined && p.mountNs !== self) {
				if ((await p.mountinfo()).some((e) => e.mountPoint === mountPoint))
					out.push({pid, command, how: `has a copy of the mount in mount namespace ${p.mountNs}`});
				return;
			}
			for (const what of ['cwd', 'root', 'exe'] as const) {
				const target = await p.link(what);
				if (target !== undefined && isSameOrInside(target, mountPoint) && !(what === 'root' && target === '/'))
					out.push({pid, command, how: what});
			}
			const open = await p.openFile((target) => isSameOrInside(target, mountPoint));
			if (open) out.push({pid, command, how: `open file ${open.target} (fd ${open.fd})`});
		}),
	);
	return out.sort((a, b) => a.pid - b.pid);
}

/**
 Processes in other mount namespaces holding a copy of an overlay that uses one of `dirs` as its
 upper or work dir: the kernel then refuses a new mount of them (EBUSY, with index=on), even
 after the original mount is gone here. One process named for each namespace.
 */
export async function findLayerUsers(dirs: readonly string[]): Promise<Holder[]> {
	const self = await ownMountNs();
	const seen = new Set<string>();
	const out: Holder[] = [];
	for (const p of await listProcesses()) {
		if (p.mountNs === undefined || p.mountNs === self || seen.has(p.mountNs)) continue;
		seen.add(p.mountNs);
		for (const e of await p.mountinfo()) {
			const o = decodeOverlay(e);
			const hit = [o?.layers.upper, o?.layers.work].find((l) => l !== undefined && dirs.includes(l));
			if (hit === undefined) continue;
			out.push({
				pid: p.pid,
				command: p.command,
				how: `mount namespace ${p.mountNs} still has ${e.mountPoint} on ${hit}`,
			});
			break;
		}
	}
	return out;
}
