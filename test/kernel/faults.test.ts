import {mkdirSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';

// Faults of the machine and hostile stack files: a coded message and a clean state, never a trace.

let dir = '';
const p = (...x: string[]): string => path.join(dir, ...x);

describeKernel('faults and hostile stack files', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-fault-');
	});
	afterEach(async () => cleanScratch(dir));

	test('ENOSPC while preparing: OVL_NO_SPACE, and what was created is removed', async () => {
		mkdirSync(p('small'));
		await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', p('small')]);
		const r = await runOvl(['prepare', p('small', 'lab'), '--put', `lower1/big=${'x'.repeat(100_000)}`]);
		expect(r.exitCode, r.stderr).toBe(1);
		expect(r.stderr).toContain('OVL_NO_SPACE');
		expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
		expect(readdirSync(p('small'))).toEqual([]);
	});

	test('a read-only TMPDIR for lab run: OVL_READ_ONLY_FS before anything runs', async () => {
		mkdirSync(p('ro'));
		await execa('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', p('ro')]);
		const r = await runOvl(['lab', 'run', 'blog'], {env: {TMPDIR: p('ro')}});
		expect(r.exitCode, r.stderr).toBe(1);
		expect(r.stderr).toContain('OVL_READ_ONLY_FS');
	});

	test('lab run --markdown into a missing directory fails before the experiment runs', async () => {
		const r = await runOvl(['lab', 'run', 'blog', '--markdown', p('nope', 'x.md')]);
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_OUTPUT_UNWRITABLE');
		expect(r.stderr).not.toContain('internal error');
	});

	test.each([
		['lab list', ['lab', 'list']],
		['prepare', ['prepare', 'lab']],
		['inspect', ['inspect', '--upper', 'u', '--lower', 'l']],
	])('EPIPE (%s | head -c 10): no trace, the command still finishes', async (_n, args) => {
		mkdirSync(p('u'));
		mkdirSync(p('l'));
		for (let i = 0; i < 2000; i++) writeFileSync(p('u', `f${i}`), 'x');
		const r = await execa(
			'bash',
			[
				'-c',
				`"${process.execPath}" "${ovlBin}" ${args.join(' ')} | head -c 10 >/dev/null; echo "exit \${PIPESTATUS[0]}" >&2`,
			],
			{cwd: dir, reject: false},
		);
		expect(String(r.stderr)).not.toMatch(/EPIPE|internal error|\n\s+at /);
		expect(String(r.stderr)).toMatch(/exit 0/);
	});

	test('a stack file may not name paths outside its directory (merged: /etc)', async () => {
		mkdirSync(p('lab'));
		for (const d of ['lower1', 'lower2', 'upper', 'work']) mkdirSync(p('lab', d));
		writeFileSync(
			p('lab', 'ovl.yaml'),
			'version: 1\nlowers: [lower1, lower2]\nupper: upper\nwork: work\nmerged: /etc\n',
		);
		const r = await runOvl(['mount', 'lab'], {cwd: dir, env: {OVL_RUN_DIR: p('run')}});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_PATH_ESCAPES');
		// A symlink inside the directory that leads out is the same escape.
		symlinkSync('/etc', p('lab', 'merged'));
		writeFileSync(
			p('lab', 'ovl.yaml'),
			'version: 1\nlowers: [lower1, lower2]\nupper: upper\nwork: work\nmerged: merged\n',
		);
		const viaLink = await runOvl(['mount', 'lab'], {cwd: dir, env: {OVL_RUN_DIR: p('run')}});
		expect(viaLink.exitCode).toBe(2);
		expect(viaLink.stderr).toContain('OVL_PATH_ESCAPES');
		// The caller may still choose such a path themselves, on the command line (here: dry run).
		mkdirSync(p('elsewhere'));
		const own = await runOvl(['mount', 'lab', p('elsewhere'), '--dry-run'], {cwd: dir});
		expect(own.exitCode, own.stderr).toBe(0);
	});

	test('a non-empty mount point is refused; --force mounts over it', async () => {
		expect((await runOvl(['prepare', 's'], {cwd: dir})).exitCode).toBe(0);
		writeFileSync(p('s', 'merged', 'precious'), 'x');
		const r = await runOvl(['mount', 's', '--dry-run'], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_MERGED_NOT_EMPTY');
		expect((await runOvl(['mount', 's', '--dry-run', '--force'], {cwd: dir})).exitCode).toBe(0);
	});

	test('a value that looks like an option is refused, not swallowed by yargs', async () => {
		const r = await runOvl(['prepare', 'lab', '--work', '--force'], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toMatch(/OVL_USAGE: --work needs a value; "--force" looks like an option/);
		const ok = await runOvl(['prepare', 'lab', '--work=--force'], {cwd: dir});
		expect(ok.exitCode, ok.stderr).toBe(0);
		expect(readdirSync(p('lab'))).toContain('--force');
	});
});
