import {getAttribute, listAttributes, setAttribute} from '@napi-rs/xattr';

// The only xattr port. @napi-rs/xattr acts on a symlink itself, never its target (l*xattr).
// Its errors are GenericFailure with "(os error N)"; map N to an errno name here, once.
const errnoNames: Readonly<Record<number, string>> = {
	1: 'EPERM',
	2: 'ENOENT',
	13: 'EACCES',
	61: 'ENODATA',
	95: 'ENOTSUP',
	34: 'ERANGE',
	7: 'E2BIG',
};

export function xattrErrno(error: unknown): string {
	const m = /os error (\d+)/.exec(error instanceof Error ? error.message : String(error));
	return m ? (errnoNames[Number(m[1])] ?? `errno ${m[1]}`) : 'EUNKNOWN';
}

export async function listXattrs(p: string): Promise<string[]> {
	try {
		return await listAttributes(p);
	} catch (error) {
		const code = xattrErrno(error);
		if (code === 'ENOTSUP' || code === 'ENOENT') return [];
		throw error;
	}
}

export async function readXattr(p: string, name: string): Promise<Buffer | undefined> {
	try {
		return (await getAttribute(p, name)) ?? undefined;
	} catch (error) {
		const code = xattrErrno(error);
		if (code === 'ENODATA' || code === 'ENOTSUP' || code === 'ENOENT') return undefined;
		throw error;
	}
}

/** Tries to set an xattr; returns the errno name on failure (used by doctor probes). */
export async function trySetXattr(p: string, name: string, value: string): Promise<string | undefined> {
	try {
		await setAttribute(p, name, value);
		return undefined;
	} catch (error) {
		return xattrErrno(error);
	}
}
