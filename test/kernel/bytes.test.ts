import {existsSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';

// Names that are not UTF-8 reach the kernel byte for byte (argv, layers, mount point, mountinfo,
// registry), or are refused with a code; they are never replaced by U+FFFD.

let dir = '';
const p = (...x: string[]): string => path.join(dir, ...x);
const names = (d: string): string[] =>
	readdirSync(d, {encoding: 'buffer'})
		.map((b) => b.toString('hex'))
		.sort();
const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

/** Runs ovl through bash so that $'\xff' arguments arrive as raw bytes (Node cannot spawn them). */
async function ovlRaw(args: string): Promise<{exitCode: number; stdout: string; stderr: string}> {
	const r = await execa('bash', ['-c', `exec "${process.execPath}" "${ovlBin}" ${args}`], {
		cwd: dir,
		reject: false,
		env: {NO_COLOR: '1', OVL_RUN_DIR: p('run')},
	});
	return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)};
}

describeKernel('paths are bytes', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-bytes-');
	});
	afterEach(async () => cleanScratch(dir));

	test("ovl mount with $'\\xff' upper, $'\\xfe' lower and mount point mounts those very dirs", async () => {
		for (const d of ['l1', 'w']) mkdirSync(p(d));
		await execa('bash', ['-c', "mkdir $'u\\xff' $'l\\xfe' $'m\\xfe'"], {cwd: dir});
		writeFileSync(p('l1', 'a'), 'below\n');
		const before = names(dir);
		const r = await ovlRaw("mount --lower l1 --lower $'l\\xfe' --upper $'u\\xff' --work w $'m\\xfe'");
		expect(r.exitCode, r.stderr).toBe(0);
		expect(names(dir)).toEqual([...before, hex('run')].sort()); // no U+FFFD twin was created
		expect(r.stdout).toContain('m\\xfe');
		const merged = Buffer.concat([Buffer.from(`${dir}/m`), Buffer.from([0xfe])]);
		expect(mountsUnder(dir)).toHaveLength(1);
		writeFileSync(Buffer.concat([merged, Buffer.from('/new')]), 'x');
		expect(readdirSync(Buffer.concat([Buffer.from(`${dir}/u`), Buffer.from([0xff])]))).toEqual(['new']);
		const ls = JSON.parse((await runOvl(['ls', '--json'], {env: {OVL_RUN_DIR: p('run')}})).stdout) as {
			mounts: {mountPoint: string; mountPointBytes?: string; upperBytes?: string}[];
		};
		const m = ls.mounts.find((x) => x.mountPointBytes !== undefined);
		expect(Buffer.from(m?.mountPointBytes ?? '', 'base64').equals(merged)).toBe(true);
		expect(Buffer.from(m?.upperBytes ?? '', 'base64').toString('latin1')).toBe(`${dir}/u\xff`);
		const u = await ovlRaw("umount $'m\\xfe'");
		expect(u.exitCode, u.stderr).toBe(0);
		expect(mountsUnder(dir)).toEqual([]);
	});

	test('prepare refuses a layer name that is not UTF-8, with a code', async () => {
		const r = await ovlRaw("prepare lab --lower $'l\\xff'");
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_PATH_NOT_UTF8');
		expect(existsSync(p('lab'))).toBe(false);
	});

	test('inspect keeps \\xff, \\xfe and a real U+FFFD apart, in plain and JSON', async () => {
		mkdirSync(p('l'));
		await execa(
			'bash',
			[
				'-c',
				"mkdir u && cd u && echo 1 > $'f\\xff' && echo 22 > $'f\\xfe' && echo 333 > $'f\\xef\\xbf\\xbd' && printf 4 > $'a\\nb' && printf 5 > $'e\\x1b[2Jx'",
			],
			{cwd: dir},
		);
		const plain = await runOvl(['inspect', '--upper', 'u', '--lower', 'l', '--plain'], {cwd: dir});
		expect(plain.exitCode, plain.stderr).toBe(0);
		const paths = plain.stdout
			.trim()
			.split('\n')
			.map((l) => l.split('\t')[1]);
		expect(paths.sort()).toEqual(['/a\\nb', '/e\\x1b[2Jx', '/f\\xfe', '/f\\xff', '/f\uFFFD'].sort());
		expect(plain.stdout).not.toContain('\u001b');
		const json = JSON.parse(
			(await runOvl(['inspect', '--upper', 'u', '--lower', 'l', '--json'], {cwd: dir})).stdout,
		) as {entries: {path: string; pathBytes?: string}[]};
		const bytes = json.entries
			.map((e) => (e.pathBytes ? Buffer.from(e.pathBytes, 'base64') : Buffer.from(e.path)).toString('hex'))
			.sort();
		expect(bytes).toEqual(
			['/a\nb', '/e\u001b[2Jx', '/f\xff', '/f\xfe']
				.map((s) => Buffer.from(s, 'latin1').toString('hex'))
				.concat(Buffer.from('/f\uFFFD').toString('hex'))
				.sort(),
		);
	});

	test('an opaque dir with a non-UTF-8 name: the native helper reads it; without it, an error finding, never "not opaque"', async () => {
		await execa(
			'bash',
			[
				'-c',
				"mkdir -p $'l/d\\xff' $'u/d\\xff' && echo old > $'l/d\\xff/old' && setfattr -n trusted.overlay.opaque -v y $'u/d\\xff'",
			],
			{cwd: dir},
		);
		const run = async (env: Record<string, string>) => {
			const r = await execa(process.execPath, [ovlBin, 'inspect', '--json', '--upper', 'u', '--lower', 'l'], {
				cwd: dir,
				reject: false,
				env: {...env, NO_COLOR: '1'},
			});
			return {
				code: r.exitCode,
				doc: JSON.parse(String(r.stdout)) as {
					entries: {path: string; kind: string}[];
					findings: {code: string; severity: string}[];
				},
			};
		};
		const withNative = await run({});
		expect(withNative.code).toBe(0);
		expect(withNative.doc.entries.map((e) => e.kind)).toEqual(['opaque-dir']);
		const fallback = await run({OVL_NATIVE: '0'});
		expect(fallback.code).toBe(0);
		expect(fallback.doc.findings).toEqual(
			expect.arrayContaining([expect.objectContaining({code: 'OVL_XATTR_UNREADABLE', severity: 'error'})]),
		);
		const exported = await execa(process.execPath, [ovlBin, 'export', '--upper', 'u', '--lower', 'l', '-o', 'x.tar'], {
			cwd: dir,
			reject: false,
			env: {OVL_NATIVE: '0'},
		});
		expect(exported.exitCode).toBe(1);
		expect(exported.stderr).toContain('OVL_XATTR_UNREADABLE');
		expect(existsSync(p('x.tar'))).toBe(false);
	});

	test('an upper deeper than PATH_MAX: inspect and diff in every form, no ENAMETOOLONG', async () => {
		mkdirSync(p('l'));
		// 30 levels of 200-byte names (6,000+ bytes), each made relative to its parent.
		const script =
			"const fs = require('fs'); fs.mkdirSync('u'); process.chdir('u'); for (let i = 0; i < 30; i++) { fs.mkdirSync('d'.repeat(200)); process.chdir('d'.repeat(200)); } fs.writeFileSync('leaf', 'deep');";
		await execa(process.execPath, ['-e', script], {cwd: dir});
		try {
			for (const args of [
				['inspect', '--json'],
				['inspect', '--plain'],
				['inspect', '--kind', 'new', '--plain'],
				['diff', '--plain'],
				['diff', '--json'],
				['diff', '--all', '--plain'],
				['diff', '--content', '--plain'],
			]) {
				const r = await runOvl([...args, '--upper', 'u', '--lower', 'l'], {cwd: dir});
				expect(r.exitCode, `${args.join(' ')}: ${r.stderr.slice(0, 300)}`).toBe(0);
				expect(r.stdout + r.stderr).not.toMatch(/ENAMETOOLONG|internal error/);
				// diff's default view collapses below an added directory; every other form lists the leaf.
				const collapsed = args[0] === 'diff' && !args.includes('--all') && !args.includes('--json');
				expect(r.stdout).toContain(collapsed ? 'A\t/ddd' : 'leaf');
			}
			// A lower longer than PATH_MAX is found too (realpath cannot, a walk can).
			await execa(process.execPath, ['-e', script.replace(/'u'/g, "'L'")], {cwd: dir});
			const longLower = [p('L'), ...Array.from({length: 30}, () => 'd'.repeat(200))].join('/');
			const r = await runOvl(['inspect', '--upper', 'u', '--lower', longLower, '--plain'], {cwd: dir});
			expect(r.exitCode, r.stderr.slice(0, 300)).toBe(0);
		} finally {
			await execa('rm', ['-rf', p('u'), p('L')]); // GNU rm walks with openat; Node's fs.rm would hit ENAMETOOLONG
		}
	});

	test('a lower longer than PATH_MAX is refused with its own code', async () => {
		const long = `/${'x'.repeat(250)}`.repeat(17);
		const r = await runOvl(['mount', '--dry-run', '--lower', long, '--lower', p('l2'), p('m')], {cwd: dir});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_PATH_TOO_LONG');
	});
});
