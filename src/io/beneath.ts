import {
	closeSync,
	constants,
	fstatSync,
	lstatSync,
	mkdirSync,
	openSync,
	readSync,
	readdirSync,
	renameSync,
	rmdirSync,
	unlinkSync,
	writeSync,
	type Stats,
} from 'node:fs';
import {decodePath, encodePath, printablePath} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import type {Code} from '../core/codes.js';

// Writing as root into a tree someone else may control. Every path is resolved one component at
// a time from an open directory fd, never following a symlink: the child of fd N is named
// `/proc/self/fd/N/<name>`, which the kernel looks up inside that very directory (the fd pins
// it; a rename or a swapped-in symlink cannot redirect the lookup), and O_NOFOLLOW refuses a link
// as the last component. Files are created O_EXCL under a temp name, then renamed into place.

const O = constants;
const dirFlags = O.O_RDONLY | O.O_DIRECTORY | O.O_NOFOLLOW;

export class Dir {
	readonly fd: number;
	/** For messages only: what the user would call this directory. */
	readonly shown: string;

	constructor(fd: number, shown: string) {
		this.fd = fd;
		this.shown = shown;
	}

	/** The path that names `name` inside this directory (one component, exact bytes). */
	child(name: string): Buffer {
		checkName(name, this.shown);
		return Buffer.concat([Buffer.from(`/proc/self/fd/${this.fd}/`), encodePath(name)]);
	}

	/** The directory itself, as a path (for calls that take one). */
	self(): Buffer {
		return Buffer.from(`/proc/self/fd/${this.fd}/.`);
	}

	close(): void {
		closeSync(this.fd);
	}
}

function checkName(name: string, where: string): void {
	if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
		throw new OvlError(
			'OVL_PATH_INVALID',
			`"${printablePath(name)}" is not a single file name in ${printablePath(where)}`,
			'name files with plain relative paths (no empty, ".", ".." components)',
			{exitCode: exitCodes.usage},
		);
	}
}

const shownJoin = (dir: string, name: string): string => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

/** Maps an errno from a step of the walk to a coded error naming the path. */
export function walkError(error: unknown, shown: string): OvlError {
	const code = (error as NodeJS.ErrnoException).code;
	const p = printablePath(shown);
	if (code === 'ELOOP')
		return new OvlError(
			'OVL_PATH_SYMLINK',
			`${p} is a symbolic link; ovl never follows links while writing`,
			"replace it with a real directory or file, or name the link's target yourself",
			{exitCode: exitCodes.usage},
		);
	if (code === 'ENOTDIR')
		return new OvlError('OVL_LAYER_NOT_DIR', `${p} exists and is not a directory`, 'remove it or choose another name', {
			exitCode: exitCodes.usage,
		});
	if (code === 'ENOENT')
		return new OvlError('OVL_PATH_MISSING', `${p} does not exist`, 'create it first, or check the path', {
			exitCode: exitCodes.usage,
		});
	return fsError(error, p);
}

/** Any other errno while writing: a coded error, never a stack trace. */
export function fsError(error: unknown, shown: string): OvlError {
	const e = error as NodeJS.ErrnoException;
	const code = e.code ?? 'EIO';
	const p = printablePath(shown);
	const hints: Record<string, [Code, string]> = {
		ENOSPC: ['OVL_NO_SPACE', 'free space (or inodes: df -i) on that filesystem, then run the command again'],
		EDQUOT: ['OVL_NO_SPACE', 'the disk quota is exhausted; free space, then run the command again'],
		EROFS: ['OVL_READ_ONLY_FS', 'that filesystem is mounted read-only; choose a directory on a writable one'],
		EACCES: ['OVL_PERMISSION', 'run as a user who may write there (or as root)'],
		EPERM: ['OVL_PERMISSION', 'the operation is not permitted here (root, or a filesystem that allows it, is needed)'],
		ENAMETOOLONG: ['OVL_NAME_TOO_LONG', 'use shorter names (255 bytes a component)'],
		EISDIR: ['OVL_PATH_IS_DIR', 'a directory is in the way; remove it or choose another name'],
		EEXIST: ['OVL_PATH_EXISTS', 'something else already has that name; remove it or choose another'],
		EMLINK: ['OVL_TOO_MANY_LINKS', 'the directory or file has too many links'],
	};
	const [c, hint] = hints[code] ?? ['OVL_IO_ERROR', 'check the filesystem (dmesg) and run the command again'];
	return new OvlError(c, `${p}: ${code}${e.syscall ? ` (${e.syscall})` : ''}`, hint, {
		exitCode: exitCodes.failure,
		cause: error,
	});
}

/**
 Opens the directory the user named. Its own path is theirs to choose, so links in the middle
 are followed; but a symlink as its last component is refused (`lab -> /etc`): they must name
 the target themselves.
 */
