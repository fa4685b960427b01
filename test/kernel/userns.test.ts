import {lstatSync, readFileSync} from 'node:fs';
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel, kernelAtLeast} from '../helpers/kernel.js';
import {ovlBin} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';
import {hashTree} from '../helpers/tree-hash.js';

let dir = '';

// The rootless path: ovl run as "root" inside a fresh user + mount namespace, as an unprivileged
// user would (the namespace and its mounts vanish with the process: nothing can leak).
describeKernel('ovl mount inside a user namespace', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-userns-');
	});
	afterEach(async () => cleanScratch(dir));

	test('mounts with userxattr; whiteouts and user.overlay.* xattrs land in the upper', async () => {
		for (const l of ['l1', 'l2']) await mkdir(path.join(dir, l));
		await writeFile(path.join(dir, 'l1', 'a'), 'a');
		await mkdir(path.join(dir, 'l1', 'd'));
		await writeFile(path.join(dir, 'l1', 'd', 'x'), 'x');
		const before = await hashTree(path.join(dir, 'l1'));
		const script = [
			`"${process.execPath}" "${ovlBin}" mount --lower l1 --lower l2 --upper u --work w m -o userxattr --json > mount.json`,
			'rm m/a',
			'rm -r m/d && mkdir m/d',
			'grep " $PWD/m " /proc/self/mountinfo',
		].join(' && ');
		const r = await execa('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script], {
			cwd: dir,
			reject: false,
			env: {OVL_RUN_DIR: path.join(dir, 'run')},
		});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(r.stdout).toContain('userxattr');
		// The kernel shows the redirect_dir it forces for userxattr from 6.12 on (Debian 6.1 shows only `userxattr`).
		if (kernelAtLeast(6, 12)) expect(r.stdout).toContain('redirect_dir=nofollow');
		else if (!kernelAtLeast(6, 2)) expect(r.stdout).not.toContain('redirect_dir=');
		const wh = lstatSync(path.join(dir, 'u', 'a'));
		expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
		const {readXattr} = await import('../../src/io/xattr.js');
		expect((await readXattr(path.join(dir, 'u', 'd'), 'user.overlay.opaque'))?.toString()).toBe('y');
		expect(await readXattr(path.join(dir, 'u', 'd'), 'trusted.overlay.opaque')).toBeUndefined();
		expect(JSON.parse(readFileSync(path.join(dir, 'mount.json'), 'utf8')).plan.options).toContain('userxattr');
		expect(await hashTree(path.join(dir, 'l1'))).toBe(before);
		expect(mountsUnder(dir)).toEqual([]);
	});
});
