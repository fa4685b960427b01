import {createHash} from 'node:crypto';
import {
	appendFileSync,
	chownSync,
	existsSync,
	linkSync,
	mkdirSync,
	readFileSync,
	readdirSync,
	renameSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {gunzipSync} from 'node:zlib';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {TarReader} from '../../src/docker/tar-reader.js';
import {mkfifoSync} from '../helpers/fifo.js';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree} from '../helpers/overlay.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {compareTrees} from '../helpers/tree-compare.js';

let dir = '';
const p = (...x: string[]): string => path.join(dir, ...x);
const env = (): Record<string, string> => ({OVL_RUN_DIR: p('run')});
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

/** A stack whose upper says everything a layer cannot say directly: renames, metacopy, opaque dirs. */
async function changedStack(): Promise<void> {
	const prep = await runOvl(
		['prepare', 's', '--lower', 'l1', '--lower', 'l2', '-o', 'redirect_dir=on', '-o', 'metacopy=on', '-o', 'index=on'],
		{cwd: dir},
	);
	expect(prep.exitCode, prep.stderr).toBe(0);
	await makeTree(p('s', 'l1'), {
		'd/sub/f': 'f in l1\n',
		'keep/k': 'k\n',
		'keep/k2': 'k2\n',
		big: 'x'.repeat(200_000),
		'etc/passwd': 'root:x:0:0\n',
		'gone/a': 'a',
	});
	await makeTree(p('s', 'l2'), {'d/g': 'g in l2\n', 'etc/hosts': '127.0.0.1 localhost\n', h: 'h\n'});
	linkSync(p('s', 'l2', 'h'), p('s', 'l2', 'h2'));
	mkfifoSync(p('s', 'l2', 'fifo'));
	await execa('setfattr', ['-n', 'user.origin', '-v', 'lower', p('s', 'l1', 'big')]);
	const m = await runOvl(['mount', 's'], {cwd: dir, env: env()});
	expect(m.exitCode, m.stderr).toBe(0);
	const mp = (...x: string[]): string => p('s', 'merged', ...x);
	renameSync(mp('d'), mp('d2')); // redirect_dir: a renamed dir
	writeFileSync(mp('d2', 'sub', 'added'), 'below a renamed dir\n');
	rmSync(mp('keep'), {recursive: true});
	mkdirSync(mp('keep')); // opaque: the old contents are gone
	writeFileSync(mp('keep', 'n'), 'new\n');
	await execa('chmod', ['4750', mp('big')]); // metacopy: only the inode is copied up
	chownSync(mp('etc', 'passwd'), 1234, 5678);
	await execa('setfattr', ['-n', 'user.note', '-v', 'upper', mp('etc', 'hosts')]);
	rmSync(mp('h2'));
	appendFileSync(mp('h'), 'appended\n'); // a full copy-up
	rmSync(mp('gone'), {recursive: true});
	writeFileSync(mp('new'), 'new file\n');
	linkSync(mp('new'), mp('new-link'));
	symlinkSync('/etc/passwd', mp('abs'));
	symlinkSync('etc/hosts', mp('rel'));
	mkfifoSync(mp('fifo2'));
	await execa('mknod', [mp('null2'), 'c', '1', '3']);
	writeFileSync(Buffer.from(`${mp('raw')}\xff`, 'latin1'), 'a non-UTF-8 name\n');
	const inspect = JSON.parse((await runOvl(['inspect', '--json', mp()], {env: env()})).stdout) as {
		entries: {path: string; kind: string}[];
	};
	const kinds = new Set(inspect.entries.map((e) => e.kind));
	// The upper really holds every kind the export has to translate.
	for (const k of ['redirect-dir', 'opaque-dir', 'metacopy', 'whiteout', 'new', 'copy-up'])
		expect(kinds, k).toContain(k);
}

