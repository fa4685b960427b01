import {constants, realpathSync, statSync} from 'node:fs';
import {readdir} from 'node:fs/promises';
import {decodePath, encodePath, fsPath} from '../core/bytes.js';
import {native} from './native.js';

// node:fs calls whose results are paths, with exact bytes in and out (see core/bytes.ts).

/**
 realpath(3), called synchronously: the same syscalls as the promise form, without a thread-pool
 round trip each (a 500-layer mount canonicalizes and probes 1,000 paths: ~8 ms against ~30–55).
 */
export async function realpathExact(p: string): Promise<string> {
	return realpathNow(p);
}

function realpathNow(p: string): string {
	// As a string it is one copy less; only bytes that are not UTF-8 come back as U+FFFD, and
	// then (or for a real U+FFFD) the exact bytes are asked for.
	const text = realpathSync.native(fsPath(p));
	if (!text.includes('\ufffd')) return text;
	return decodePath(realpathSync.native(fsPath(p), {encoding: 'buffer'}));
}

export async function readdirExact(p: string): Promise<string[]> {
	return (await readdir(fsPath(p), {encoding: 'buffer'})).map(decodePath);
}

/** A path resolved: its canonical form and whether that is a directory, or why it could not be. */
export type Resolved = {readonly real: string; readonly isDirectory: boolean} | {readonly code: string};

/**
 realpath(3) and stat(2) of many paths (a mount's layers): one native call for all of them, or
 node:fs per path without the helper. Symlinks are followed, as the kernel follows a layer path.
 */
export function resolvePaths(paths: readonly string[]): Resolved[] {
	const api = native();
	if (!api) return paths.map(resolveOne);
	return api
		.realpaths(paths.map(encodePath))
		.map((r) =>
			'code' in r ? r : {real: decodePath(r.real), isDirectory: (r.mode & constants.S_IFMT) === constants.S_IFDIR},
		);
}

function resolveOne(p: string): Resolved {
	try {
		const real = realpathNow(p);
		return {real, isDirectory: statSync(fsPath(real)).isDirectory()};
	} catch (error) {
		return {code: (error as NodeJS.ErrnoException).code ?? 'EIO'};
	}
}