export function openRoot(p: string): Dir {
	try {
		return new Dir(openSync(encodePath(p), dirFlags), p);
	} catch (error) {
		// O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR: tell a link from a file.
		if (
			(error as NodeJS.ErrnoException).code === 'ENOTDIR' &&
			lstatSync(encodePath(p), {throwIfNoEntry: false})?.isSymbolicLink()
		)
			throw walkError(Object.assign(new Error('symlink'), {code: 'ELOOP'}), p);
		throw walkError(error, p);
	}
}

/** Opens the directory `rel` (slash-separated) below `root` without following links; optionally creating what is missing. */
export function openBeneath(
	root: Dir,
	rel: string,
	options: {create?: {mode: number; onCreate?: (shown: string) => void}} = {},
): Dir {
	const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
	let current = new Dir(openSync(`/proc/self/fd/${root.fd}/.`, dirFlags), root.shown);
	try {
		for (const part of parts) {
			const shown = shownJoin(current.shown, part);
			let fd: number | undefined;
			try {
				fd = openSync(current.child(part), dirFlags);
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'ENOTDIR' && statIn(current, part)?.isSymbolicLink())
					throw walkError(Object.assign(new Error('symlink'), {code: 'ELOOP'}), shown);
				if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) throw walkError(error, shown);
				try {
					mkdirSync(current.child(part), {mode: options.create.mode});
					options.create.onCreate?.(shown);
				} catch (mk) {
					if ((mk as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(mk, shown);
				}
				try {
					fd = openSync(current.child(part), dirFlags);
				} catch (again) {
					throw walkError(again, shown);
				}
			}
			current.close();
			current = new Dir(fd, shown);
		}
		return current;
	} catch (error) {
		current.close();
		throw error;
	}
}

/** lstat of a name in a directory (never follows it), or undefined when absent. */
export function statIn(dir: Dir, name: string): Stats | undefined {
	try {
		const fd = openSync(dir.child(name), O.O_RDONLY | O.O_NOFOLLOW | O.O_NONBLOCK | 0o10000000 /* O_PATH */);
		try {
			return fstatSync(fd);
		} finally {
			closeSync(fd);
		}
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') return undefined;
		throw fsError(error, shownJoin(dir.shown, name));
	}
}

/**
 Reads a regular file in `dir` without following a link and without blocking on a FIFO; refuses
 anything else, and files over `maxBytes`. Undefined when it does not exist.
 */
export function readFileIn(dir: Dir, name: string, maxBytes: number): Buffer | undefined {
	const shown = shownJoin(dir.shown, name);
	let fd: number;
	try {
		fd = openSync(dir.child(name), O.O_RDONLY | O.O_NOFOLLOW | O.O_NONBLOCK);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') return undefined;
		if (code === 'ELOOP') throw walkError(error, shown);
		throw fsError(error, shown);
	}
	try {
		const st = fstatSync(fd);
		if (!st.isFile()) throw notRegular(shown, st);
		if (st.size > maxBytes)
			throw new OvlError(
				'OVL_FILE_TOO_LARGE',
				`${printablePath(shown)} is ${st.size} bytes; ovl reads at most ${maxBytes} here`,
				'point ovl at the right file',
				{exitCode: exitCodes.usage},
			);
		return readWhole(fd, st.size);
	} finally {
		closeSync(fd);
	}
}

/** Reads `size` bytes from the start (fewer if the file shrank meanwhile). */
function readWhole(fd: number, size: number): Buffer {
	const buf = Buffer.alloc(size);
	let off = 0;
	while (off < buf.length) {
		const n = readSync(fd, buf, off, buf.length - off, off);
		if (n === 0) break;
		off += n;
	}
	return buf.subarray(0, off);
}

function notRegular(shown: string, st: Stats): OvlError {
	const what = st.isDirectory()
		? 'a directory'
		: st.isFIFO()
			? 'a FIFO'
			: st.isSocket()
				? 'a socket'
				: st.isCharacterDevice() || st.isBlockDevice()
					? 'a device'
					: 'not a regular file';
	return new OvlError(
		'OVL_NOT_REGULAR_FILE',
		`${printablePath(shown)} is ${what}, not a regular file`,
		'remove it or choose another name',
		{
			exitCode: exitCodes.usage,
		},
	);
}

/**
 Writes `name` in `dir` whole or not at all: a new file is created O_CREAT|O_EXCL|O_NOFOLLOW
 under a temp name, written, then renamed over the old one. An existing target must be a
 regular file with one link: a hard link to a file elsewhere is refused, not written through.
 Returns false when the file already holds exactly these bytes.
 */
