import {realpathSync} from 'node:fs';
import {readdir} from 'node:fs/promises';
import {decodePath, fsPath} from '../core/bytes.js';

// node:fs calls whose results are paths, with exact bytes in and out (see core/bytes.ts).

/**
 realpath(3), called synchronously: the same syscalls as the promise form, without a thread-pool
 round trip each (a 500-layer mount canonicalizes and probes 1,000 paths: ~8 ms against ~30–55).
 */
export async function realpathExact(p: string): Promise<string> {
	// As a string it is one copy less; only bytes that are not UTF-8 come back as U+FFFD, and
	// then (or for a real U+FFFD) the exact bytes are asked for.
	const text = realpathSync.native(fsPath(p));
	if (!text.includes('\ufffd')) return text;
	return decodePath(realpathSync.native(fsPath(p), {encoding: 'buffer'}));
}

export async function readdirExact(p: string): Promise<string[]> {
	return (await readdir(fsPath(p), {encoding: 'buffer'})).map(decodePath);
}
