import {spawnSync} from 'node:child_process';
import {encodePath, hasRawBytes, printablePath} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import type {Dir} from './beneath.js';
import {native} from './native.js';
import {setXattrSync, XattrError} from './xattr.js';

// Device nodes, FIFOs and xattrs beneath a directory fd. The native helper does them with exact
// bytes (mknodat, lsetxattr on /proc/self/fd/N/name). Without it, mknod(1) and @napi-rs/xattr
// take string paths: UTF-8 names work the same way; other names are refused, never mangled.

const S_IFMT = 0o170000;
const letters: Record<number, string> = {0o020000: 'c', 0o060000: 'b', 0o010000: 'p'};

function needsNative(dir: Dir, name: string, what: string): OvlError {
	return new OvlError(
		'OVL_NEEDS_NATIVE',
		`cannot ${what} ${printablePath(`${dir.shown}/${name}`)}: its name is not UTF-8 and the native helper is not built`,
		"install a C compiler (build-essential, python3) and run npm install again; `ovl doctor` shows the helper's state",
		{exitCode: exitCodes.failure},
	);
}

/** mknodat(dir, name, type | 0, major, minor): mode 0, the caller sets the real one. */
export function makeNode(dir: Dir, name: string, type: number, major: number, minor: number): void {
	const n = native();
	if (n) {
		dir.child(name); // validates: one component
		n.mknodat(dir.fd, encodePath(name), type & S_IFMT, major, minor);
		return;
	}
	if (hasRawBytes(name)) throw needsNative(dir, name, 'create the device node');
	// mknod(1) runs in a child: name our fd through our pid, not its /proc/self.
	const target = `/proc/${process.pid}/fd/${dir.fd}/${name}`;
	const letter = letters[type & S_IFMT] ?? 'c';
	const r = spawnSync('mknod', ['-m', '0', target, letter, ...(letter === 'p' ? [] : [String(major), String(minor)])], {
		encoding: 'utf8',
		stdio: ['ignore', 'ignore', 'pipe'],
	});
	if (r.status !== 0) {
		const err = Object.assign(new Error(`mknod: ${(r.stderr ?? '').trim()}`), {
			code: /Operation not permitted/.test(r.stderr ?? '')
				? 'EPERM'
				: /File exists/.test(r.stderr ?? '')
					? 'EEXIST'
					: /No space/.test(r.stderr ?? '')
						? 'ENOSPC'
						: 'EIO',
			syscall: 'mknod',
		});
		throw err;
	}
}

/** Sets an xattr on `name` in `dir` ('.' for the dir itself), never following a link. */
export function setXattrIn(dir: Dir, name: string, key: string, value: Buffer): void {
	try {
		setXattrSync(name === '.' ? dir.self() : dir.child(name), key, value);
	} catch (error) {
		if (error instanceof XattrError && error.code === 'ENEEDSNATIVE') throw needsNative(dir, name, 'set an xattr on');
		throw error;
	}
}
