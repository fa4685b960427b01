import {readFile, readdir} from 'node:fs/promises';
import os from 'node:os';
import {parseKernelVersion, type KernelFacts} from '../core/facts.js';
import {decodePath} from '../core/bytes.js';
import {parseMountinfo} from '../core/mountinfo.js';
import type {MountInfoEntry} from '../core/types.js';

// The only reader of /proc and /sys/module/overlay.

export async function readMountinfo(pid: number | 'self' = 'self'): Promise<MountInfoEntry[]> {
	// Bytes, not UTF-8: a mount point may have any name.
	return parseMountinfo(decodePath(await readFile(`/proc/${pid}/mountinfo`)));
}

async function readOr(file: string, fallback: string): Promise<string> {
	try {
		return await readFile(file, 'utf8');
	} catch {
		return fallback;
	}
}

export async function readOverlayParams(): Promise<Record<string, string>> {
	const dir = '/sys/module/overlay/parameters';
	let names: string[];
	try {
		names = await readdir(dir);
	} catch {
		return {};
	}
	const values = await Promise.all(names.map(async (n) => (await readOr(`${dir}/${n}`, '')).trim()));
	return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
}

let pageSize: number | undefined;
/** PAGE_SIZE from getconf (Node has no sysconf); 4096 if getconf is missing. */
export async function readPageSize(): Promise<number> {
	if (pageSize !== undefined) return pageSize;
	try {
		const {execa} = await import('execa'); // lazy: most commands never need it
		const {stdout} = await execa('getconf', ['PAGESIZE']);
		pageSize = Number(stdout.trim()) || 4096;
	} catch {
		pageSize = 4096;
	}
	return pageSize;
}

export async function readKernelFacts(): Promise<KernelFacts> {
	const release = os.release();
	const [filesystems, params, size] = await Promise.all([
		readOr('/proc/filesystems', ''),
		readOverlayParams(),
		readPageSize(),
	]);
	return {
		release,
		version: parseKernelVersion(release),
		overlayListed: /\toverlay$/m.test(filesystems),
		params,
		pageSize: size,
	};
}

/** True outside the initial user namespace: the initial one maps 0 → 0 over the full 32-bit range. */
export async function isInUserNamespace(): Promise<boolean> {
	const map = await readOr('/proc/self/uid_map', '         0          0 4294967295');
	const [inside, outside, count] = map.trim().split(/\s+/).map(Number);
	return !(inside === 0 && outside === 0 && count === 4294967295);
}

export const effectiveUid = (): number => process.geteuid?.() ?? -1;
