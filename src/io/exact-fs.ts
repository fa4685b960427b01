import {readdir, realpath} from 'node:fs/promises';
import {decodePath, fsPath} from '../core/bytes.js';

// node:fs calls whose results are paths, with exact bytes in and out (see core/bytes.ts).

export async function realpathExact(p: string): Promise<string> {
	return decodePath(await realpath(fsPath(p), {encoding: 'buffer'}));
}

export async function readdirExact(p: string): Promise<string[]> {
	return (await readdir(fsPath(p), {encoding: 'buffer'})).map(decodePath);
}
