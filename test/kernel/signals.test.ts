import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, readdirSync, watch, writeFileSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';

// A signal at any moment leaves nothing half-done: no mount, no registry record, no partial layer.

let dir = '';
const p = (...x: string[]): string => path.join(dir, ...x);
const env = (): Record<string, string> => ({OVL_RUN_DIR: p('run')});

/** Starts ovl, sends `signal` after `delayMs`, and resolves with its exit code and stderr. */
function interrupted(
	args: string[],
	signal: NodeJS.Signals,
	delayMs: number,
): Promise<{code: number | null; stderr: string}> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [ovlBin, ...args], {
			cwd: dir,
			env: {...process.env, ...env(), NO_COLOR: '1'},
			stdio: ['ignore', 'ignore', 'pipe'],
		});
		let stderr = '';
		child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
		const timer = setTimeout(() => child.kill(signal), delayMs);
		child.on('exit', (code) => {
			clearTimeout(timer);
			resolve({code, stderr});
		});
	});
}

const records = (): string[] => (existsSync(p('run')) ? readdirSync(p('run')).filter((n) => n.endsWith('.json')) : []);

describeKernel('signals and concurrency', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-sig-');
	});
	afterEach(async () => cleanScratch(dir));

	test('SIGTERM or SIGINT at any moment of a 120-layer mount: mounted and recorded, or neither', async () => {
		const lowers = Array.from({length: 120}, (_, i) => `l${i + 1}`);
		const r = await runOvl(['prepare', 's', ...lowers.flatMap((l) => ['--lower', l])], {cwd: dir});
		expect(r.exitCode, r.stderr).toBe(0);
		const outcomes = {mounted: 0, interrupted: 0};
		for (let i = 0; i < 24; i++) {
			const res = await interrupted(['mount', 's'], i % 2 ? 'SIGINT' : 'SIGTERM', 100 + ((i * 61) % 1400));
			const mounted = mountsUnder(p('s', 'merged')).length;
			const why = `exit ${res.code} after ${100 + ((i * 61) % 1400)} ms: ${res.stderr}`;
			expect(res.stderr).not.toMatch(/internal error/);
			// null: killed by the signal's default action, before ovl had loaded or after it had finished.
			expect([0, 130, null], why).toContain(res.code);
			// The invariant: mounted and recorded, or neither. 130 means ovl undid what it had done.
			expect([mounted, records().length], why).toEqual(mounted === 1 && res.code !== 130 ? [1, 1] : [0, 0]);
			if (mounted === 1) {
				outcomes.mounted++;
				expect((await runOvl(['umount', p('s', 'merged')], {env: env()})).exitCode).toBe(0);
			} else outcomes.interrupted++;
		}
		console.log(`mount under signals: ${JSON.stringify(outcomes)}`);
		// Both outcomes happen over the spread of delays; neither leaves the other's traces.
		expect(outcomes.interrupted).toBeGreaterThan(0);
		expect(outcomes.mounted).toBeGreaterThan(0);
	});

	test('two mounts of one stack at the same moment: one mounts, the other is refused', async () => {
		expect((await runOvl(['prepare', 's'], {cwd: dir})).exitCode).toBe(0);
		for (let round = 0; round < 5; round++) {
			const [a, b] = await Promise.all([
				runOvl(['mount', 's'], {cwd: dir, env: env()}),
				runOvl(['mount', 's'], {cwd: dir, env: env()}),
			]);
			const codes = [a.exitCode, b.exitCode].sort();
			expect(codes, `${a.stderr}\n${b.stderr}`).toEqual([0, 2]);
			expect([a.stderr, b.stderr].join('\n')).toMatch(/OVL_ALREADY_MOUNTED|OVL_UPPER_IN_USE/);
			expect(mountsUnder(p('s', 'merged'))).toHaveLength(1);
			expect(records()).toHaveLength(1);
			expect((await runOvl(['umount', p('s', 'merged')], {env: env()})).exitCode).toBe(0);
		}
	});

	test('SIGINT during a layer import leaves no partial layer; the next run imports it whole', async () => {
		mkdirSync(p('src', 'd'), {recursive: true});
		for (let i = 0; i < 3000; i++) writeFileSync(p('src', 'd', `f${i}`), `file ${i}\n`);
		await execa('tar', ['-C', p('src'), '-cf', p('big.tar'), '.']);
		let interruptedRuns = 0;
		for (let i = 0; i < 8; i++) {
			const res = await interrupted(['prepare', `img${i}`, '--layer-tar', p('big.tar')], 'SIGINT', 200 + i * 60);
			expect(res.stderr).not.toMatch(/internal error/);
			const layer = p(`img${i}`, 'layer1');
			const left = existsSync(p(`img${i}`)) ? readdirSync(p(`img${i}`)) : [];
			const why = `exit ${res.code} after ${200 + i * 60} ms, left ${left.join(', ')}: ${res.stderr}`;
			const staging = left.filter((n) => n.startsWith('.ovl-import-'));
			expect(staging, why).toEqual([]);
			if (res.code === 130) {
				interruptedRuns++;
				expect(existsSync(layer) ? readdirSync(layer) : [], why).toEqual([]);
			} else if (res.code === null) {
				// Killed by the signal's default action: before ovl had loaded (nothing made) or during
				// Node's exit, the work done and the handlers gone (the stack whole). All or nothing.
				const whole = (): boolean =>
					existsSync(p(`img${i}`, 'ovl.yaml')) && readdirSync(p(`img${i}`, 'layer1', 'd')).length === 3000;
				expect(left.length === 0 || whole(), why).toBe(true);
			} else expect(res.code, why).toBe(0);
			const again = await runOvl(['prepare', `img${i}`, '--layer-tar', p('big.tar')], {cwd: dir});
			expect(again.exitCode, again.stderr).toBe(0);
			expect(readdirSync(p(`img${i}`, 'layer1', 'd'))).toHaveLength(3000);
		}
		expect(interruptedRuns).toBeGreaterThan(0);
	});

	test('SIGINT while mkdir -p <dir> runs stops the run there, however slow the clean-up', async () => {
		mkdirSync(p('src', 'd'), {recursive: true});
		for (let i = 0; i < 300; i++) writeFileSync(p('src', 'd', `f${i}`), `file ${i}\n`);
		await execa('tar', ['-C', p('src'), '-cf', p('big.tar'), '.']);
		// strace holds mkdir(img) for 0.5 s once it is made (inotify sees it: SIGINT then) and the
		// clean-up's rmdir(img) for 1.5 s: meanwhile the run must not go on to its layer or its commit.
		const strace = ['-f', '-qq', '-o', '/dev/null', '-P', p('img'), '-e', 'trace=mkdir,rmdir'];
		const holds = ['-e', 'inject=mkdir:delay_exit=500000:when=1', '-e', 'inject=rmdir:delay_enter=1500000:when=1'];
		const traced = spawn(
			'strace',
			[...strace, ...holds, process.execPath, ovlBin, 'prepare', 'img', '--layer-tar', p('big.tar')],
			{cwd: dir, env: {...process.env, ...env()}, stdio: 'ignore'},
		);
		const watcher = watch(dir, (_, name) => {
			if (name !== 'img') return;
			watcher.close();
			const ovl = readFileSync(`/proc/${traced.pid}/task/${traced.pid}/children`, 'utf8').trim();
			process.kill(Number(ovl), 'SIGINT');
		});
		const code = await new Promise<number | null>((resolve) => traced.on('exit', resolve));
		watcher.close();
		expect(code).toBe(130);
		expect(existsSync(p('img')) ? readdirSync(p('img')) : []).toEqual([]);
	});
});
