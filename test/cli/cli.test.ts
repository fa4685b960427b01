import {existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs';
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, test} from 'vitest';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';

let dir = '';
beforeEach(async () => {
	dir = await makeScratch('ovl-cli-');
});
afterEach(async () => cleanScratch(dir));

describe('conventions', () => {
	test('--version prints the package version', async () => {
		const r = await runOvl(['--version']);
		const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string};
		expect(r).toMatchObject({exitCode: 0, stdout: pkg.version});
	});
	test('the package a user installs: LICENSE, README, the built CLI; a packed tarball is not committed', async () => {
		const {execa} = await import('execa');
		const root = new URL('../..', import.meta.url).pathname;
		const r = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {cwd: root});
		const files = (JSON.parse(r.stdout) as {files: {path: string}[]}[])[0]?.files.map((f) => f.path) ?? [];
		expect(files).toEqual(
			expect.arrayContaining(['LICENSE', 'README.md', 'bin/ovl.js', 'dist/main.js', 'package.json']),
		);
		expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
		expect(readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n')).toContain('*.tgz');
		// The walk-through calls `ovl`: the README must say how it gets on PATH.
		expect(readFileSync(path.join(root, 'README.md'), 'utf8')).toMatch(/npm link/);
	});
	test('--help lists commands and documents exit codes', async () => {
		const r = await runOvl(['--help']);
		expect(r.exitCode).toBe(0);
		for (const c of ['prepare', 'mount', 'umount', 'ls', 'doctor', 'completion'])
			expect(r.stdout).toContain(`ovl ${c}`);
		expect(r.stdout).toMatch(
			/Exit codes: 0 ok · 1 operation failed · 2 usage or validation error · 4 needs root · 130 interrupted/,
		);
		expect(r.stdout).toMatch(/--version\s+show ovl's version/);
	});
	test.each([
		'prepare',
		'mount',
		'umount',
		'shell',
		'ls',
		'doctor',
		'inspect',
		'diff',
		'export',
		'lab run',
		'docker inspect',
	])('%s --help has examples, none broken across lines, and no --version', async (cmd) => {
		const r = await runOvl([...cmd.split(' '), '--help']);
		expect(r.exitCode).toBe(0);
		const lines = r.stdout.split('\n');
		const from = lines.indexOf('Examples:');
		expect(from, r.stdout).toBeGreaterThan(0);
		// Below "Examples:" a line is a whole command ("  ovl …") or its description (indented deeper).
		for (const l of lines.slice(from + 1).filter((x) => x !== '')) expect(l, r.stdout).toMatch(/^ {2}ovl |^ {6}\S/);
		expect(r.stdout).not.toContain('--version');
	});
	test('unknown command and missing arguments are usage errors (exit 2)', async () => {
		const r = await runOvl(['mout']);
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toMatch(/Did you mean mount|Unknown argument/);
		expect((await runOvl(['umount'])).exitCode).toBe(2);
		expect((await runOvl([])).exitCode).toBe(2);
	});
	test('completion prints a shell script that calls back into ovl; completion --help is help', async () => {
		const r = await runOvl(['completion']);
		expect(r.exitCode).toBe(0);
		expect(r.stdout).toContain('--get-yargs-completions');
		const help = await runOvl(['completion', '--help']);
		expect(help.stdout).toContain('ovl completion >> ~/.bashrc');
		expect(help.stdout).not.toContain('--get-yargs-completions');
	});
	test('completions: no "--o" for the one-letter -o, the built-in experiments after lab run, nothing on stderr', async () => {
		const mount = await runOvl(['--get-yargs-completions', 'ovl', 'mount', '--']);
		expect(mount.stdout.split('\n')).toEqual(expect.arrayContaining(['--option', '--dry-run']));
		expect(mount.stdout.split('\n')).not.toContain('--o');
		expect(mount.stderr).toBe('');
		const lab = await runOvl(['--get-yargs-completions', 'ovl', 'lab', 'run', '']);
		expect(lab.stdout.split('\n')).toEqual(expect.arrayContaining(['blog', 'copy-up-cost', '--keep']));
		expect(lab.stderr).toBe('');
	});
	test('the fast path (ls, umount, mount, inspect and diff, without yargs) answers exactly as the full parser does', async () => {
		// --verbose is not a fast-path flag: the same command then goes through yargs.
		for (const d of ['fa', 'fb', 'fu', 'fw', 'fm']) mkdirSync(path.join(dir, d), {recursive: true});
		writeFileSync(path.join(dir, 'fu', 'new'), 'new');
		const layers = ['--lower', 'fa', '--lower=fb', '--upper', 'fu', '--work', 'fw'];
		for (const args of [
			['mount', ...layers, 'fm', '--dry-run'],
			['mount', '--json', ...layers, '--dry-run', 'fm', '-o', 'index=on', '--option=metacopy=on'],
			['mount', '--lowerdir', 'fb:fa', '--dry-run', 'fm', '--force', '--plain'],
			['mount', '--lowerdir', 'fb:fa', '--lower', 'fa', 'fm'],
			['mount', '--dry-run', '--lower', 'fa', 'fm', 'extra'],
			['mount', '--dry-run', '--json'],
			['mount', '--upper', '', '--lower', 'fa', 'fm'],
			['mount', '--upper', '-x', '--lower', 'fa', 'fm'],
			['umount', '--lazy', path.join(dir, 'nope')],
			['ls', '--json'],
			['ls', '--plain'],
			['umount', path.join(dir, 'nope')],
			['umount', '--json', dir],
			['mount', path.join(dir, 'none')],
			['inspect', '--json', path.join(dir, 'nope')],
			['inspect', dir, '--plain'],
			['diff', '--json', dir],
			// Offline layers (no free space in these forms: other tests write to the same disk).
			['inspect', '--plain', '--upper', 'fu', '--lower', 'fa', '--lower=fb', '--work', 'fw', '--strict'],
			['inspect', '--plain', '--upper', 'fu', '--lower', 'fa', '--kind', 'new,whiteout'],
			['inspect', '--json', '--upper', 'fu', '--lower', 'fa', '--kind', 'bogus'],
			['inspect', '--json', '--upper', 'fu', '--lower', 'fa', '--kind', 'new', '--kind', 'whiteout'],
			['inspect', '--json', '--lower', 'fa'],
			['inspect', '--plain', 'fm', '--upper', 'fu', '--lower', 'fa'],
			['diff', '--json', '--upper', 'fu', '--lower', 'fa', '--all', '--content', '--strict'],
			['diff', '--plain', '--upper', 'fu', '--lower', 'fb', '--userxattr', '--root', dir],
			['diff', '--plain', '--upper', 'fu', '--no-userxattr', '--lower', 'fa'],
			// yargs reads a boolean's next word true/false as its value, and refuses a lone '-' as empty.
			['diff', '--upper', 'fu', '--lower', 'fa', '--json', 'false'],
			['inspect', '--plain', '--upper', 'fu', '--lower', 'fa', '--strict', 'true'],
			['umount', '--lazy', 'true'],
			['mount', ...layers, '--dry-run', 'false'],
			['inspect', '--plain', '--upper', '-', '--lower', 'fa'],
			['inspect', '--plain', '--upper', 'fu', '--lower', 'fa', '--root', '-'],
			['mount', '--lower', 'fa', '--upper', '-', '--work', 'fw', '--dry-run', 'fm'],
		]) {
			const fast = await runOvl(args, {cwd: dir});
			const full = await runOvl([...args, '--verbose'], {cwd: dir});
			expect({code: fast.exitCode, out: fast.stdout, err: fast.stderr}, args.join(' ')).toEqual({
				code: full.exitCode,
				out: full.stdout,
				err: full.stderr,
			});
		}
	});
	test('--json errors are one JSON document on stdout', async () => {
		const r = await runOvl(['mount', path.join(dir, 'nope'), '--json']);
		expect(r.exitCode).toBe(2);
		expect(JSON.parse(r.stdout).error).toMatchObject({code: 'OVL_STACK_FILE_MISSING', exitCode: 2});
	});
});

