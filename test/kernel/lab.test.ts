import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {mkdir} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {builtins} from '../../src/lab/builtins.js';
import {describeKernel} from '../helpers/kernel.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';
import {waitUntil} from '../helpers/wait.js';

let dir = '';
// Experiments make their temp dirs under TMPDIR: point it at the scratch dir so nothing escapes.
const env = () => ({TMPDIR: dir, OVL_RUN_DIR: path.join(dir, 'run')});

describeKernel('ovl lab on the real kernel', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-lab-test-');
	});
	afterEach(async () => cleanScratch(dir));

	test.each(Object.keys(builtins))('built-in %s passes and leaves nothing behind', async (name) => {
		const r = await runOvl(['lab', 'run', name, '--json'], {env: env()});
		const report = JSON.parse(r.stdout);
		const failed = report.steps.filter((s: {ok: boolean}) => !s.ok);
		expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
		expect(r.exitCode).toBe(0);
		expect(report).toMatchObject({schema: 'ovl.lab/v1', experiment: name, passed: true, userNamespace: false});
		expect(readdirSync(dir).filter((n) => n.startsWith('ovl-lab-'))).toEqual([]);
		expect(mountsUnder(dir)).toEqual([]);
	});

	test('blog in a user namespace (userxattr), as an unprivileged user would run it', async () => {
		const r = await execa(
			'unshare',
			['--user', '--map-root-user', '--mount', process.execPath, ovlBin, 'lab', 'run', 'blog', '--json', '--in-userns'],
			{env: env(), reject: false},
		);
		const report = JSON.parse(String(r.stdout));
		expect(report.steps.filter((s: {ok: boolean}) => !s.ok)).toEqual([]);
		expect(report).toMatchObject({passed: true, userNamespace: true, options: ['userxattr']});
		expect(r.exitCode).toBe(0);
	});

	test('the blog report: text and a shareable markdown file', async () => {
		const r = await runOvl(['lab', 'run', 'blog', '--markdown', path.join(dir, 'blog.md')], {env: env()});
		expect(r.exitCode).toBe(0);
		expect(r.stdout).toMatch(/^ovl lab: blog — PASSED/);
		expect(r.stdout).toContain('upper: +/a whiteout');
		// Piped, the report is said once (stdout), not again step by step on stderr.
		expect(r.stderr).not.toMatch(/^(ok|FAIL)\t/m);
		const md = readFileSync(path.join(dir, 'blog.md'), 'utf8');
		expect(md).toContain('# ovl lab: blog — passed');
		expect(md).toMatch(/\| 3 \| rm merged\/a \| `rm a` \|/);
	});

	test('a failing expectation fails the run (exit 1) and says why', async () => {
		writeFileSync(
			path.join(dir, 'x.yaml'),
			'name: wrong\nstack:\n  lowers:\n    - name: l\n      files: {a: x}\nsteps:\n  - rm: a\n    expect: {upper: {a: copy-up}}\n',
		);
		const r = await runOvl(['lab', 'run', path.join(dir, 'x.yaml')], {env: env()});
		expect(r.exitCode).toBe(1);
		expect(r.stdout).toContain('✗ upper/a is copy-up: whiteout');
		expect(mountsUnder(dir)).toEqual([]);
	});

	test('steps never write through a symlink out of the experiment', async () => {
		const outside = path.join(dir, 'outside');
		await mkdir(outside);
		writeFileSync(path.join(outside, 'victim'), 'safe');
		writeFileSync(
			path.join(dir, 'evil.yaml'),
			`name: evil\nstack:\n  lowers: [l]\nsteps:\n  - symlink: {target: ${outside}, link: out}\n  - write: {path: out/victim, content: pwned}\n  - symlink: {target: ${outside}/victim, link: v}\n  - append: {path: v, content: pwned}\n`,
		);
		const r = await runOvl(['lab', 'run', path.join(dir, 'evil.yaml'), '--json'], {env: env()});
		const report = JSON.parse(r.stdout);
		expect(report.steps[1].verdicts[0].detail).toContain('OVL_LAB_SYMLINK');
		expect(report.steps[3].verdicts[0].detail).toContain('OVL_LAB_SYMLINK');
		expect(readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('safe');
	});

	test('--keep leaves the mount and says how to undo it', async () => {
		const r = await runOvl(['lab', 'run', 'opaque-dir', '--keep'], {env: env()});
		expect(r.exitCode).toBe(0);
		const kept = /kept: (\S+) \(still mounted/.exec(r.stdout)?.[1];
		expect(kept).toBeDefined();
		expect(mountsUnder(kept as string)).toEqual([path.join(kept as string, 'merged')]);
	});

	test('SIGINT mid-run leaves no mount and no temp dir', async () => {
		const child = execa(process.execPath, [ovlBin, 'lab', 'run', 'copy-up-cost', '--json'], {
			env: env(),
			reject: false,
		});
		// Wait until the experiment is mounted, then interrupt it.
		// (work/work appears during mount(2), a moment before the mount shows in mountinfo.)
		await waitUntil(
			() =>
				readdirSync(dir).some((n) => n.startsWith('ovl-lab-') && existsSync(path.join(dir, n, 'work', 'work'))) &&
				mountsUnder(dir).length === 1,
			5_000,
		);
		expect(mountsUnder(dir).length).toBe(1);
		child.kill('SIGINT');
		const r = await child;
		expect(r.exitCode).toBe(130);
		expect(mountsUnder(dir)).toEqual([]);
		expect(readdirSync(dir).filter((n) => n.startsWith('ovl-lab-'))).toEqual([]);
	});
});