export function writeFileIn(dir: Dir, name: string, contents: Buffer | string, mode = 0o644): boolean {
	const shown = shownJoin(dir.shown, name);
	const data = typeof contents === 'string' ? Buffer.from(contents, 'utf8') : contents;
	const st = statIn(dir, name);
	if (st) {
		if (st.isSymbolicLink())
			throw new OvlError(
				'OVL_PATH_SYMLINK',
				`${printablePath(shown)} is a symbolic link; ovl will not write through it`,
				'remove the link, or choose another name',
				{exitCode: exitCodes.usage},
			);
		if (!st.isFile()) throw notRegular(shown, st);
		if (st.nlink > 1)
			throw new OvlError(
				'OVL_PATH_HARDLINKED',
				`${printablePath(shown)} has ${st.nlink} hard links; writing it would change the other names too`,
				'remove it (or break the link with cp) first',
				{exitCode: exitCodes.usage},
			);
		const old = st.size === data.length ? readFileIn(dir, name, data.length) : undefined;
		if (old?.equals(data)) return false;
	}
	const tmp = `.${name.slice(0, 200)}.ovl-${randomHex(6)}`;
	let fd: number;
	try {
		fd = openSync(dir.child(tmp), O.O_WRONLY | O.O_CREAT | O.O_EXCL | O.O_NOFOLLOW, mode);
	} catch (error) {
		throw fsError(error, shown);
	}
	try {
		try {
			let off = 0;
			while (off < data.length) off += writeSync(fd, data, off, data.length - off);
		} finally {
			closeSync(fd);
		}
		renameSync(dir.child(tmp), dir.child(name));
	} catch (error) {
		try {
			unlinkSync(dir.child(tmp));
		} catch {
			// already gone
		}
		throw fsError(error, shown);
	}
	return true;
}

/** Removes a file or an empty directory that ovl created, resolved beneath `root` again (never through a link). */
export function removeBeneath(root: Dir, rel: string): void {
	const parts = rel.split('/').filter(Boolean);
	const name = parts.pop();
	if (name === undefined) return;
	let parent: Dir;
	try {
		parent = openBeneath(root, parts.join('/'));
	} catch {
		return; // its parent is gone or no longer a plain dir: nothing of ours to remove there
	}
	try {
		const st = statIn(parent, name);
		if (!st) return;
		if (st.isDirectory()) rmdirSync(parent.child(name));
		else unlinkSync(parent.child(name));
	} catch {
		// not empty any more, or already gone: leave it
	} finally {
		parent.close();
	}
}

/**
 Reads a file the user named (links in its path are theirs to choose), refusing a FIFO, device
 or directory instead of blocking on it, and anything over `maxBytes`.
 */
export function readUserFile(p: string, maxBytes: number, what: string): Buffer {
	const {fd, size} = openUserFile(p, what);
	try {
		if (size > maxBytes)
			throw new OvlError(
				'OVL_FILE_TOO_LARGE',
				`${what} ${printablePath(p)} is ${size} bytes; ovl reads at most ${maxBytes}`,
				'point ovl at the right file',
				{
					exitCode: exitCodes.usage,
				},
			);
		return readWhole(fd, size);
	} catch (error) {
		if (error instanceof OvlError) throw error;
		throw fsError(error, p);
	} finally {
		closeSync(fd);
	}
}

/** Opens a regular file the user named for reading (tarballs): a FIFO or device is refused, not read forever. */
export function openUserFile(p: string, what: string): {fd: number; size: number} {
	let fd: number;
	try {
		fd = openSync(encodePath(p), O.O_RDONLY | O.O_NONBLOCK);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT')
			throw new OvlError('OVL_FILE_MISSING', `${what} ${printablePath(p)} does not exist`, 'check the path', {
				exitCode: exitCodes.usage,
			});
		throw fsError(error, p);
	}
	const st = fstatSync(fd);
	if (!st.isFile()) {
		closeSync(fd);
		throw notRegular(p, st);
	}
	return {fd, size: st.size};
}

/** Names in a directory, as exact-byte strings. */
export function listDir(dir: Dir): string[] {
	return (readdirSync(`/proc/self/fd/${dir.fd}/.`, {encoding: 'buffer'}) as Buffer[]).map(decodePath);
}

/** rm -rf of `name` in `dir` without ever following a link: each level is opened from its parent's fd. */
export function removeTreeIn(dir: Dir, name: string): void {
	const st = statIn(dir, name);
	if (!st) return;
	if (st.isDirectory()) {
		const sub = new Dir(openSync(dir.child(name), dirFlags), shownJoin(dir.shown, name));
		try {
			for (const n of listDir(sub)) removeTreeIn(sub, n);
		} finally {
			sub.close();
		}
		rmdirSync(dir.child(name));
	} else unlinkSync(dir.child(name));
}

/**
 Unpredictable bytes as hex, from /dev/urandom: this module is on every mount's path (reading the
 stack file), and loading node:crypto for six bytes would cost ~6 ms of it.
 */
export function randomHex(bytes: number): string {
	const b = Buffer.alloc(bytes);
	try {
		const fd = openSync('/dev/urandom', O.O_RDONLY);
		try {
			readSync(fd, b, 0, bytes, null);
		} finally {
			closeSync(fd);
		}
	} catch {
		// No /dev here (a bare chroot): the name need only be unlikely, the open is O_EXCL anyway.
		for (let i = 0; i < bytes; i++) b[i] = Math.floor(Math.random() * 256);
	}
	return b.toString('hex');
}
