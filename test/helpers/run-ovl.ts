import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';

export const ovlBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/ovl.js');

export type OvlRun = {exitCode: number; stdout: string; stderr: string};

/** Runs the built CLI as a user would (tests need `npm run build` first; `npm test` does it). */
export async function runOvl(
	args: readonly string[],
	options: {cwd?: string; env?: Record<string, string>} = {},
): Promise<OvlRun> {
	const r = await execa(process.execPath, [ovlBin, ...args], {
		reject: false,
		cwd: options.cwd ?? process.cwd(),
		env: {NO_COLOR: '1', ...options.env},
		stdin: 'ignore',
	});
	return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)};
}
