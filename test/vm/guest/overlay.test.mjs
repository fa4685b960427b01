// The kernel matrix suite: runs inside a QEMU guest booted on each kernel (see ../kernels.mjs),
// with plain `node --test` and the built ovl. Each test asserts what ovl and this kernel do; where
// a kernel lacks a feature, the test asserts the refusal (ovl's, before mounting), never a skip.
import assert from 'node:assert/strict';
import {execFileSync, spawnSync} from 'node:child_process';
import {lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {test} from 'node:test';

const ovl = process.env.OVL_BIN ?? '/ovl/bin/ovl.js';
const [major, minor] = os.release().split('.').map(Number);
const atLeast = (a, b) => major > a || (major === a && minor >= b);
const run = (args, opts = {}) => spawnSync(process.execPath, [ovl, ...args], {encoding: 'utf8', ...opts});
const scratch = () => mkdtempSync(path.join(process.env.OVL_SCRATCH ?? '/tmp', 'ovl-vm-'));
/** Runs body in a fresh scratch dir; afterwards unmounts everything below it and removes it. */
const inScratch = (body) => {
	const dir = scratch();
	try {
		return body(dir);
	} finally {
		for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
			const mp = line.split(' ')[4];
			if (mp && mp.startsWith(dir)) spawnSync('umount', [mp]);
		}
		rmSync(dir, {recursive: true, force: true});
	}
};

test('seed experiment: shadowed b, rm a leaves a 0/0 whiteout, inspect classifies it', () =>
	inScratch((dir) => {
		let r = run(
			[
				'prepare',
				'demo',
				'--put',
				'lower1/a=docker\\noverlay\\n',
				'--put',
				'lower1/b=x',
				'--put',
				'lower2/b=filesystem\\n',
			],
			{cwd: dir},
		);
		assert.equal(r.status, 0, r.stderr);
		r = run(['mount', 'demo'], {cwd: dir});
		assert.equal(r.status, 0, r.stderr);
		assert.equal(readFileSync(path.join(dir, 'demo/merged/b'), 'utf8'), 'filesystem\n');
		rmSync(path.join(dir, 'demo/merged/a'));
		const st = lstatSync(path.join(dir, 'demo/upper/a'));
		assert.ok(st.isCharacterDevice() && st.rdev === 0);
		const doc = JSON.parse(run(['inspect', path.join(dir, 'demo/merged'), '--json']).stdout);
		assert.deepEqual(
			doc.entries.map((e) => [e.path, e.kind]),
			[['/a', 'whiteout']],
		);
		const ls = JSON.parse(run(['ls', '--json']).stdout);
		assert.ok(
			ls.mounts.some((m) => m.mountPoint === path.join(dir, 'demo/merged') && m.upper === path.join(dir, 'demo/upper')),
		);
		assert.equal(run(['umount', path.join(dir, 'demo/merged')]).status, 0);
	}));

test('rename of a lower dir: EXDEV by default, a redirect with redirect_dir=on', () =>
	inScratch((dir) => {
		for (const d of ['l1/d', 'l2', 'u', 'w', 'm']) mkdirSync(path.join(dir, d), {recursive: true});
		writeFileSync(path.join(dir, 'l1/d/f'), 'x');
		assert.equal(
			run(['mount', '--lower', 'l1', '--lower', 'l2', '--upper', 'u', '--work', 'w', 'm'], {cwd: dir}).status,
			0,
		);
		const py = spawnSync(
			process.execPath,
			[
				'-e',
				`try { require('fs').renameSync(${JSON.stringify(path.join(dir, 'm/d'))}, ${JSON.stringify(path.join(dir, 'm/e'))}); } catch (e) { process.stdout.write(e.code); }`,
			],
			{encoding: 'utf8'},
		);
		assert.equal(py.stdout, 'EXDEV');
		assert.equal(run(['umount', path.join(dir, 'm')]).status, 0);
		rmSync(path.join(dir, 'u'), {recursive: true});
		rmSync(path.join(dir, 'w'), {recursive: true});
		assert.equal(
			run(['mount', '--lower', 'l1', '--lower', 'l2', '--upper', 'u', '--work', 'w', '-o', 'redirect_dir=on', 'm'], {
				cwd: dir,
			}).status,
			0,
		);
		execFileSync(process.execPath, [
			'-e',
			`require('fs').renameSync(${JSON.stringify(path.join(dir, 'm/d'))}, ${JSON.stringify(path.join(dir, 'm/e'))})`,
		]);
		const doc = JSON.parse(run(['inspect', path.join(dir, 'm'), '--json']).stdout);
		assert.deepEqual(doc.entries.find((e) => e.path === '/e')?.redirect, {
			value: 'd',
			absolute: false,
			origin: '/d',
			originLayers: [1],
		});
	}));