describe('prepare', () => {
	test('lays out the stack, writes ovl.yaml, and is idempotent', async () => {
		const args = ['prepare', 'demo', '--put', 'lower1/a=docker\\noverlay\\n', '--put', 'lower2/b=filesystem\\n'];
		const first = await runOvl([...args, '--json'], {cwd: dir});
		expect(first.exitCode, first.stderr).toBe(0);
		expect(JSON.parse(first.stdout).seeded).toEqual(['lower1/a', 'lower2/b']);
		expect(readdirSync(path.join(dir, 'demo')).sort()).toEqual([
			'lower1',
			'lower2',
			'merged',
			'ovl.yaml',
			'upper',
			'work',
		]);
		expect(readFileSync(path.join(dir, 'demo/lower1/a'), 'utf8')).toBe('docker\noverlay\n');
		const second = await runOvl([...args, '--json'], {cwd: dir});
		expect(JSON.parse(second.stdout)).toMatchObject({created: [], seeded: []});
	});
	test('a different stack needs --force', async () => {
		expect((await runOvl(['prepare', 'd'], {cwd: dir})).exitCode).toBe(0);
		const r = await runOvl(['prepare', 'd', '--lower', 'base', '--lower', 'app'], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_STACK_EXISTS');
		expect((await runOvl(['prepare', 'd', '--lower', 'base', '--lower', 'app', '--force'], {cwd: dir})).exitCode).toBe(
			0,
		);
		expect(readFileSync(path.join(dir, 'd/ovl.yaml'), 'utf8')).toContain('- base\n  - app');
	});
	test.each([
		['--lower', '../escape'],
		['--lower', '/etc'],
		['--merged', '../m'],
		['--put', 'lower1/../../x=1'],
	])('refuses %s %s and writes nothing', async (flag, value) => {
		const r = await runOvl(['prepare', 'd', flag, value], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toMatch(/OVL_PATH_ESCAPES|OVL_SEED_UNKNOWN_LAYER/);
		expect(readdirSync(dir)).toEqual([]);
	});
	test('never writes a seed through a symlink, and undoes what it created', async () => {
		const outside = path.join(dir, 'outside');
		await mkdir(outside);
		await mkdir(path.join(dir, 'd/lower1'), {recursive: true});
		symlinkSync(outside, path.join(dir, 'd/lower1/link'));
		const r = await runOvl(['prepare', 'd', '--put', 'lower1/link/x=1'], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_PATH_SYMLINK');
		expect(readdirSync(outside)).toEqual([]);
		expect(readdirSync(path.join(dir, 'd')).sort()).toEqual(['lower1']);
	});
	test("a directory that cannot be created fails fast with a clear error (Node's recursive mkdir hangs under /proc)", async () => {
		const r = await runOvl(['prepare', '/proc/ovl-cannot-exist'], {cwd: dir});
		expect(r.exitCode).toBe(1);
		expect(r.stderr).toContain('OVL_CANNOT_CREATE: cannot create /proc/ovl-cannot-exist');
	});
	test('--seed FILE', async () => {
		await writeFile(path.join(dir, 'seed.yaml'), 'lower1:\n  etc/conf: "x=1\\n"\nupper:\n  new: hi\n');
		const r = await runOvl(['prepare', 'd', '--seed', 'seed.yaml'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(readFileSync(path.join(dir, 'd/lower1/etc/conf'), 'utf8')).toBe('x=1\n');
		expect(readFileSync(path.join(dir, 'd/upper/new'), 'utf8')).toBe('hi');
	});
});

describe('docker', () => {
	test('a data-root that does not exist is an error, not an empty listing', async () => {
		const r = await runOvl(['docker', 'ls', '--data-root', path.join(dir, 'none')]);
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_DOCKER_NO_DATA_ROOT');
	});
});

describe('mount --dry-run', () => {
	test('--lowerdir is read top-first and shown bottom→top in the plan', async () => {
		for (const l of ['top', 'mid', 'bottom']) await mkdir(path.join(dir, l));
		const r = await runOvl(['mount', '--lowerdir', 'top:mid:bottom', 'm', '--dry-run', '--json'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(0);
		const doc = JSON.parse(r.stdout);
		expect(doc.plan.stack.lowers.map((l: {path: string}) => path.basename(l.path))).toEqual(['bottom', 'mid', 'top']);
		expect(doc.plan.options).toBe(`lowerdir=${dir}/top:${dir}/mid:${dir}/bottom`);
		expect(existsSync(path.join(dir, 'm'))).toBe(false);
	});
	test('an invalid plan exits 2 and lists findings', async () => {
		await mkdir(path.join(dir, 'l'));
		const r = await runOvl(['mount', '--lower', 'l', '--upper', 'l/u', '--work', 'w', 'm', '--dry-run'], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_LAYER_OVERLAP');
		expect(r.stdout).toContain('would be refused');
	});
	test('a mount point whose parent is missing is refused, not an internal error', async () => {
		for (const l of ['a', 'b']) await mkdir(path.join(dir, l));
		const r = await runOvl(['mount', '--lower', 'a', '--lower', 'b', 'no/such/m', '--dry-run'], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_PARENT_MISSING');
		expect(r.stderr).not.toContain('internal error');
	});
	test('stack file errors carry file and line', async () => {
		await mkdir(path.join(dir, 's'));
		await writeFile(path.join(dir, 's/ovl.yaml'), 'lowers: [a]\nmerged: m\nupperdir: x\n');
		const r = await runOvl(['mount', 's', '--dry-run'], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain(`${dir}/s/ovl.yaml:3: unknown key "upperdir"`);
	});
	test('options that smuggle layers are refused', async () => {
		for (const l of ['a', 'b']) await mkdir(path.join(dir, l));
		const r = await runOvl(['mount', '--lower', 'a', '--lower', 'b', '-o', 'upperdir=/etc', 'm', '--dry-run'], {
			cwd: dir,
		});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_OPTION_LAYER_KEY');
	});
	test('piped output has no escape codes, even with FORCE_COLOR', async () => {
		for (const l of ['a', 'b']) await mkdir(path.join(dir, l));
		const r = await runOvl(['mount', '--lower', 'a', '--lower', 'b', 'm', '--dry-run', '--upper', 'x'], {
			cwd: dir,
			env: {FORCE_COLOR: '1'},
		});
		expect(r.stdout + r.stderr).not.toContain('\u001B');
		const ls = await runOvl(['ls'], {env: {FORCE_COLOR: '1'}});
		expect(ls.stdout + ls.stderr).not.toContain('\u001B');
	});
});