describeKernel('ovl export (an upper as an OCI layer tarball)', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-export-');
	});
	afterEach(async () => cleanScratch(dir));

	test('lowers + export → ovl prepare --layer-tar → mount shows the same tree as the original overlay', async () => {
		await changedStack();
		const r = await runOvl(['export', p('s', 'merged'), '-o', p('changes.tar'), '--json'], {env: env()});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(JSON.parse(r.stdout)).toMatchObject({
			schema: 'ovl.export/v1',
			renamedDirs: 1,
			metacopies: 3,
			hardlinks: 1,
			skipped: [],
		});
		// What the archive says: OCI whiteouts and opaque markers, no overlay xattrs.
		const names: string[] = [];
		const xattrs: string[] = [];
		const reader = new TarReader((e) => {
			names.push(e.path);
			xattrs.push(...e.xattrs.keys());
			return undefined;
		});
		reader.push(readFileSync(p('changes.tar')));
		expect(names).toEqual(
			expect.arrayContaining([
				'.wh.d',
				'.wh.gone',
				'.wh.h2',
				'keep/.wh..wh..opq',
				'd2/.wh..wh..opq',
				'd2/g',
				'd2/sub/f',
				'd2/sub/added',
				'big',
			]),
		);
		expect(xattrs.filter((x) => x.includes('overlay.'))).toEqual([]);
		expect(xattrs).toEqual(expect.arrayContaining(['user.note', 'user.origin']));
		for (const l of ['l1', 'l2'])
			await execa('tar', ['--xattrs', '--xattrs-include=*', '-C', p('s', l), '-cf', p(`${l}.tar`), '.']);
		const prep = await runOvl(
			['prepare', 'img', '--layer-tar', p('l1.tar'), '--layer-tar', p('l2.tar'), '--layer-tar', p('changes.tar')],
			{cwd: dir},
		);
		expect(prep.exitCode, prep.stderr).toBe(0);
		const m = await runOvl(['mount', 'img'], {cwd: dir, env: env()});
		expect(m.exitCode, m.stderr).toBe(0);
		// Layers carry whole seconds (as docker's do); the root dir is made by prepare.
		expect(
			compareTrees(p('s', 'merged'), p('img', 'merged'), {xattrs: true, ignoreMtime: (rel) => rel === ''}),
		).toEqual([]);
		expect(readFileSync(Buffer.from(`${p('img', 'merged', 'raw')}\xff`, 'latin1'), 'utf8')).toBe('a non-UTF-8 name\n');
		expect(readdirSync(p('img', 'merged')).sort()).toEqual(readdirSync(p('s', 'merged')).sort());
	});

	test('the same upper gives the same bytes: mounted or offline, twice, and gzipped', async () => {
		await changedStack();
		const a = await runOvl(['export', p('s', 'merged'), '-o', p('a.tar')], {env: env()});
		expect(a.exitCode, a.stderr).toBe(0);
		await runOvl(['umount', p('s', 'merged')], {env: env()});
		const offline = ['--upper', p('s', 'upper'), '--lower', p('s', 'l1'), '--lower', p('s', 'l2')];
		const b = await runOvl(['export', ...offline, '-o', p('b.tar')]);
		expect(b.exitCode, b.stderr).toBe(0);
		expect(sha(p('b.tar'))).toBe(sha(p('a.tar')));
		const gz = await runOvl(['export', ...offline, '-o', p('c.tar.gz')]);
		expect(gz.exitCode, gz.stderr).toBe(0);
		expect(gunzipSync(readFileSync(p('c.tar.gz'))).equals(readFileSync(p('a.tar')))).toBe(true);
		const piped = await execa('sh', ['-c', `node "$OVL" export "$@" -o - | tar -tf - | wc -l`, 'sh', ...offline], {
			env: {OVL: path.resolve('bin/ovl.js')},
		});
		expect(Number(piped.stdout.trim())).toBe((await execa('tar', ['-tf', p('a.tar')])).stdout.split('\n').length);
	});

	test('refusals: an archive inside the overlay or a lower, a missing dir, -o without a value; no temp file is left', async () => {
		await changedStack();
		const inside = await runOvl(['export', p('s', 'merged'), '-o', p('s', 'merged', 'x.tar')], {env: env()});
		expect(inside.exitCode).toBe(2);
		expect(inside.stderr).toContain('OVL_EXPORT_INSIDE');
		const lower = await runOvl(['export', p('s', 'merged'), '-o', p('s', 'l1', 'x.tar')], {env: env()});
		expect(lower.stderr).toContain('OVL_EXPORT_INSIDE');
		expect(existsSync(p('s', 'l1', 'x.tar'))).toBe(false);
		const missing = await runOvl(['export', p('s', 'merged'), '-o', p('no', 'such', 'x.tar')], {env: env()});
		expect(missing.exitCode).toBe(2);
		expect(missing.stderr).toContain('OVL_PATH_MISSING');
		const noValue = await runOvl(['export', p('s', 'merged'), '-o', '--json']);
		expect(noValue.exitCode).toBe(2);
		expect(noValue.stderr).toContain('--output=');
		expect(readdirSync(dir).filter((n) => n.includes('.ovl-export-'))).toEqual([]);
	});
});
