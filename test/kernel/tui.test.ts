import {rmSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {waitUntil} from '../helpers/wait.js';

// The explorer in a real terminal (tmux), on a real mount: navigate to a whiteout, read its
// details, quit, and check the shell screen is back.

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

	const start = async (): Promise<void> => {
		// CI=true (as CI sets it) would rightly make ovl print plain text: this test is a person at a terminal.
		const cmd = `cd ${dir} && env -u CI TERM=xterm-256color OVL_RUN_DIR=${dir}/run ${process.execPath} ${ovlBin} inspect demo/merged; echo EXIT=$?; sleep 60`;
		const r = await tmux('new-session', '-d', '-s', 'ovl', '-x', '100', '-y', '30', cmd);
		expect(r.exitCode, r.stderr).toBe(0);
		await waitFor((s) => s.includes('? help · q quit'), 'the explorer');
	};

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
});