// Scratch space in the guest is tmpfs, which has user.* xattrs only from Linux 6.6.
test('userxattr: refused before 5.11, refused on a tmpfs upper before 6.6, else user.overlay.* xattrs', () =>
	inScratch((dir) => {
		for (const d of ['l1/d', 'l2', 'u', 'w', 'm']) mkdirSync(path.join(dir, d), {recursive: true});
		writeFileSync(path.join(dir, 'l1/d/f'), 'x');
		const r = run(['mount', '--lower', 'l1', '--lower', 'l2', '--upper', 'u', '--work', 'w', '-o', 'userxattr', 'm'], {
			cwd: dir,
		});
		if (!atLeast(5, 11)) {
			assert.equal(r.status, 2);
			assert.match(r.stderr, /OVL_KERNEL_TOO_OLD.*userxattr needs Linux 5\.11/s);
			return;
		}
		if (!atLeast(6, 6)) {
			assert.equal(r.status, 2);
			assert.match(r.stderr, /OVL_USERXATTR_TMPFS/);
			return;
		}
		assert.equal(r.status, 0, r.stderr);
		rmSync(path.join(dir, 'm/d'), {recursive: true});
		mkdirSync(path.join(dir, 'm/d'));
		const doc = JSON.parse(run(['inspect', path.join(dir, 'm'), '--json']).stdout);
		assert.equal(doc.mount.xattrNamespace, 'user');
		assert.deepEqual(doc.entries.find((e) => e.path === '/d')?.xattrs, {opaque: 'y'});
	}));

test('data-only lower layers: refused before 6.5, else mount (with metacopy=on where the kernel asks)', () =>
	inScratch((dir) => {
		for (const d of ['top', 'data', 'm']) mkdirSync(path.join(dir, d), {recursive: true});
		writeFileSync(path.join(dir, 'top/f'), 'x');
		let r = run(['mount', '--lowerdir', 'top::data', '--upper', 'u', '--work', 'w', 'm'], {cwd: dir});
		if (!atLeast(6, 5)) {
			assert.equal(r.status, 2);
			assert.match(r.stderr, /OVL_KERNEL_TOO_OLD.*data-only lower layers/s);
			return;
		}
		if (r.status !== 0) {
			// Some kernels (Debian 6.12) insist on metacopy for data-only layers: ovl shows the kernel's reason.
			assert.equal(r.status, 1);
			assert.match(r.stderr, /OVL_DATA_ONLY_NEEDS_METACOPY.*lower data-only dirs require metacopy support/s);
			r = run(['mount', '--lowerdir', 'top::data', '--upper', 'u', '--work', 'w', '-o', 'metacopy=on', 'm'], {
				cwd: dir,
			});
		}
		assert.equal(r.status, 0, r.stderr);
		assert.deepEqual(readdirSync(path.join(dir, 'm')), ['f']);
	}));

