import {spawn} from 'node:child_process';
import {linkSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, test} from 'vitest';
import {mkfifoSync} from '../helpers/fifo.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';

// ovl prepare runs as root in directories others may control: every write is resolved beneath
// the named directory without following a link, and nothing is written through one.

let dir = '';
const p = (...x: string[]): string => path.join(dir, ...x);
beforeEach(async () => {
	dir = await makeScratch('ovl-prep-');
	mkdirSync(p('outside'));
	writeFileSync(p('outside', 'victim'), 'precious\n');
});
afterEach(async () => cleanScratch(dir));

const victimIntact = (): void => {
	expect(readFileSync(p('outside', 'victim'), 'utf8')).toBe('precious\n');
	expect(readdirSync(p('outside'))).toEqual(['victim']);
};

describe.each([
	['native helper', {}],
	['pure-JS fallback', {OVL_NATIVE: '0'}],
] as [string, Record<string, string>][])('prepare never writes through links (%s)', (_name, env) => {
	test('a symlinked ovl.yaml is refused, with and without --force', async () => {
		mkdirSync(p('lab'));
		symlinkSync(p('outside', 'victim'), p('lab', 'ovl.yaml'));
		for (const extra of [[], ['--force']]) {
			const r = await runOvl(['prepare', 'lab', ...extra], {cwd: dir, env});
			expect(r.exitCode, r.stderr).toBe(2);
			expect(r.stderr).toContain('OVL_PATH_SYMLINK');
			victimIntact();
		}
	});

	test('a hard link to a file outside is refused, not written', async () => {
		mkdirSync(p('lab', 'lower1'), {recursive: true});
		linkSync(p('outside', 'victim'), p('lab', 'lower1', 'a'));
		const r = await runOvl(['prepare', 'lab', '--put', 'lower1/a=pwned'], {cwd: dir, env});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toContain('OVL_PATH_HARDLINKED');
		victimIntact();
	});

	test('a hard-linked ovl.yaml is refused under --force', async () => {
		mkdirSync(p('lab'));
		linkSync(p('outside', 'victim'), p('lab', 'ovl.yaml'));
		const r = await runOvl(['prepare', 'lab', '--force'], {cwd: dir, env});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toContain('OVL_PATH_HARDLINKED');
		victimIntact();
	});

	test('<dir> itself a symlink is refused; naming the target works', async () => {
		symlinkSync(p('outside'), p('lab'));
		const r = await runOvl(['prepare', 'lab'], {cwd: dir, env});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toContain('OVL_PATH_SYMLINK');
		victimIntact();
		const ok = await runOvl(['prepare', p('outside')], {cwd: dir, env});
		expect(ok.exitCode, ok.stderr).toBe(0);
	});

	test('a dir swapped with a symlink mid-run (RENAME_EXCHANGE loop) never leads a write outside', async () => {
		mkdirSync(p('lab', 'lower1', 'sub'), {recursive: true});
		symlinkSync(p('outside'), p('lab', 'lower1', 'swap'));
		// A child swaps lower1/sub and lower1/swap as fast as it can while prepare writes sub/f.
		const native = path.resolve('build/Release/ovl_native.node');
		const swapper = spawn(
			process.execPath,
			[
				'-e',
				`
			const n = require(${JSON.stringify(native)});
			const d = Buffer.from(${JSON.stringify(p('lab', 'lower1'))});
			const fd = require('fs').openSync(d, 'r');
			for (;;) { try { n.renameat2(fd, Buffer.from('sub'), fd, Buffer.from('swap'), 2); } catch {} }
		`,
			],
			{stdio: 'ignore'},
		);
		try {
			let wrote = 0;
			for (let i = 0; i < 25; i++) {
				const r = await runOvl(['prepare', 'lab', '--force', '--put', `lower1/sub/f=evil${i}`], {cwd: dir, env});
				expect(r.stderr).not.toMatch(/internal error/);
				if (r.exitCode === 0) wrote++;
				else expect(r.stderr).toMatch(/OVL_PATH_SYMLINK|OVL_LAYER_NOT_DIR|OVL_PATH_MISSING/);
				victimIntact();
			}
			expect(wrote).toBeGreaterThan(0);
		} finally {
			swapper.kill('SIGKILL');
		}
	});
});

describe('prepare refuses what it cannot read or name, with a code', () => {
	test('a FIFO at ovl.yaml does not block', async () => {
		mkdirSync(p('lab'));
		mkfifoSync(p('lab', 'ovl.yaml'));
		const r = await runOvl(['prepare', 'lab'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toMatch(/OVL_NOT_REGULAR_FILE.*a FIFO/);
	});

	test('a directory at ovl.yaml', async () => {
		mkdirSync(p('lab', 'ovl.yaml'), {recursive: true});
		const r = await runOvl(['prepare', 'lab'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toMatch(/OVL_NOT_REGULAR_FILE.*a directory/);
	});

	test('--put with a trailing slash names no file', async () => {
		const r = await runOvl(['prepare', 'lab', '--put', 'lower1/x/=y'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toContain('OVL_SEED_PATH_INVALID');
	});

	test.each([
		['a YAML syntax error', 'lower1:\n  a: "unterminated\n', /OVL_SEED_INVALID: .*seed.yaml:\d+/],
		[
			'an alias bomb',
			'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nlower1: {f: *c}\n',
			/OVL_SEED_INVALID/,
		],
		['a list instead of a mapping', '- lower1\n', /OVL_SEED_INVALID/],
	])('a seed file with %s', async (_name, text, message) => {
		writeFileSync(p('seed.yaml'), text);
		const r = await runOvl(['prepare', 'lab', '--seed', 'seed.yaml'], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(2);
		expect(r.stderr).toMatch(message);
		expect(r.stderr).not.toMatch(/internal error/);
	});

	test('a missing seed file and a directory as seed file', async () => {
		const missing = await runOvl(['prepare', 'lab', '--seed', 'nope.yaml'], {cwd: dir});
		expect(missing.exitCode).toBe(2);
		expect(missing.stderr).toContain('OVL_FILE_MISSING');
		const isDir = await runOvl(['prepare', 'lab', '--seed', 'outside'], {cwd: dir});
		expect(isDir.exitCode).toBe(2);
		expect(isDir.stderr).toMatch(/OVL_NOT_REGULAR_FILE.*a directory/);
	});
});
