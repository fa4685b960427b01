import {readFile, readdir, readlink} from 'node:fs/promises';
import {isSameOrInside} from '../core/paths.js';

export type Holder = {readonly pid: number; readonly command: string; readonly how: string};

const linkOf = (p: string): Promise<string | undefined> => readlink(p).catch(() => undefined);

/**
 Processes keeping a mount busy: cwd, root, executable or open files below it, and processes in
 other mount namespaces that still have a copy of the mount (the classic leaked-mount EBUSY).
 */
export async function findHolders(mountPoint: string): Promise<Holder[]> {
	const self = await linkOf('/proc/self/ns/mnt');
	const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
	const out: Holder[] = [];
	await Promise.all(
		pids.map(async (pid) => {
			if (pid === process.pid) return;
			const base = `/proc/${pid}`;
			const command = (await readFile(`${base}/comm`, 'utf8').catch(() => '?')).trim();
			const ns = await linkOf(`${base}/ns/mnt`);
			if (ns !== undefined && self !== undefined && ns !== self) {
				const mi = await readFile(`${base}/mountinfo`, 'utf8').catch(() => '');
				if (mi.split('\n').some((l) => l.split(' ')[4] === mountPoint.replace(/ /g, '\\040')))
					out.push({pid, command, how: `has a copy of the mount in mount namespace ${ns}`});
				return;
			}
			for (const what of ['cwd', 'root', 'exe'] as const) {
				const target = await linkOf(`${base}/${what}`);
				if (target !== undefined && isSameOrInside(target, mountPoint) && !(what === 'root' && target === '/'))
					out.push({pid, command, how: what});
			}
			const fds = await readdir(`${base}/fd`).catch(() => [] as string[]);
			for (const fd of fds) {
				const target = await linkOf(`${base}/fd/${fd}`);
				if (target !== undefined && isSameOrInside(target, mountPoint)) {
					out.push({pid, command, how: `open file ${target} (fd ${fd})`});
					break;
				}
			}
		}),
	);
	return out.sort((a, b) => a.pid - b.pid);
}
