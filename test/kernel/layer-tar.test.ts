import {existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {readXattr} from '../../src/io/xattr.js';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree} from '../helpers/overlay.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';

let dir = '';
const p = (...x: string[]): string => path.join(dir, ...x);
const tarOf = async (src: string, out: string, extra: string[] = []): Promise<string> => {
	await execa('tar', ['-C', src, ...extra, '-cf', out, '.']);
	return out;
};

describeKernel('ovl prepare --layer-tar (OCI whiteouts to kernel whiteouts)', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-tar-');
	});
	afterEach(async () => cleanScratch(dir));

	test('two layers: .wh. files become 0/0 devices, .wh..wh..opq an opaque dir; the mount shows the image', async () => {
		await makeTree(p('src1'), {'etc/os-release': 'ID=debian\n', 'etc/motd': 'hello\n', 'var/cache/a': '1', 'var/cache/b': '2'});
		await makeTree(p('src2'), {'etc/.wh.os-release': '', 'var/cache/.wh..wh..opq': '', 'var/cache/fresh': 'new', 'app/main.py': 'print(1)\n'});
		const base = await tarOf(p('src1'), p('base.tar'));
		await execa('sh', ['-c', `tar -C ${p('src2')} -czf ${p('app.tar.gz')} .`]);
		const r = await runOvl(['prepare', 'img', '--layer-tar', base, '--layer-tar', p('app.tar.gz'), '--json'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(JSON.parse(r.stdout).imported).toEqual([
			{file: base, layer: 'layer1', entries: expect.any(Number), whiteouts: 0, opaques: 0},
			{file: p('app.tar.gz'), layer: 'layer2', entries: expect.any(Number), whiteouts: 1, opaques: 1},
		]);
		const wh = lstatSync(p('img', 'layer2', 'etc', 'os-release'));
		expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
		expect(existsSync(p('img', 'layer2', 'etc', '.wh.os-release'))).toBe(false);
		expect((await readXattr(p('img', 'layer2', 'var', 'cache'), 'trusted.overlay.opaque'))?.toString()).toBe('y');
		const m = await runOvl(['mount', 'img'], {cwd: dir, env: {OVL_RUN_DIR: p('run')}});
		expect(m.exitCode, m.stderr).toBe(0);
		expect(readdirSync(p('img', 'merged', 'etc'))).toEqual(['motd']);
		expect(readdirSync(p('img', 'merged', 'var', 'cache'))).toEqual(['fresh']);
		expect(readFileSync(p('img', 'merged', 'app', 'main.py'), 'utf8')).toBe('print(1)\n');
	});

	test.each([
		['a ../ entry', async () => {
			await makeTree(p('s'), {x: 'x'});
			await execa('tar', ['-P', '-C', p('s'), '--transform', 's,^x,../escape,', '-cf', p('bad.tar'), 'x']);
		}, /climbs out/],
		['an absolute entry', async () => {
			await makeTree(p('s'), {x: 'x'});
			await execa('tar', ['-P', '-C', p('s'), '--transform', `s,^x,${p('abs-escape')},`, '-cf', p('bad.tar'), 'x']);
		}, /absolute path/],
		['a symlink pointing out', async () => {
			mkdirSync(p('s', 'd'), {recursive: true});
			symlinkSync('../../../etc', p('s', 'd', 'link'));
			await execa('tar', ['-C', p('s'), '-cf', p('bad.tar'), '.']);
		}, /points out of the layer/],
		['an invalid whiteout name', async () => {
			await makeTree(p('s'), {'.wh.': ''});
			await execa('tar', ['-C', p('s'), '-cf', p('bad.tar'), '.']);
		}, /not a valid whiteout name/],
	])('refuses %s and writes nothing', async (_name, make, message) => {
		await makeTree(p('good'), {ok: 'fine'});
		const good = await tarOf(p('good'), p('good.tar'));
		await make();
		const r = await runOvl(['prepare', 'img', '--layer-tar', good, '--layer-tar', p('bad.tar')], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_TAR_UNSAFE');
		expect(r.stderr).toMatch(message);
		expect(existsSync(p('img', 'layer1', 'ok'))).toBe(false);
		expect(existsSync(p('escape')) || existsSync(p('abs-escape'))).toBe(false);
	});

	test('userxattr stacks get user.overlay.opaque', async () => {
		await makeTree(p('s'), {'d/.wh..wh..opq': '', 'd/f': 'x'});
		const t = await tarOf(p('s'), p('l.tar'));
		writeFileSync(p('dummy'), '');
		const r = await runOvl(['prepare', 'img', '--layer-tar', t, '-o', 'userxattr'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(0);
		expect((await readXattr(p('img', 'layer1', 'd'), 'user.overlay.opaque'))?.toString()).toBe('y');
		expect(await readXattr(p('img', 'layer1', 'd'), 'trusted.overlay.opaque')).toBeUndefined();
	});
});
