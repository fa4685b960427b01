import {mkdirSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {waitUntil} from '../helpers/wait.js';

// The explorer in a real terminal (tmux), on a real mount: navigate to a whiteout, read its
// details, quit, and check the shell screen is back. The seed experiment (lower1 has a and b,
// lower2 has b, a removed in the merged dir) at 80×24 and 120×32: the merged view shows b served
// by lower 2 without a key, and no details line is cut. OVL_TUI_CAPTURES=DIR saves those screens.

let dir = '';
const socket = `ovl-test-${process.pid}`;
const tmux = (...args: string[]) => execa('tmux', ['-L', socket, ...args], {reject: false});
const screen = async (): Promise<string> => (await tmux('capture-pane', '-p', '-t', 'ovl')).stdout;
const waitFor = async (pred: (s: string) => boolean, what: string): Promise<string> => {
	let s = '';
	const hit = await waitUntil(async () => pred((s = await screen())) && s, 10_000, 100);
	if (hit === undefined) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
	return hit;
};

describeKernel('the explorer in a real terminal', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-tui-');
		expect(
			(
				await runOvl(
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
				)
			).exitCode,
		).toBe(0);
		expect((await runOvl(['mount', 'demo'], {cwd: dir, env: {OVL_RUN_DIR: path.join(dir, 'run')}})).exitCode).toBe(0);
		rmSync(path.join(dir, 'demo', 'merged', 'a'));
	});
	afterEach(async () => {
		await tmux('kill-server');
		await cleanScratch(dir);
	});

	const start = async (columns = 100, rows = 30): Promise<string> => {
		// CI=true (as CI sets it) would rightly make ovl print plain text: this test is a person at a terminal.
		const cmd = `cd ${dir} && env -u CI TERM=xterm-256color OVL_RUN_DIR=${dir}/run ${process.execPath} ${ovlBin} inspect demo/merged; echo EXIT=$?; sleep 60`;
		const r = await tmux('new-session', '-d', '-s', 'ovl', '-x', String(columns), '-y', String(rows), cmd);
		expect(r.exitCode, r.stderr).toBe(0);
		// The upper comes first, the merged view once the lowers are read.
		return waitFor((s) => s.includes('merged view') && s.includes('? help · q quit'), 'the merged view');
	};
	const layerRow = (name: string) =>
		new RegExp(`${name}\\s+\\S{10} 0:0\\s+\\d+ \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d`);

	for (const [columns, rows] of [
		[80, 24],
		[120, 32],
	] as const) {
		test(`the seed experiment at ${columns}×${rows}: the merged view by default, details whole`, async () => {
			const s = await start(columns, rows);
			const captures = process.env['OVL_TUI_CAPTURES'];
			if (captures) {
				mkdirSync(captures, {recursive: true});
				writeFileSync(path.join(captures, `explorer-${columns}x${rows}.txt`), `${s}\n`);
			}
			const lines = s.split('\n');
			expect(lines.length).toBeLessThanOrEqual(rows);
			expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(columns);
			// a is gone from the merged dir (the whiteout says so); b is served by lower 2, no key pressed.
			expect(s).toMatch(/WHT\s+a hides L1/);
			expect(s).toMatch(/low\s+b L2/);
			expect(s).toContain('merged view (l: upper only)');
			// The whiteout's details, whole: every reason, every layer with its full timestamp, no scroll mark.
			expect(s).toContain("nlink 2: shares the work dir's whiteout inode");
			expect(s).toMatch(layerRow('upper'));
			expect(s).toMatch(layerRow('lower 1'));
			expect(s).toMatch(/lower 2\s+—/);
			expect(s).not.toContain('…');
			expect(s).not.toContain('↓ more');
			// b's details: which lower serves it.
			await tmux('send-keys', '-t', 'ovl', 'j');
			const b = await waitFor((x) => x.includes('served by lower 2'), "b's details");
			expect(b).toMatch(layerRow('lower 2'));
			// l: the upper alone, where b is not.
			await tmux('send-keys', '-t', 'ovl', 'l');
			const upper = await waitFor((x) => x.includes('upper only (l: all layers)'), 'the upper-only view');
			expect(upper).not.toMatch(/low\s+b L2/);
			await tmux('send-keys', '-t', 'ovl', 'q');
			expect(await waitFor((x) => x.includes('EXIT='), 'the shell')).toContain('EXIT=0');
		});
	}

	test('80×24: a details pane taller than its room scrolls with J/K and says so', async () => {
		for (let i = 0; i < 8; i++) writeFileSync(path.join(dir, 'demo', 'merged', `new${i}`), 'x');
		const s = await start(80, 24);
		expect(s).toMatch(/↓ more · J\/K scroll · 1–\d+\/\d+/);
		expect(s).not.toMatch(layerRow('lower 1'));
		await tmux('send-keys', '-t', 'ovl', 'J', 'J', 'J', 'J', 'J', 'J', 'J', 'J');
		const end = await waitFor((x) => x.includes('↑ more above'), 'the end of the details');
		expect(end).toMatch(layerRow('lower 1'));
		await tmux('send-keys', '-t', 'ovl', 'q');
		expect(await waitFor((x) => x.includes('EXIT='), 'the shell')).toContain('EXIT=0');
	});

	test('search for the whiteout, read its details, quit cleanly', async () => {
		await start();
		await tmux('send-keys', '-t', 'ovl', '/', 'a', 'Enter');
		const s = await waitFor((x) => x.includes('search "a"'), 'the search');
		expect(s).toMatch(/WHT\s+a hides L1/);
		expect(s).toContain('whiteout · char');
		expect(s).toContain('char device 0:0');
		expect(s).toMatch(/upper\s+c--------- 0:0\s+0 .* whiteout/);
		expect(s).toMatch(/lower 1\s+-rw-r--r-- 0:0\s+15 /);
		await tmux('send-keys', '-t', 'ovl', 'q');
		const after = await waitFor((x) => x.includes('EXIT='), 'the shell');
		expect(after).toContain('EXIT=0');
		expect(after).not.toContain('q quit');
	});

	test('Ctrl-C exits 130 and restores the screen', async () => {
		await start();
		await tmux('send-keys', '-t', 'ovl', 'C-c');
		const after = await waitFor((x) => x.includes('EXIT='), 'the shell');
		expect(after).toContain('EXIT=130');
		expect(after).not.toContain('q quit');
	});

	test('ovl try at a terminal: the explorer shows what the command changed, q, then y commits it', async () => {
		const tree = path.join(dir, 'tree');
		mkdirSync(path.join(tree, 'd'), {recursive: true});
		writeFileSync(path.join(tree, 'a'), 'a');
		writeFileSync(path.join(tree, 'd', 'x'), 'x');
		const script = 'rm a; rm -r d; mkdir d; echo n > d/new';
		const cmd = `cd ${tree} && env -u CI TERM=xterm-256color ${process.execPath} ${ovlBin} try -- sh -c '${script}'; echo EXIT=$?; sleep 60`;
		const r = await tmux('new-session', '-d', '-s', 'ovl', '-x', '100', '-y', '30', cmd);
		expect(r.exitCode, r.stderr).toBe(0);
		const s = await waitFor((x) => x.includes('? help · q quit'), 'the explorer');
		expect(s).toMatch(/WHT\s+a hides L1/);
		expect(s).toMatch(/OPQ\s+▾ d\//);
		await tmux('send-keys', '-t', 'ovl', 'q');
		const asked = await waitFor((x) => x.includes('[y/N]'), 'the question');
		expect(asked).toMatch(/D\s+\/d\/x/);
		await tmux('send-keys', '-t', 'ovl', 'y', 'Enter');
		const after = await waitFor((x) => x.includes('EXIT='), 'the shell');
		expect(after).toContain('committed into');
		expect(after).toContain('EXIT=0');
		expect(readdirSync(tree).sort()).toEqual(['d']);
		expect(readdirSync(path.join(tree, 'd'))).toEqual(['new']);
	});
});
