import {
	appendFileSync,
	chmodSync,
	existsSync,
	mkdirSync,
	readFileSync,
	readdirSync,
	renameSync,
	rmSync,
	writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree, mountOverlay, umount} from '../helpers/overlay.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';
import {compareTrees} from '../helpers/tree-compare.js';
import {hashTree} from '../helpers/tree-hash.js';

// SIGKILL at every step of a commit's apply phase, then --resume: the result must be the merged
// view exactly. strace kills the process on entering the n-th call of one of the syscalls that
// change the target (or append to the journal), found by tracing one whole run first.

let dir = '';
const p = (...parts: string[]): string => path.join(dir, ...parts);
// Not write(2): libuv's wakeup writes vary from run to run, so the n-th write may fall elsewhere
// (even before the journal, while the view is mounted); a kill at a data or journal write leaves
// the state a kill at the next rename or the next action's first call leaves, and those are here.
const mutating =
	/^(rename|unlink|rmdir|mkdir|link|symlink|mknodat|fchmod|chmod|lchown|fchown|utimensat|lsetxattr|lremovexattr|ftruncate)\(/;

/** A small stack with one of each kind of change, unmounted, plus cp -a of its merged view. */
async function fixture(): Promise<string[]> {
	await makeTree(p('l1'), {a: 'a', b: 'b', c: 'c', 'd/x': 'x', 'd/y': 'y', 'e/z': 'z', 'keep/k': 'k'});
	const m = p('m');
	await mountOverlay({
		lowers: [p('l1')],
		upper: p('u'),
		work: p('w'),
		merged: m,
		options: ['redirect_dir=on', 'metacopy=on'],
	});
	rmSync(path.join(m, 'a'));
	appendFileSync(path.join(m, 'b'), 'more');
	chmodSync(path.join(m, 'c'), 0o600);
	renameSync(path.join(m, 'd'), path.join(m, 'd2'));
	rmSync(path.join(m, 'e'), {recursive: true});
	mkdirSync(path.join(m, 'e'));
	writeFileSync(path.join(m, 'e', 'fresh'), 'fresh');
	writeFileSync(path.join(m, 'new'), 'new');
	mkdirSync(p('snap'));
	await execa('cp', ['-a', `${m}/.`, p('snap')]);
	await umount(m);
	return ['commit', '--upper', p('u'), '--lower', p('l1'), '--work', p('w')];
}

/** The kill points: (syscall, n-th call of it) for every mutating call after the journal was written. */
function killPoints(trace: string): {name: string; nth: number}[] {
	const seen = new Map<string, number>();
	const out: {name: string; nth: number}[] = [];
	let journaled = false;
	for (const line of trace.split('\n')) {
		if (line.startsWith('write(') && line.includes('ovl.commit-journal/v1')) journaled = true;
		const m = mutating.exec(line);
		if (!m) continue;
		const name = m[1] as string;
		const nth = (seen.get(name) ?? 0) + 1;
		seen.set(name, nth);
		if (journaled) out.push({name, nth});
	}
	return out;
}

describeKernel('a commit killed at any step resumes to the same result', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-commit-kill-');
	});
	afterEach(async () => cleanScratch(dir));

	test('SIGKILL at every mutating syscall of the apply phase, then ovl commit --resume', async () => {
		const args = await fixture();
		const trace = p('trace');
		const traced = await execa('strace', ['-o', trace, process.execPath, ovlBin, ...args, '--keep-upper'], {
			reject: false,
		});
		expect(traced.exitCode, traced.stderr).toBe(0);
		const points = killPoints(readFileSync(trace, 'utf8'));
		expect(points.length).toBeGreaterThan(20);
		let resumed = 0;
		for (const {name, nth} of points) {
			await cleanScratch(dir);
			dir = await makeScratch('ovl-commit-kill-');
			const again = await fixture();
			const original = await hashTree(p('l1'));
			// Its own TMPDIR: the view mounts of tests running beside this one are not its leaks.
			mkdirSync(p('tmp'));
			const killed = await execa(
				'strace',
				['-o', '/dev/null', '-e', `inject=${name}:signal=SIGKILL:when=${nth}`, process.execPath, ovlBin, ...again],
				{reject: false, env: {TMPDIR: p('tmp')}},
			);
			const where = `killed at ${name} #${nth} (exit ${killed.exitCode})`;
			expect(mountsUnder(p('tmp')), where).toEqual([]);
			if (existsSync(p('.ovl-commit-u.json'))) {
				const r = await runOvl([...again, '--resume']);
				expect(r.exitCode, `${where}: ${r.stderr}`).toBe(0);
				resumed++;
			} else if (readdirSync(p('u')).length > 0) {
				// The n-th call came before the journal in this run (a wakeup write more or less than
				// in the traced one): nothing may have changed, and the commit simply runs again.
				expect(await hashTree(p('l1')), where).toBe(original);
				const r = await runOvl(again);
				expect(r.exitCode, `${where}: ${r.stderr}`).toBe(0);
			}
			expect(compareTrees(p('snap'), p('l1'), {xattrs: true}), where).toEqual([]);
			expect(readdirSync(p('u')), where).toEqual([]);
			expect(existsSync(p('.ovl-commit-u.json')), where).toBe(false);
		}
		console.log(`commit killed at ${points.length} points; ${resumed} left a journal and were resumed`);
		expect(resumed).toBeGreaterThan(points.length / 2);
	}, 600_000);
});
