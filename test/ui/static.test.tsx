import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterEach, beforeEach, describe, expect, test} from 'vitest';
import {hostChecks, verdict} from '../../src/core/doctor.js';
import {planMount} from '../../src/core/plan.js';
import {formatDoctor} from '../../src/ui/doctor-text.js';
import {formatPlan} from '../../src/ui/plan-text.js';
import {makeStyle} from '../../src/ui/style.js';
import {ovlBin} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';

describe('one-shot views for a person (mount --dry-run and doctor on a terminal)', () => {
	test('the plan shows layers top → bottom, the string, the budget bar and fds', () => {
		const plan = planMount(
			{
				lowers: [
					{path: '/s/l1', dataOnly: false},
					{path: '/s/x,y', dataOnly: false},
				],
				upper: '/s/u',
				work: '/s/w',
				merged: '/s/m',
				options: [],
			},
			[],
			{pageSize: 4096},
		);
		const out = formatPlan(plan, makeStyle(false), true);
		expect(out).toMatch(/upper\s+\/s\/u\n\s+lower 2\s+\/s\/x,y\n\s+lower 1\s+\/s\/l1/);
		expect(out).toContain('strategy   fd (mount runs in /proc/self/fd)');
		expect(out).toMatch(/options\s+█*░+ \d+ of 4095 bytes/);
		expect(out).toContain('fd 3 = /s/x,y');
		// The paths line up under one column, upper included.
		const col = (label: string): number =>
			out
				.split('\n')
				.find((l) => l.includes(label))
				?.indexOf('/s/') ?? -1;
		expect(col('upper')).toBe(col('lower 2'));
		expect(col('upper')).toBe(col('lower 1'));
	});
	test('doctor lists checks and the verdict', () => {
		const checks = hostChecks({
			release: '6.18.44',
			version: [6, 18],
			overlayListed: true,
			moduleLoaded: true,
			params: {index: 'N'},
			utilLinux: 'mount from util-linux 2.38.1',
			euid: 0,
			inUserNamespace: false,
			maxUserNamespaces: 1000,
			unprivilegedUsernsClone: undefined,
			pageSize: 4096,
			kmsgReadable: true,
			native: {loaded: true, reason: 'build/Release/ovl_native.node'},
			scanner: {name: 'native', reason: 'native/scan.c, off the main thread'},
		});
		const out = formatDoctor(checks, verdict(checks), [], makeStyle(false));
		expect(out).toContain('✓ overlay filesystem   available (module loaded)');
		expect(out).toContain('userxattr yes, data-only layers yes, lowerdir+ yes, layers by fd yes');
		expect(out).toContain('verdict: ok');
	});
	test('doctor at 80 columns: long details and hints wrap under themselves, never back to column 0', () => {
		const long = {
			name: 'test mount',
			status: 'warn' as const,
			detail: 'word '.repeat(30).trim(),
			hint: 'hint '.repeat(30).trim(),
		};
		const out = formatDoctor([long], 'degraded', [], makeStyle(false), 80);
		const lines = out.trimEnd().split('\n');
		expect(lines.length).toBeGreaterThan(4);
		for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
		for (const l of lines.slice(1, -1)) expect(l, out).toMatch(/^ {2}/);
	});
});

describe('no Ink where it is not wanted', () => {
	let dir = '';
	const forbid = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/forbid-ink.mjs');
	beforeEach(async () => {
		dir = await makeScratch('ovl-noink-');
		for (const d of ['u', 'l1', 'l2']) await mkdir(path.join(dir, d));
		await writeFile(path.join(dir, 'u', 'f'), 'x');
	});
	afterEach(async () => cleanScratch(dir));
	test.each([
		[['--version']],
		[['ls', '--json']],
		[['ls']],
		[['inspect', '--upper', 'u', '--lower', 'l1', '--lower', 'l2']],
		[['inspect', '--upper', 'u', '--lower', 'l1', '--lower', 'l2', '--json']],
		[['diff', '--upper', 'u', '--lower', 'l1', '--lower', 'l2']],
	])('ovl %j loads neither ink nor react, and pipes carry no escape codes', async (args) => {
		const r = await execa(process.execPath, ['--import', forbid, ovlBin, ...args], {
			cwd: dir,
			reject: false,
			env: {FORCE_COLOR: '1'},
		});
		expect(r.stderr).not.toContain('FORBIDDEN');
		expect(r.exitCode, r.stderr).toBe(0);
		expect(r.stdout + r.stderr).not.toContain('\u001B');
	});
	test.each([
		[['ls', '--json']],
		[['ls']],
		[['umount', '/nonexistent-ovl-mount']],
		[['inspect', '--upper', 'u', '--lower', 'l1', '--lower', 'l2', '--json']],
		[['diff', '--upper', 'u', '--lower', 'l1', '--plain', '--all']],
	])('ovl %j loads neither yargs nor execa (the fast path)', async (args) => {
		const noYargs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/forbid-yargs.mjs');
		const r = await execa(process.execPath, ['--import', noYargs, ovlBin, ...args], {cwd: dir, reject: false});
		expect(r.stderr).not.toContain('FORBIDDEN');
		expect([0, 2]).toContain(r.exitCode);
	});
});
