import {existsSync, readFileSync} from 'node:fs';
import {readFile, readdir, readlink} from 'node:fs/promises';
import os from 'node:os';
import {parseKernelVersion, type KernelFacts} from '../core/facts.js';
import {decodePath} from '../core/bytes.js';
import {parseMountinfo} from '../core/mountinfo.js';
import type {MountInfoEntry} from '../core/types.js';

// The only reader of /proc and /sys/module/overlay. (Paths like /proc/self/fd/N/name that other
// modules open are a way to name a file beneath a descriptor, not reads of /proc.)

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
/**
 PAGE_SIZE, which caps mount(2)'s option string. Node has no sysconf: the kernel gives it to every
 process in its auxiliary vector (AT_PAGESZ in /proc/self/auxv), so no getconf(1) is spawned;
 getconf only if that cannot be read, 4096 if neither works.
 */
export async function readPageSize(): Promise<number> {
	if (pageSize !== undefined) return pageSize;
	const fromAuxv = pageSizeFromAuxv(await readFile('/proc/self/auxv').catch(() => Buffer.alloc(0)));
	if (fromAuxv !== undefined) return (pageSize = fromAuxv);
	try {
		const {execa} = await import('execa'); // lazy: most commands never need it
		const {stdout} = await execa('getconf', ['PAGESIZE']);
		pageSize = Number(stdout.trim()) || 4096;
	} catch {
		pageSize = 4096;
	}
	return pageSize;
}

const AT_PAGESZ = 6n;

/** AT_PAGESZ from an auxiliary vector: native-endian (type, value) pairs of the word size, 8 on 64-bit. */
export function pageSizeFromAuxv(auxv: Buffer): number | undefined {
	if (process.arch !== 'x64' && process.arch !== 'arm64') return undefined;
	for (let at = 0; at + 16 <= auxv.length; at += 16) {
		const type = auxv.readBigUInt64LE(at);
		if (type === 0n) break; // AT_NULL ends the vector
		if (type === AT_PAGESZ) {
			const size = Number(auxv.readBigUInt64LE(at + 8));
			return size >= 4096 && (size & (size - 1)) === 0 ? size : undefined;
		}
	}
	return undefined;
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

/** A /proc/sys value (e.g. "user/max_user_namespaces"), trimmed; undefined when absent. */
export async function readSysctl(name: string): Promise<string | undefined> {
	return (await readFile(`/proc/sys/${name}`, 'utf8').catch(() => undefined))?.trim();
}

export const overlayModuleLoaded = (): boolean => existsSync('/sys/module/overlay/initstate');

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): with the pid, names one process for good. */
export function processStartTime(pid: number): string | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
		return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
	} catch {
		return undefined;
	}
}

/** This process's argv as the kernel holds it: NUL-separated exact bytes. */
export function ownCmdline(): Buffer | undefined {
	try {
		return readFileSync('/proc/self/cmdline');
	} catch {
		return undefined;
	}
}

export type ProcessView = {
	readonly pid: number;
	readonly command: string;
	/** The mount namespace, as the ns/mnt link reads ("mnt:[4026531841]"). */
	readonly mountNs: string | undefined;
	link(what: 'cwd' | 'root' | 'exe'): Promise<string | undefined>;
	/** The first open file whose target `match`es (each fd link read until one does). */
	openFile(match: (target: string) => boolean): Promise<{fd: string; target: string} | undefined>;
	mountinfo(): Promise<MountInfoEntry[]>;
};

const linkOf = (p: string): Promise<string | undefined> => readlink(p).catch(() => undefined);

/** Every other process, each read lazily (a process may exit while it is looked at). */
export async function listProcesses(): Promise<ProcessView[]> {
	const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
	const views = await Promise.all(
		pids
			.filter((pid) => pid !== process.pid)
			.map(async (pid): Promise<ProcessView> => {
				const base = `/proc/${pid}`;
				return {
					pid,
					command: (await readFile(`${base}/comm`, 'utf8').catch(() => '?')).trim(),
					mountNs: await linkOf(`${base}/ns/mnt`),
					link: (what) => linkOf(`${base}/${what}`),
					openFile: async (match) => {
						for (const fd of await readdir(`${base}/fd`).catch(() => [] as string[])) {
							const target = await linkOf(`${base}/fd/${fd}`);
							if (target !== undefined && match(target)) return {fd, target};
						}
						return undefined;
					},
					mountinfo: () => readMountinfo(pid).catch(() => []),
				};
			}),
	);
	return views;
}

export const ownMountNs = (): Promise<string | undefined> => linkOf('/proc/self/ns/mnt');
