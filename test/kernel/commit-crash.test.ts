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

// SIGKILL at every step of a commit's apply phase, then --abort: the lower must be as it was,
// byte for byte; killed again at the same step, then --resume: the result must be the merged view
// exactly. And SIGKILL at every step of an abort, then --abort again. strace kills the process on
// entering the n-th call of one of the syscalls that change the target, found by tracing one
// whole run first.

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

/** The kill points: (syscall, n-th call of it) for every mutating call after the journal write `mark` (until `end`). */
function killPoints(trace: string, mark: RegExp, end?: RegExp): {name: string; nth: number}[] {
	const seen = new Map<string, number>();
	const out: {name: string; nth: number}[] = [];
	let journaled = false;
	for (const line of trace.split('\n')) {
		if (line.startsWith('write(') && mark.test(line)) journaled = true;
		if (journaled && end?.test(line)) break;
		const m = mutating.exec(line);
		if (!m) continue;
		const name = m[1] as string;
		const nth = (seen.get(name) ?? 0) + 1;
		seen.set(name, nth);
		if (journaled) out.push({name, nth});
	}
	return out;
}

const journalHeader = /ovl\.commit-journal\/v2/;
const abortMark = /^write\(\d+, "abort\\n"/;
const verifiedMark = /^write\(\d+, "verified\\n"/;
const verified = (): boolean => readFileSync(p('.ovl-commit-u.json'), 'utf8').includes('\nverified\n');

/** Runs ovl under strace, killed on entering the nth call of `name`; its own TMPDIR, so tests beside it are not its leaks. */
async function killedRun(args: string[], name: string, nth: number): Promise<string> {
	mkdirSync(p('tmp'), {recursive: true});
	const killed = await execa(
		'strace',
		[
			// Only `name` is decoded (--seccomp-bpf would stop only there, but its injections do not fire
			// in node). Not -f: strace counts calls per thread, and the main thread makes every change.
			'-o',
			'/dev/null',
			'-e',
			`trace=${name}`,
			'-e',
			`inject=${name}:signal=SIGKILL:when=${nth}`,
			process.execPath,
			ovlBin,
			...args,
		],
		{reject: false, env: {TMPDIR: p('tmp')}},
	);
	const where = `killed at ${name} #${nth} (exit ${killed.exitCode})`;
	expect(mountsUnder(p('tmp')), where).toEqual([]);
	return where;
}

/** After a rollback: the lower and the upper as they were, no journal, no staging dir. */
async function expectRolledBack(where: string, lower: string, upper: string): Promise<void> {
	expect(await hashTree(p('l1')), where).toBe(lower);
	expect(await hashTree(p('u')), where).toBe(upper);
	expect(existsSync(p('.ovl-commit-u.json')), where).toBe(false);
	expect(
		readdirSync(p('l1')).filter((n) => n.startsWith('.ovl-commit-')),
		where,
	).toEqual([]);
}

describeKernel('a commit killed at any step rolls back, or resumes to the same result', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-commit-kill-');
	});
	afterEach(async () => cleanScratch(dir));

	test('SIGKILL at every mutating syscall of the apply phase, then --abort; again, then --resume', async () => {
		const args = await fixture();
		const trace = p('trace');
		const traced = await execa('strace', ['-o', trace, process.execPath, ovlBin, ...args, '--keep-upper'], {
			reject: false,
		});
		expect(traced.exitCode, traced.stderr).toBe(0);
		const points = killPoints(readFileSync(trace, 'utf8'), journalHeader);
		expect(points.length).toBeGreaterThan(20);
		let resumed = 0;
		let aborted = 0;
		let late = 0;
		for (const {name, nth} of points) {
			await cleanScratch(dir);
			dir = await makeScratch('ovl-commit-kill-');
			const again = await fixture();
			const original = await hashTree(p('l1'));
			const upper = await hashTree(p('u'));
			let where = await killedRun(again, name, nth);
			if (existsSync(p('.ovl-commit-u.json')) && verified()) {
				// Killed while dropping what the commit replaced: too late to roll back.
				const r = await runOvl([...again, '--abort']);
				expect(r.stderr, where).toContain('OVL_COMMIT_APPLIED');
				late++;
			} else if (existsSync(p('.ovl-commit-u.json'))) {
				const r = await runOvl([...again, '--abort']);
				expect(r.exitCode, `${where}: ${r.stderr}`).toBe(0);
				await expectRolledBack(where, original, upper);
				aborted++;
				where = await killedRun(again, name, nth);
			}
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
		console.log(
			`commit killed at ${points.length} points; ${aborted} rolled back, ${resumed} resumed, ${late} after verification`,
		);
		expect(resumed).toBeGreaterThan(points.length * 0.8);
		expect(aborted).toBeGreaterThan(points.length / 3);
	}, 900_000);

	test('SIGKILL at every mutating syscall of an --abort, then --abort again', async () => {
		// The commit is killed at its last step before verification, so the abort has the most to undo.
		const traced = await fixture();
		const trace = p('trace');
		await execa('strace', ['-o', trace, process.execPath, ovlBin, ...traced, '--keep-upper']);
		const last = killPoints(readFileSync(trace, 'utf8'), journalHeader, verifiedMark).at(-1);
		expect(last).toBeDefined();
		const {name, nth} = last as {name: string; nth: number};
		await cleanScratch(dir);
		dir = await makeScratch('ovl-commit-kill-');
		const args = await fixture();
		const lower = await hashTree(p('l1'));
		const upper = await hashTree(p('u'));
		await killedRun(args, name, nth);
		expect(existsSync(p('.ovl-commit-u.json'))).toBe(true);
		// The killed state, copied whole (xattrs, hard links, times) and put back before each run:
		// an abort only moves files, so the copy at the same paths is the same state.
		const saved = `${dir}.killed`;
		await execa('cp', ['-a', dir, saved]);
		const restore = async (): Promise<void> => {
			rmSync(dir, {recursive: true, force: true});
			await execa('cp', ['-a', saved, dir]);
		};
		try {
			await execa('strace', ['-o', `${saved}.trace`, process.execPath, ovlBin, ...args, '--abort']);
			const points = killPoints(readFileSync(`${saved}.trace`, 'utf8'), abortMark);
			expect(points.length).toBeGreaterThan(10);
			for (const point of points) {
				await restore();
				const where = `abort ${await killedRun([...args, '--abort'], point.name, point.nth)}`;
				const r = await runOvl([...args, '--abort']);
				expect(r.exitCode, `${where}: ${r.stderr}`).toBe(0);
				await expectRolledBack(where, lower, upper);
				const resume = await runOvl([...args, '--resume']);
				expect(resume.stderr, where).toContain('OVL_COMMIT_NOTHING_PENDING');
			}
			console.log(`abort killed at ${points.length} points; each rolled back exactly`);
		} finally {
			rmSync(saved, {recursive: true, force: true});
			rmSync(`${saved}.trace`, {force: true});
		}
	}, 600_000);
});
