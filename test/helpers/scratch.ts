import {mkdtemp} from 'node:fs/promises';
import fse from 'fs-extra';
import {readFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {parseMountinfo} from '../../src/core/mountinfo.js';

/** Mount points (from our mountinfo) at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
	const entries = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
	return entries
		.map((e) => e.mountPoint)
		.filter((m) => m === dir || m.startsWith(`${dir}/`))
		.reverse();
}

/** Unmounts everything below dir (lazily if it must), then removes it. Safe to call twice. */
export async function cleanScratch(dir: string): Promise<void> {
	for (let round = 0; round < 5; round++) {
		const mounts = mountsUnder(dir);
		if (mounts.length === 0) break;
		for (const m of mounts) {
			const r = await execa('umount', [m], {reject: false});
			if (r.exitCode !== 0) await execa('umount', ['-l', m], {reject: false});
		}
	}
	if (mountsUnder(dir).length > 0) throw new Error(`could not unmount below ${dir}; not deleting it`);
	await fse.remove(dir);
}

export async function makeScratch(prefix = 'ovl-test-'): Promise<string> {
	return mkdtemp(path.join(os.tmpdir(), prefix));
}
