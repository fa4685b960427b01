import {existsSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

/** The C helper's calls (native/ovl.c). Paths are Buffers; errors carry an errno `code`. */
export type NativeApi = {
	openat2(dirfd: number, path: Buffer, flags: number, mode: number, resolve: number): number;
	mknodat(dirfd: number, name: Buffer, mode: number, major: number, minor: number): void;
	renameat2(oldDirfd: number, oldName: Buffer, newDirfd: number, newName: Buffer, flags: number): void;
	lgetxattr(path: Buffer, name: string): Buffer | null;
	llistxattr(path: Buffer): string[];
	lsetxattr(path: Buffer, name: string, value: Buffer, flags: number): void;
	lremovexattr(path: Buffer, name: string): void;
	umount2(path: Buffer, flags: number): void;
	/** realpath(3) of each path and the stat(2) mode of what it names, or the errno code. */
	realpaths(paths: readonly Buffer[]): ({real: Buffer; mode: number} | {code: string})[];
	flock(fd: number, op: number): void;
	/** lseek(fd, 0, SEEK_END). */
	seekEnd(fd: number): void;
	/** Sets atime and mtime of `name` in `dirfd` to the nanosecond, not following a symlink. */
	utimensat(dirfd: number, name: Buffer, aSec: number, aNsec: number, mSec: number, mNsec: number): void;
	/**
	 native/spawn.c: posix_spawnp with stdin /dev/null, stdout+stderr into one pipe, fds[i] as fd
	 3+i, default signal dispositions; waits off the main thread. Rejects (errno code) when the tool
	 cannot start.
	 */
	spawn(
		file: string,
		argv: readonly string[],
		env: readonly string[],
		cwd: string | null,
		fds: readonly number[],
	): Promise<{status: number; signal: number; output: Buffer}>;
	/** native/scan.c: mode 0 walks the tree at `target`, 1 stats each path, 2 reads each dir. */
	scan(
		mode: number,
		target: Buffer | readonly Buffer[],
		ns: string,
		flags: number,
		progress: Float64Array | null,
		/** Mode 2: per dir, the only names wanted (NUL-ended), or null for all; mode 0: the lower roots to pair with. */
		wanted?: readonly (Buffer | null)[] | null,
	): Promise<ScanData>;
};

/** The native scanner's flat output (decoded by io/scan-native.ts). */
export type ScanData = {
	/** native/scan.c rec_t records (96 bytes each), viewed as doubles. */
	readonly recs: Float64Array;
	readonly xattrs: Float64Array;
	/** xattr names and values. */
	readonly bytes: Buffer;
	/** Entry names in record order, each followed by '/'. */
	readonly names: Buffer;
	/** Mode 0 with lowers: each entry's lower hits and each dir's merge context (rec_t records). */
	readonly hits?: Float64Array;
	readonly ctxs?: Float64Array;
	readonly dirsRead?: number;
};

export type NativeStatus = {readonly loaded: boolean; readonly reason: string};

export const resolveFlags = {beneath: 0x08, noSymlinks: 0x04, noMagiclinks: 0x02, noXdev: 0x01} as const;
export const flockOps = {shared: 1, exclusive: 2, nonBlocking: 4, unlock: 8} as const;
export const renameFlags = {noReplace: 1, exchange: 2, whiteout: 4} as const;

const calls: readonly (keyof NativeApi)[] = [
	'openat2',
	'mknodat',
	'renameat2',
	'lgetxattr',
	'llistxattr',
	'lsetxattr',
	'lremovexattr',
	'umount2',
	'realpaths',
	'flock',
	'seekEnd',
	'utimensat',
	'spawn',
	'scan',
];

let api: NativeApi | undefined;
let status: NativeStatus | undefined;

/** The native helper, or undefined when it was not built (or OVL_NATIVE=0 forces the JS fallback). */
export function native(): NativeApi | undefined {
	if (status) return api;
	if (process.env['OVL_NATIVE'] === '0') {
		status = {loaded: false, reason: 'OVL_NATIVE=0 forces the pure-JS fallback'};
		return undefined;
	}
	const file = fileURLToPath(new URL('../../build/Release/ovl_native.node', import.meta.url));
	if (!existsSync(file)) {
		status = {loaded: false, reason: 'not built; npm install builds it when a C compiler is present'};
		return undefined;
	}
	try {
		// process.dlopen, not require: the CJS loader's first use costs ~3 ms of every command's start.
		const addon = {exports: {} as Partial<NativeApi>};
		process.dlopen(addon, file);
		// A helper built by an older ovl lacks the newer calls: all or nothing, never half of it.
		const missing = calls.filter((c) => typeof addon.exports[c] !== 'function');
		if (missing.length > 0)
			status = {
				loaded: false,
				reason: `built by an older ovl (no ${missing.join(', ')}); npm install rebuilds it`,
			};
		else {
			api = addon.exports as NativeApi;
			status = {loaded: true, reason: 'build/Release/ovl_native.node'};
		}
	} catch (error) {
		status = {
			loaded: false,
			reason: `not loaded (${String((error as Error).message).split('\n')[0] ?? 'dlopen failed'}); npm install rebuilds it`,
		};
	}
	return api;
}

export function nativeStatus(): NativeStatus {
	native();
	return status as NativeStatus;
}
