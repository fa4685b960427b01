import {createRequire} from 'node:module';
import {native} from './native.js';

type NapiXattr = typeof import('@napi-rs/xattr');
let napiXattr: NapiXattr | undefined;
/** @napi-rs/xattr, loaded only when the native helper is not (a CJS module and a .node file on every start otherwise). */
const napi = (): NapiXattr => (napiXattr ??= createRequire(import.meta.url)('@napi-rs/xattr') as NapiXattr);

// The only xattr port. Every call acts on a symlink itself, never its target (l*xattr), takes a
// path as exact bytes (a Buffer) or a string, and fails with an XattrError carrying an errno
// name. "Absent" (ENODATA, and a filesystem without xattrs or a vanished file) is not an error:
// list gives [], get gives undefined. Anything else (EIO, EACCES, …) is thrown, so a failed read
// is never mistaken for "not opaque". The native helper (native/ovl.c) is used when built: it
// takes any bytes; @napi-rs/xattr, the fallback, takes UTF-8 strings only.

export class XattrError extends Error {
	readonly code: string;
	readonly syscall: string;
	constructor(syscall: string, code: string, detail = '') {
		super(`${syscall}${detail ? ` ${detail}` : ''}: ${code}`);
		this.code = code;
		this.syscall = syscall;
	}
}

const errnoNames: Readonly<Record<number, string>> = {
	1: 'EPERM',
	2: 'ENOENT',
	5: 'EIO',
	7: 'E2BIG',
	13: 'EACCES',
	17: 'EEXIST',
	20: 'ENOTDIR',
	28: 'ENOSPC',
	30: 'EROFS',
	34: 'ERANGE',
	36: 'ENAMETOOLONG',
	40: 'ELOOP',
	61: 'ENODATA',
	95: 'ENOTSUP',
};

/** The errno name of a failed call, from either library: the helper sets `code`, @napi-rs says "(os error N)". */
export function xattrErrno(error: unknown): string {
	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code === 'EOPNOTSUPP' ? 'ENOTSUP' : code;
	const m = /os error (\d+)/.exec(error instanceof Error ? error.message : String(error));
	return m ? (errnoNames[Number(m[1])] ?? `errno ${m[1]}`) : 'EUNKNOWN';
}

const noXattrs = new Set(['ENOTSUP', 'ENOENT']);
const absent = new Set(['ENODATA', 'ENOTSUP', 'ENOENT']);

/** @napi-rs/xattr takes UTF-8 strings only: a name that is not UTF-8 needs the native helper. */
function utf8(target: string | Buffer, syscall: string): string {
	if (typeof target === 'string') return target;
	const s = target.toString('utf8');
	if (!Buffer.from(s, 'utf8').equals(target)) throw new XattrError(syscall, 'ENEEDSNATIVE');
	return s;
}

function bytes(target: string | Buffer): Buffer {
	return typeof target === 'string' ? Buffer.from(target) : target;
}

/** llistxattr: every name, [] when the filesystem has none or the file vanished. */
export function listXattrsSync(target: string | Buffer): string[] {
	const n = native();
	try {
		return n ? n.llistxattr(bytes(target)) : napi().listAttributesSync(utf8(target, 'listxattr'));
	} catch (error) {
		if (error instanceof XattrError) throw error;
		const code = xattrErrno(error);
		if (noXattrs.has(code)) return [];
		throw new XattrError('listxattr', code);
	}
}

/** lgetxattr: the value, or undefined when absent. */
export function getXattrSync(target: string | Buffer, name: string): Buffer | undefined {
	const n = native();
	try {
		return (
			(n ? n.lgetxattr(bytes(target), name) : napi().getAttributeSync(utf8(target, 'getxattr'), name)) ?? undefined
		);
	} catch (error) {
		if (error instanceof XattrError) throw error;
		const code = xattrErrno(error);
		if (absent.has(code)) return undefined;
		throw new XattrError('getxattr', code, name);
	}
}

/** lsetxattr (create or replace). */
export function setXattrSync(target: string | Buffer, name: string, value: Buffer | string): void {
	const n = native();
	const v = typeof value === 'string' ? Buffer.from(value) : value;
	try {
		if (n) n.lsetxattr(bytes(target), name, v, 0);
		else napi().setAttributeSync(utf8(target, 'setxattr'), name, v);
	} catch (error) {
		if (error instanceof XattrError) throw error;
		throw new XattrError('setxattr', xattrErrno(error), name);
	}
}

/** lremovexattr; already absent is not an error. */
export function removeXattrSync(target: string | Buffer, name: string): void {
	const n = native();
	try {
		if (n) n.lremovexattr(bytes(target), name);
		else napi().removeAttributeSync(utf8(target, 'removexattr'), name);
	} catch (error) {
		if (error instanceof XattrError) throw error;
		const code = xattrErrno(error);
		if (code !== 'ENODATA') throw new XattrError('removexattr', code, name);
	}
}

// The async forms run on libuv's pool when the fallback is in use; the helper's calls are one
// syscall each and run inline.

export async function listXattrs(target: string | Buffer): Promise<string[]> {
	if (native() || typeof target !== 'string') return listXattrsSync(target);
	try {
		return await napi().listAttributes(target);
	} catch (error) {
		const code = xattrErrno(error);
		if (noXattrs.has(code)) return [];
		throw new XattrError('listxattr', code);
	}
}

export async function readXattr(target: string | Buffer, name: string): Promise<Buffer | undefined> {
	if (native() || typeof target !== 'string') return getXattrSync(target, name);
	try {
		return (await napi().getAttribute(target, name)) ?? undefined;
	} catch (error) {
		const code = xattrErrno(error);
		if (absent.has(code)) return undefined;
		throw new XattrError('getxattr', code, name);
	}
}

/** Tries to set an xattr; returns the errno name on failure (doctor's probes ask "may I?"). */
export async function trySetXattr(target: string | Buffer, name: string, value: string): Promise<string | undefined> {
	try {
		setXattrSync(target, name, value);
		return undefined;
	} catch (error) {
		return xattrErrno(error);
	}
}
