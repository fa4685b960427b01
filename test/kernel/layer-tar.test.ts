import {
	existsSync,
	lstatSync,
	mkdirSync,
	readFileSync,
	readdirSync,
	readlinkSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import {gzipSync} from 'node:zlib';
import {craftTar} from '../helpers/tar-craft.js';
import {mkfifoSync} from '../helpers/fifo.js';
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
		await makeTree(p('src1'), {
			'etc/os-release': 'ID=debian\n',
			'etc/motd': 'hello\n',
			'var/cache/a': '1',
			'var/cache/b': '2',
		});
		await makeTree(p('src2'), {
			'etc/.wh.os-release': '',
			'var/cache/.wh..wh..opq': '',
			'var/cache/fresh': 'new',
			'app/main.py': 'print(1)\n',
		});
		const base = await tarOf(p('src1'), p('base.tar'));
		await execa('sh', ['-c', `tar -C ${p('src2')} -czf ${p('app.tar.gz')} .`]);
		const r = await runOvl(['prepare', 'img', '--layer-tar', base, '--layer-tar', p('app.tar.gz'), '--json'], {
			cwd: dir,
		});
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
		[
			'a ../ entry',
			async () => {
				await makeTree(p('s'), {x: 'x'});
				await execa('tar', ['-P', '-C', p('s'), '--transform', 's,^x,../escape,', '-cf', p('bad.tar'), 'x']);
			},
			/climbs out/,
		],
		[
			'an absolute entry',
			async () => {
				await makeTree(p('s'), {x: 'x'});
				await execa('tar', ['-P', '-C', p('s'), '--transform', `s,^x,${p('abs-escape')},`, '-cf', p('bad.tar'), 'x']);
			},
			/absolute path/,
		],
		[
			'a symlink pointing out',
			async () => {
				mkdirSync(p('s', 'd'), {recursive: true});
				symlinkSync('../../../etc', p('s', 'd', 'link'));
				await execa('tar', ['-C', p('s'), '-cf', p('bad.tar'), '.']);
			},
			/points out of the layer/,
		],
		[
			'an invalid whiteout name',
			async () => {
				await makeTree(p('s'), {'.wh.': ''});
				await execa('tar', ['-C', p('s'), '-cf', p('bad.tar'), '.']);
			},
			/not a valid whiteout name/,
		],
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

	test.each([
		['native helper', {}],
		['pure-JS fallback', {OVL_NATIVE: '0'}],
	] as [string, Record<string, string>][])(
		'docker save layers (%s): hard-linked whiteouts, fifo, device, absolute symlink, exact modes, xattrs',
		async (_name, env) => {
			mkdirSync(p('s', 'etc'), {recursive: true});
			mkdirSync(p('s', 'tmp'), {recursive: true});
			mkdirSync(p('s', 'srv'), {recursive: true});
			writeFileSync(p('s', 'etc', '.wh.a'), '');
			await execa('ln', [p('s', 'etc', '.wh.a'), p('s', 'etc', '.wh.b')]);
			await execa('mkfifo', [p('s', 'fifo')]);
			await execa('mknod', [p('s', 'null'), 'c', '1', '3']);
			symlinkSync('/usr/bin/busybox', p('s', 'sh'));
			writeFileSync(p('s', 'open'), 'x');
			await execa('chmod', ['0666', p('s', 'open')]);
			await execa('chmod', ['1777', p('s', 'tmp')]);
			await execa('chmod', ['2775', p('s', 'srv')]);
			await execa('chown', ['1234:5678', p('s', 'open')]);
			await execa('setfattr', ['-n', 'user.note', '-v', 'kept', p('s', 'open')]);
			await execa('tar', [
				'--format=posix',
				'--xattrs',
				'--xattrs-include=*',
				'-C',
				p('s'),
				'-cf',
				p('docker.tar'),
				'.',
			]);
			const r = await runOvl(['prepare', 'img', '--layer-tar', p('docker.tar'), '--json'], {cwd: dir, env});
			expect(r.exitCode, r.stderr).toBe(0);
			const L = (...x: string[]): string => p('img', 'layer1', ...x);
			for (const w of ['a', 'b']) {
				const st = lstatSync(L('etc', w));
				expect(st.isCharacterDevice() && st.rdev === 0, w).toBe(true);
			}
			expect(lstatSync(L('fifo')).isFIFO()).toBe(true);
			expect(lstatSync(L('null')).rdev).toBe(lstatSync('/dev/null').rdev);
			expect(readlinkSync(L('sh'))).toBe('/usr/bin/busybox');
			expect(lstatSync(L('open')).mode & 0o7777).toBe(0o666);
			expect([lstatSync(L('open')).uid, lstatSync(L('open')).gid]).toEqual([1234, 5678]);
			expect(lstatSync(L('tmp')).mode & 0o7777).toBe(0o1777);
			expect(lstatSync(L('srv')).mode & 0o7777).toBe(0o2775);
			expect((await readXattr(L('open'), 'user.note'))?.toString()).toBe('kept');
			expect(readdirSync(p('img')).filter((n) => n.startsWith('.ovl-import-'))).toEqual([]);
			// Re-running is idempotent: the layer is recognised as this archive's.
			const again = await runOvl(['prepare', 'img', '--layer-tar', p('docker.tar'), '--json'], {cwd: dir});
			expect(again.exitCode, again.stderr).toBe(0);
			expect(JSON.parse(again.stdout).imported[0].skipped).toMatch(/already imported/);
		},
	);

	const crafted: [string, () => Buffer | string, RegExp][] = [
		[
			'random bytes',
			() => Buffer.from(Array.from({length: 4096}, (_, i) => (i * 7919 + 13) % 251)),
			/not a tar archive/,
		],
		['an empty file', () => Buffer.alloc(0), /empty/],
		['a tar cut at 512 bytes', () => craftTar([{name: 'f', data: 'x'.repeat(600)}]).subarray(0, 512), /truncated/],
		['a tar cut at 700 bytes', () => craftTar([{name: 'f', data: 'x'.repeat(600)}]).subarray(0, 700), /truncated/],
		['a tar without its end marker', () => craftTar([{name: 'f', data: 'x'}], {end: false}), /truncated/],
		[
			'a huge size in a header',
			() => craftTar([{name: 'f', sizeField: Buffer.from('77777777777\0', 'latin1')}]),
			/truncated/,
		],
		[
			'a negative base-256 size',
			() => craftTar([{name: 'f', sizeField: Buffer.from([0xff, ...Array(11).fill(0xff)])}]),
			/negative size/,
		],
		[
			'a bad checksum',
			() => {
				const t = craftTar([
					{name: 'a', data: 'x'},
					{name: 'b', data: 'y'},
				]);
				t[1024] = 0x41;
				return t;
			},
			/bad checksum/,
		],
		['a 300-byte name component', () => craftTar([{name: 'x', pax: {path: 'n'.repeat(300)}, data: 'x'}]), /300 bytes/],
		[
			'a file written through an earlier symlink',
			() =>
				craftTar([
					{name: 'link', type: '2', linkname: '/etc'},
					{name: 'link/passwd', data: 'pwned'},
				]),
			/lies below link, which is a symlink/,
		],
		[
			'a truncated gzip',
			() => gzipSync(craftTar([{name: 'f', data: 'x'.repeat(5000)}])).subarray(0, 60),
			/gzip stream is truncated/,
		],
		[
			'a hard link to a later entry',
			() =>
				craftTar([
					{name: 'l', type: '1', linkname: 'f'},
					{name: 'f', data: 'x'},
				]),
			/not an earlier file/,
		],
		['a sparse entry', () => craftTar([{name: 's', type: 'S', data: 'x'}]), /unsupported entry type/],
	];
	test.each(crafted)('refuses %s with a coded error and writes nothing', async (_name, make, message) => {
		writeFileSync(p('bad.tar'), make());
		const r = await runOvl(['prepare', 'img', '--layer-tar', p('bad.tar')], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toMatch(/OVL_TAR_(INVALID|UNSAFE|UNSUPPORTED)/);
		expect(r.stderr).toMatch(message);
		expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
		expect(existsSync(p('img'))).toBe(false);
	});

	test.each([
		['a missing file', () => p('nope.tar'), /OVL_FILE_MISSING/],
		['a directory', () => dir, /OVL_NOT_REGULAR_FILE.*a directory/],
		['/dev/zero', () => '/dev/zero', /OVL_NOT_REGULAR_FILE.*a device/],
		[
			'a FIFO',
			() => {
				mkfifoSync(p('pipe.tar'));
				return p('pipe.tar');
			},
			/OVL_NOT_REGULAR_FILE.*a FIFO/,
		],
	])('refuses %s as a tarball without blocking', async (_name, where, message) => {
		const r = await runOvl(['prepare', 'img', '--layer-tar', where()], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toMatch(message);
	});

	test('a decompression bomb is refused', async () => {
		writeFileSync(p('bomb.tar.gz'), gzipSync(craftTar([{name: 'zeros', data: Buffer.alloc(200 << 20)}]), {level: 9}));
		const r = await runOvl(['prepare', 'img', '--layer-tar', p('bomb.tar.gz')], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toMatch(/OVL_TAR_INVALID.*decompression bomb/);
	});

	test('non-UTF-8 names come through byte for byte', async () => {
		const name = Buffer.from([0x66, 0xff, 0x2e, 0x74]);
		writeFileSync(p('odd.tar'), craftTar([{name, data: 'bytes'}]));
		const r = await runOvl(['prepare', 'img', '--layer-tar', p('odd.tar')], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(0);
		const names = readdirSync(p('img', 'layer1'), {encoding: 'buffer'});
		expect(names.map((n) => n.toString('hex'))).toEqual([name.toString('hex')]);
	});

	test('a name given twice: the last entry wins, as engines extract', async () => {
		writeFileSync(
			p('dup.tar'),
			craftTar([
				{name: 'f', data: 'one'},
				{name: 'f', data: 'two'},
				{name: 'd', type: '5', mode: 0o755},
				{name: 'd/x', data: 'x'},
				{name: 'd', type: '5', mode: 0o700},
				{name: 'a', data: 'a file first'},
				{name: 'a', type: '5', mode: 0o755},
				{name: 'a/b', data: 'b'},
			]),
		);
		const r = await runOvl(['prepare', 'img', '--layer-tar', p('dup.tar')], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(readFileSync(p('img', 'layer1', 'f'), 'utf8')).toBe('two');
		expect(lstatSync(p('img', 'layer1', 'd')).mode & 0o7777).toBe(0o700);
		expect(readFileSync(p('img', 'layer1', 'd', 'x'), 'utf8')).toBe('x');
		expect(readFileSync(p('img', 'layer1', 'a', 'b'), 'utf8')).toBe('b');
	});
});