test('the blog experiment, as ovl lab runs it', () => {
	const r = run(['lab', 'run', 'blog', '--json'], {env: {...process.env, TMPDIR: process.env.OVL_SCRATCH ?? '/tmp'}});
	const report = JSON.parse(r.stdout);
	assert.deepEqual(
		report.steps.filter((s) => !s.ok).map((s) => [s.label, s.verdicts]),
		[],
	);
	assert.equal(r.status, 0);
});

test('500 lower layers mount (relative strategy) and 501 are refused', () =>
	inScratch((dir) => {
		// Short names under a long common root: too long as absolute paths, fine relative to the root.
		const lowers = Array.from({length: 501}, (_, i) => `${'a-long-directory-name-'.repeat(3)}x/l${i}`);
		for (const l of lowers) mkdirSync(path.join(dir, l), {recursive: true});
		writeFileSync(path.join(dir, lowers[499], 'top'), '499');
		const args = (n) => ['mount', ...lowers.slice(0, n).flatMap((l) => ['--lower', l]), 'm', '--json'];
		const ok = run(args(500), {cwd: dir});
		assert.equal(ok.status, 0, ok.stderr);
		assert.equal(JSON.parse(ok.stdout).plan.strategy, 'relative');
		assert.equal(readFileSync(path.join(dir, 'm/top'), 'utf8'), '499');
		assert.equal(run(['umount', path.join(dir, 'm')]).status, 0);
		const refused = run(args(501), {cwd: dir});
		assert.equal(refused.status, 2);
	}));

test('volatile: mounts on every kernel (mountinfo says volatile or fsync=volatile); the leftover incompat dir is refused next time', () =>
	inScratch((dir) => {
		for (const d of ['l', 'u', 'w', 'm']) mkdirSync(path.join(dir, d));
		const args = ['mount', '--lower', 'l', '--upper', 'u', '--work', 'w', '-o', 'volatile', 'm'];
		let r = run(args, {cwd: dir});
		assert.equal(r.status, 0, r.stderr);
		const line = readFileSync('/proc/self/mountinfo', 'utf8')
			.split('\n')
			.find((l) => l.split(' ')[4] === path.join(dir, 'm'));
		assert.match(line ?? '', atLeast(6, 12) ? /,fsync=volatile\b/ : /,volatile\b/);
		assert.equal(run(['umount', path.join(dir, 'm')]).status, 0);
		assert.ok(lstatSync(path.join(dir, 'w/work/incompat/volatile')).isDirectory());
		r = run([...args, '--json'], {cwd: dir});
		assert.equal(r.status, 2);
		assert.equal(JSON.parse(r.stdout).error.code, 'OVL_WORK_INCOMPAT');
	}));

test('metacopy=on: chmod copies metadata only (inspect: metacopy), the first write copies the data (copy-up)', () =>
	inScratch((dir) => {
		for (const d of ['l', 'u', 'w', 'm']) mkdirSync(path.join(dir, d));
		writeFileSync(path.join(dir, 'l/f'), 'x'.repeat(65536));
		const r = run(
			['mount', '--lower', 'l', '--upper', 'u', '--work', 'w', '-o', 'metacopy=on', '-o', 'redirect_dir=on', 'm'],
			{cwd: dir},
		);
		assert.equal(r.status, 0, r.stderr);
		const kind = () =>
			JSON.parse(run(['inspect', path.join(dir, 'm'), '--json']).stdout).entries.find((e) => e.path === '/f')?.kind;
		execFileSync('chmod', ['600', path.join(dir, 'm/f')]);
		assert.equal(kind(), 'metacopy');
		assert.ok(lstatSync(path.join(dir, 'u/f')).blocks < 128, 'the upper stub holds no data (at most an xattr block)');
		writeFileSync(path.join(dir, 'm/f'), 'y', {flag: 'a'});
		assert.equal(kind(), 'copy-up');
		assert.equal(readFileSync(path.join(dir, 'l/f'), 'utf8').length, 65536);
	}));
