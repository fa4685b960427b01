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
