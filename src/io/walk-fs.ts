import {closeSync, lstatSync, openSync, readdirSync, type Dirent, type Stats} from 'node:fs';
import {decodePath, encodePath} from '../core/bytes.js';
import {getXattrSync, listXattrsSync} from './xattr.js';

// The read side of a tree walk, for any path: exact bytes (core/bytes.ts), and paths longer than
// PATH_MAX (4096 bytes) reached through an open descriptor of an ancestor (/proc/self/fd/N/rest),
// since the kernel refuses such a path whole (ENAMETOOLONG) but not a walk to it.

const limit = 3000; // bytes of path handed to one syscall
const O_PATH = 0o10000000;
const fds = new Map<string, number>();

function anchor(dir: Buffer): Buffer {
	const key = dir.toString('latin1');
	let fd = fds.get(key);
	if (fd === undefined) {
		fd = openSync(reach(dir), O_PATH | 0o200000 /* O_DIRECTORY */);
		if (fds.size >= 64) {
			const [k, old] = fds.entries().next().value as [string, number];
			closeSync(old);
			fds.delete(k);
		}
		fds.set(key, fd);
	}
	return Buffer.from(`/proc/self/fd/${fd}`);
}

/** A path the kernel accepts for `bytes`: itself when short, else via an ancestor's descriptor. */
function reach(bytes: Buffer): Buffer {
	if (bytes.length < limit) return bytes;
	// The shortest tail under the limit, starting at a '/': its head is reached the same way.
	const cut = bytes.indexOf(0x2f, bytes.length - limit + 1);
	if (cut <= 0) return bytes; // one component over the limit: the kernel will say ENAMETOOLONG
	return Buffer.concat([anchor(bytes.subarray(0, cut)), bytes.subarray(cut)]);
}

/** What node:fs and the xattr calls should be given for a path string. */
export function sysPath(p: string): string | Buffer {
	if (p.length < limit / 4 && !/[\uDC80-\uDCFF]/.test(p)) return p; // the hot, common case
	const b = encodePath(p);
	return b.length < limit ? (b.toString('utf8') === p ? p : b) : reach(b);
}

export function lstatPath(p: string): Stats | undefined {
	return lstatSync(sysPath(p), {throwIfNoEntry: false});
}

export function readdirPath(p: string): string[] {
	return readdirSync(sysPath(p), {encoding: 'buffer'}).map(decodePath);
}

export function readdirTyped(p: string): {name: string; dirent: Dirent<Buffer>}[] {
	return readdirSync(sysPath(p), {encoding: 'buffer', withFileTypes: true}).map((d) => ({
		name: decodePath(d.name),
		dirent: d,
	}));
}

/** llistxattr of a path of any length (io/xattr.ts: [] when none; other errors throw an XattrError). */
export function listXattrsPath(p: string): string[] {
	return listXattrsSync(sysPath(p));
}

/** lgetxattr of a path of any length, or undefined when absent. */
export function getXattrPath(p: string, name: string): Buffer | undefined {
	return getXattrSync(sysPath(p), name);
}

/** Closes the descriptors held for long paths (end of a walk). */
export function releaseWalkFds(): void {
	for (const fd of fds.values()) closeSync(fd);
	fds.clear();
}
