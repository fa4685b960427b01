import {
	appendFileSync,
	chmodSync,
	chownSync,
	existsSync,
	linkSync,
	lstatSync,
	mkdirSync,
	readFileSync,
	readdirSync,
	renameSync,
	rmSync,
	symlinkSync,
	utimesSync,
	writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {setXattrSync} from '../../src/io/xattr.js';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree, mountOverlay, umount} from '../helpers/overlay.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {compareTrees} from '../helpers/tree-compare.js';
import {hashTree} from '../helpers/tree-hash.js';

// ovl commit on real overlays: after the commit, the lower (or --into DIR) must equal a copy of
// the merged view taken before it (cp -a: modes, owners, times, xattrs, hard links), and the
// upper must be empty, so the stack mounts again on the new lower and shows the same tree.

let dir = '';
const p = (...parts: string[]): string => path.join(dir, ...parts);
const m = (rel: string): string => path.join(dir, 'm', rel);

async function stack(lower: Record<string, string>, options: string[] = []): Promise<void> {
	await makeTree(p('l1'), lower);
	await mountOverlay({lowers: [p('l1')], upper: p('u'), work: p('w'), merged: p('m'), options});
}

/** cp -a of the merged view: the truth the commit must reproduce. */
async function snapshot(): Promise<void> {
	mkdirSync(p('snap'));
	await execa('cp', ['-a', `${p('m')}/.`, p('snap')]);
}

async function commitAndCompare(args: string[] = [p('m')], target = p('l1')): Promise<void> {
	await snapshot();
	const r = await runOvl(['commit', ...args, '--json']);
	expect(r.exitCode, r.stderr).toBe(0);
	const doc = JSON.parse(r.stdout) as {differences: string[]; upperEmptied: boolean};
	expect(doc.differences).toEqual([]);
	expect(doc.upperEmptied).toBe(true);
	expect(compareTrees(p('snap'), target, {xattrs: true})).toEqual([]);
	expect(readdirSync(p('u'))).toEqual([]);
	expect(existsSync(p('.ovl-commit-u.json'))).toBe(false);
}

describeKernel('ovl commit on real overlays', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-commit-');
	});
	afterEach(async () => cleanScratch(dir));

	test('add, rm, rm -rf + mkdir, chmod/chown/touch, symlinks, fifos, devices, xattrs', async () => {
		await stack({a: 'a\n', b: 'b\n', 'd/x': 'x', 'd/y': 'y', 'e/z': 'z', 'keep/k': 'k', s: 'setuid me'});
		writeFileSync(m('new'), 'new\n');
		rmSync(m('a'));
		rmSync(m('d'), {recursive: true});
		mkdirSync(m('d'));
		writeFileSync(m('d/fresh'), 'fresh');
		chmodSync(m('s'), 0o4755);
		chownSync(m('b'), 1234, 5678);
		utimesSync(m('keep/k'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
		symlinkSync('../b', m('e/link'));
		await execa('mkfifo', [m('fifo')]);
		await execa('mknod', [m('null'), 'c', '1', '3']);
		setXattrSync(m('e/z'), 'user.note', 'hello');
		rmSync(m('e/z'));
		writeFileSync(m('e/z'), 'z again');
		setXattrSync(m('e/z'), 'user.note', 'again');
		await commitAndCompare();
		// The stack mounts again on the new lower and shows the same tree.
		await umount(p('m')).catch(() => undefined);
		await mountOverlay({lowers: [p('l1')], upper: p('u'), work: p('w'), merged: p('m')});
		expect(compareTrees(p('snap'), p('m'), {xattrs: true})).toEqual([]);
	});

	test('dir renames with redirect_dir=on: a moved dir, a swap through a third name, a subdir moved out', async () => {
		await stack({'a/f': 'f', 'a/sub/g': 'g', 'b/h': 'h', 'c/i': 'i'}, ['redirect_dir=on']);
		renameSync(m('a'), m('a2'));
		renameSync(m('b'), m('tmp'));
		renameSync(m('c'), m('b'));
		renameSync(m('tmp'), m('c'));
		mkdirSync(m('a'));
		writeFileSync(m('a/new'), 'in a new a');
		renameSync(m('a2/sub'), m('sub-out'));
		await commitAndCompare();
	});

	test("a relative redirect inside a renamed dir resolves against the parent's origin, not its new path", async () => {
		await stack({'c/c/file': 'precious', 'a-was-not-here': 'x'}, ['redirect_dir=on']);
		renameSync(m('c/c'), m('c/f'));
		renameSync(m('c'), m('a'));
		const r = await runOvl(['inspect', p('m'), '--json']);
		const doc = JSON.parse(r.stdout) as {entries: {path: string; redirect?: {origin: string}}[]};
		expect(doc.entries.find((e) => e.path === '/a/f')?.redirect?.origin).toBe('/c/c');
		await commitAndCompare();
	});

	test('dir rename without redirect_dir (mv copies): the result is the same tree', async () => {
		await stack({'a/f': 'f', 'a/sub/g': 'g'});
		await execa('mv', [m('a'), m('moved')]);
		await commitAndCompare();
	});

	test('metacopy=on: chmod keeps the data in the lower (metadata only), chmod then write copies it', async () => {
		await stack({meta: 'data stays\n', both: 'old\n', moved: 'moved data\n'}, ['redirect_dir=on', 'metacopy=on']);
		chmodSync(m('meta'), 0o600);
		chmodSync(m('both'), 0o640);
		appendFileSync(m('both'), 'new\n');
		chmodSync(m('moved'), 0o600);
		renameSync(m('moved'), m('moved-here'));
		const dry = await runOvl(['commit', p('m'), '--dry-run']);
		expect(dry.exitCode, dry.stderr).toBe(0);
		expect(dry.stdout).toMatch(/^meta +\/meta +\(metacopy: the data is already here; metadata only\)$/m);
		expect(dry.stdout).toMatch(/write file +\/moved-here +\(metacopy: data from \/moved\)/);
		await commitAndCompare();
	});

	test('hard links: index=on writes the lower inode in place (its other name sees it), index=off breaks the link', async () => {
		for (const index of ['on', 'off']) {
			await stack({a: 'linked\n', 'x/keep': 'k'}, [`index=${index}`]);
			linkSync(p('l1', 'a'), p('l1', 'b'));
			await umount(p('m'));
			await mountOverlay({lowers: [p('l1')], upper: p('u'), work: p('w'), merged: p('m'), options: [`index=${index}`]});
			appendFileSync(m('a'), 'more\n');
			linkSync(m('x/keep'), m('x/keep2'));
			await commitAndCompare();
			await cleanScratch(dir);
			dir = await makeScratch('ovl-commit-');
		}
	});

	test('a 3-lower stack, --into a copy of the lowers: exact, and no lower is touched', async () => {
		await makeTree(p('l1'), {a: '1', 'd/one': '1'});
		await makeTree(p('l2'), {b: '2', 'd/two': '2'});
		await makeTree(p('l3'), {c: '3', 'd/three': '3'});
		await mountOverlay({lowers: [p('l1'), p('l2'), p('l3')], upper: p('u'), work: p('w'), merged: p('m')});
		rmSync(m('a'));
		rmSync(m('d/two'));
		writeFileSync(m('d/four'), '4');
		// --into: a tree that holds what the lowers show (here: a copy of a lowers-only mount).
		mkdirSync(p('lo'));
		await execa('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${p('l3')}:${p('l2')}:${p('l1')}`, p('lo')]);
		mkdirSync(p('into'));
		await execa('cp', ['-a', `${p('lo')}/.`, p('into')]);
		await umount(p('lo'));
		const lowers = await Promise.all(['l1', 'l2', 'l3'].map((l) => hashTree(p(l))));
		await commitAndCompare([p('m'), '--into', p('into')], p('into'));
		expect(await Promise.all(['l1', 'l2', 'l3'].map((l) => hashTree(p(l))))).toEqual(lowers);
	});

	test('a 3-lower stack into the top lower: whiteouts and opaque markers hide what the layers below hold', async () => {
		await makeTree(p('l1'), {a: '1', 'd/one': '1', 'o/x': 'x', 'only1/f': 'f'});
		await makeTree(p('l2'), {b: '2', 'd/two': '2', 'o/y': 'y'});
		await makeTree(p('l3'), {c: '3', 'd/three': '3'});
		const opts = ['redirect_dir=on', 'metacopy=on'];
		await mountOverlay({
			lowers: [p('l1'), p('l2'), p('l3')],
			upper: p('u'),
			work: p('w'),
			merged: p('m'),
			options: opts,
		});
		rmSync(m('a'));
		rmSync(m('d/two'));
		rmSync(m('c'));
		writeFileSync(m('d/four'), '4');
		rmSync(m('o'), {recursive: true});
		mkdirSync(m('o'));
		writeFileSync(m('o/z'), 'z');
		appendFileSync(m('b'), 'more');
		chmodSync(m('only1/f'), 0o600);
		renameSync(m('d'), m('d-moved-is-refused'));
		const refused = await runOvl(['commit', p('m'), '--dry-run']);
		expect(refused.exitCode).toBe(1);
		expect(refused.stderr).toContain('OVL_COMMIT_REFUSED');
		renameSync(m('d-moved-is-refused'), m('d'));
		const lower12 = [await hashTree(p('l1')), await hashTree(p('l2'))];
		await snapshot();
		const r = await runOvl(['commit', p('m'), '--json']);
		expect(r.exitCode, r.stderr).toBe(0);
		expect([await hashTree(p('l1')), await hashTree(p('l2'))]).toEqual(lower12);
		await mountOverlay({
			lowers: [p('l1'), p('l2'), p('l3')],
			upper: p('u'),
			work: p('w'),
			merged: p('m'),
			options: opts,
		});
		expect(compareTrees(p('snap'), p('m'), {xattrs: true})).toEqual([]);
	});

	test('--dry-run and --json plan change nothing; --paths commits one subtree and keeps the rest in the upper', async () => {
		await stack({'a/f': 'f', 'b/g': 'g'});
		writeFileSync(m('a/new'), 'n');
		writeFileSync(m('b/new'), 'n');
		const before = [await hashTree(p('l1')), await hashTree(p('u'))];
		const plan = await runOvl(['commit', p('m'), '--dry-run', '--json']);
		expect(plan.exitCode, plan.stderr).toBe(0);
		const doc = JSON.parse(plan.stdout) as {actions: {op: string; path: string}[]};
		expect(doc.actions.map((a) => `${a.op} ${a.path}`)).toEqual([
			'dir /a',
			'write /a/new',
			'dir /b',
			'write /b/new',
			'meta /b',
			'meta /a',
			'meta /',
		]);
		expect([await hashTree(p('l1')), await hashTree(p('u'))]).toEqual(before);
		const r = await runOvl(['commit', p('m'), '--paths', '/a']);
		expect(r.exitCode, r.stderr).toBe(0);
		expect(existsSync(p('l1', 'a', 'new'))).toBe(true);
		expect(existsSync(p('l1', 'b', 'new'))).toBe(false);
		expect(existsSync(p('u', 'b', 'new'))).toBe(true);
		expect(existsSync(p('u', 'a'))).toBe(false);
	});

	test('ENOSPC part-way: the journal says so, inspect warns, commit refuses to start over, --resume finishes it exactly', async () => {
		mkdirSync(p('small'));
		await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', p('small')]);
		await makeTree(p('small', 'l1'), {a: 'a'});
		await mountOverlay({lowers: [p('small', 'l1')], upper: p('u'), work: p('w'), merged: p('m')});
		for (let i = 0; i < 5; i++) writeFileSync(m(`f${i}`), Buffer.alloc(400_000, i));
		await snapshot();
		const r = await runOvl(['commit', p('m')]);
		expect(r.exitCode, r.stderr).toBe(1);
		expect(r.stderr).toContain('OVL_NO_SPACE');
		expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
		expect(existsSync(p('.ovl-commit-u.json'))).toBe(true);
		const inspect = await runOvl(['inspect', '--upper', p('u'), '--lower', p('small', 'l1'), '--json']);
		expect((JSON.parse(inspect.stdout) as {findings: {code: string}[]}).findings.map((f) => f.code)).toContain(
			'OVL_COMMIT_PENDING',
		);
		const again = await runOvl(['commit', '--upper', p('u'), '--lower', p('small', 'l1'), '--work', p('w')]);
		expect(again.exitCode).toBe(1);
		expect(again.stderr).toContain('OVL_COMMIT_PENDING');
		// Mounted again meanwhile: ls says a commit is pending, and --resume refuses a live lower.
		await mountOverlay({lowers: [p('small', 'l1')], upper: p('u'), work: p('w'), merged: p('m')});
		const ls = JSON.parse((await runOvl(['ls', '--json'])).stdout) as {
			mounts: {mountPoint: string; commitPending?: boolean}[];
		};
		expect(ls.mounts.find((x) => x.mountPoint === p('m'))?.commitPending).toBe(true);
		const live = await runOvl(['commit', '--resume', '--upper', p('u'), '--lower', p('small', 'l1'), '--work', p('w')]);
		expect(live.stderr).toContain('OVL_COMMIT_TARGET_LIVE');
		await umount(p('m'));
		await execa('mount', ['-o', 'remount,size=8m', p('small')]);
		const resumed = await runOvl([
			'commit',
			'--resume',
			'--upper',
			p('u'),
			'--lower',
			p('small', 'l1'),
			'--work',
			p('w'),
		]);
		expect(resumed.exitCode, resumed.stderr).toBe(0);
		expect(compareTrees(p('snap'), p('small', 'l1'), {xattrs: true})).toEqual([]);
		expect(readdirSync(p('u'))).toEqual([]);
		expect(existsSync(p('.ovl-commit-u.json'))).toBe(false);
	});

	test('--abort rolls a stopped commit back byte for byte and keeps the upper; the commit then runs again', async () => {
		mkdirSync(p('small'));
		await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', p('small')]);
		const l1 = p('small', 'l1');
		await makeTree(l1, {old: 'o'.repeat(300_000), a: 'a', 'd/x': 'x', 'e/z': 'z', 'keep/k': 'k'});
		setXattrSync(path.join(l1, 'keep'), 'user.tag', 'v');
		utimesSync(path.join(l1, 'd'), 1e9, 1e9);
		await mountOverlay({
			lowers: [l1],
			upper: p('u'),
			work: p('w'),
			merged: p('m'),
			options: ['redirect_dir=on', 'metacopy=on'],
		});
		writeFileSync(m('old'), Buffer.alloc(300_000, 1)); // the old bytes stay in the trash until verified
		rmSync(m('a'));
		renameSync(m('d'), m('d2'));
		rmSync(m('e'), {recursive: true});
		mkdirSync(m('e'));
		chmodSync(m('keep'), 0o700);
		for (let i = 0; i < 3; i++) writeFileSync(m(`f${i}`), Buffer.alloc(300_000, i));
		await snapshot();
		await umount(p('m'));
		const before = await hashTree(l1);
		const upper = await hashTree(p('u'));
		const layers = ['--upper', p('u'), '--lower', l1, '--work', p('w')];
		const stopped = await runOvl(['commit', ...layers]);
		expect(stopped.stderr).toContain('OVL_NO_SPACE');
		const pending = await runOvl(['commit', ...layers]);
		expect(pending.stderr).toContain('--abort');
		const mixed = await runOvl(['commit', ...layers, '--abort', '--dry-run']);
		expect(mixed.exitCode).toBe(2);
		const aborted = await runOvl(['commit', ...layers, '--abort', '--json']);
		expect(aborted.exitCode, aborted.stderr).toBe(0);
		expect((JSON.parse(aborted.stdout) as {undone: number}).undone).toBeGreaterThan(3);
		expect(await hashTree(l1)).toBe(before);
		expect(await hashTree(p('u'))).toBe(upper);
		expect(readdirSync(l1).filter((n) => n.startsWith('.ovl-'))).toEqual([]);
		expect(existsSync(p('.ovl-commit-u.json'))).toBe(false);
		const again = await runOvl(['commit', ...layers, '--abort']);
		expect(again.stderr).toContain('OVL_COMMIT_NOTHING_PENDING');
		// Once verified, what the commit replaced is being dropped: only --resume may finish it.
		expect((await runOvl(['commit', ...layers])).stderr).toContain('OVL_NO_SPACE');
		const journal = p('.ovl-commit-u.json');
		const text = readFileSync(journal, 'utf8');
		writeFileSync(journal, `${text}verified\n`);
		expect((await runOvl(['commit', ...layers, '--abort'])).stderr).toContain('OVL_COMMIT_APPLIED');
		writeFileSync(journal, text);
		expect((await runOvl(['commit', ...layers, '--abort'])).exitCode).toBe(0);
		expect(await hashTree(l1)).toBe(before);
		await execa('mount', ['-o', 'remount,size=8m', p('small')]);
		const done = await runOvl(['commit', ...layers]);
		expect(done.exitCode, done.stderr).toBe(0);
		expect(compareTrees(p('snap'), l1, {xattrs: true})).toEqual([]);
		for (const r of [stopped, pending, aborted, again, done]) expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
	});

	test('index=on and a copy of the overlay in another mount namespace: the view waits for it, then names it', async () => {
		await stack({a: 'a'}, ['index=on']);
		writeFileSync(m('n'), 'new');
		await snapshot();
		const holder = (seconds: number) =>
			execa('unshare', ['-m', '--propagation', 'private', 'sleep', String(seconds)], {reject: false});
		const brief = holder(2);
		await new Promise((r) => setTimeout(r, 300));
		const waited = await runOvl(['commit', p('m')]);
		await brief;
		expect(waited.exitCode, waited.stderr).toBe(0);
		expect(compareTrees(p('snap'), p('l1'), {xattrs: true})).toEqual([]);
		await mountOverlay({lowers: [p('l1')], upper: p('u'), work: p('w'), merged: p('m'), options: ['index=on']});
		writeFileSync(m('n2'), 'new');
		const long = holder(60);
		try {
			await new Promise((r) => setTimeout(r, 300));
			const named = await runOvl(['commit', p('m')]);
			expect(named.exitCode).toBe(1);
			expect(named.stderr).toContain('OVL_COMMIT_VIEW');
			expect(named.stderr).toMatch(/pid \d+ \(sleep\): mount namespace/);
			expect(existsSync(p('.ovl-commit-u.json'))).toBe(false);
		} finally {
			long.kill('SIGKILL');
			await long;
		}
		const r = await runOvl(['commit', '--upper', p('u'), '--lower', p('l1'), '--work', p('w')]);
		expect(r.exitCode, r.stderr).toBe(0);
		expect(readdirSync(p('l1')).sort()).toEqual(['a', 'n', 'n2']);
	});

	test('hard links in the lower: a metacopy of one name (index=off) gets its own inode; a renamed indexed name is refused', async () => {
		await stack({a: 'data\n'}, ['redirect_dir=on', 'metacopy=on', 'index=off']);
		await umount(p('m'));
		linkSync(p('l1', 'a'), p('l1', 'b'));
		await mountOverlay({
			lowers: [p('l1')],
			upper: p('u'),
			work: p('w'),
			merged: p('m'),
			options: ['redirect_dir=on', 'metacopy=on', 'index=off'],
		});
		chmodSync(m('a'), 0o600);
		await commitAndCompare();
		await cleanScratch(dir);
		dir = await makeScratch('ovl-commit-');
		await stack({a: 'data\n'}, ['redirect_dir=on', 'index=on']);
		await umount(p('m'));
		linkSync(p('l1', 'a'), p('l1', 'b'));
		await mountOverlay({
			lowers: [p('l1')],
			upper: p('u'),
			work: p('w'),
			merged: p('m'),
			options: ['redirect_dir=on', 'index=on'],
		});
		mkdirSync(m('d'));
		renameSync(m('b'), m('d/b'));
		const before = await hashTree(p('l1'));
		const r = await runOvl(['commit', p('m')]);
		expect(r.exitCode).toBe(1);
		expect(r.stderr).toContain('OVL_COMMIT_REFUSED');
		expect(await hashTree(p('l1'))).toBe(before);
	});

	test('hostile inputs: --into the upper or a missing dir, a torn or foreign journal, a malformed try session', async () => {
		await stack({a: 'a'});
		writeFileSync(m('n'), 'new');
		await umount(p('m'));
		const layers = ['--upper', p('u'), '--lower', p('l1'), '--work', p('w')];
		const into = await runOvl(['commit', ...layers, '--into', p('u')]);
		expect(into.stderr).toContain('OVL_COMMIT_TARGET_OVERLAPS');
		expect(readdirSync(p('u'))).toEqual(['n']);
		const missing = await runOvl(['commit', ...layers, '--into', p('nope')]);
		expect(missing.stderr).toContain('OVL_PATH_MISSING');
		expect(existsSync(p('.ovl-commit-u.json'))).toBe(false);
		writeFileSync(p('.ovl-commit-u.json'), '{"schema":"something else","actions":[]');
		const torn = await runOvl(['commit', ...layers, '--dry-run']);
		expect(torn.exitCode, torn.stderr).toBe(0); // a header that never became whole: no action ran
		expect(existsSync(p('.ovl-commit-u.json'))).toBe(false);
		writeFileSync(p('.ovl-commit-u.json'), '{"schema":"something else"}\n');
		const foreign = await runOvl(['commit', ...layers]);
		expect(foreign.stderr).toContain('OVL_COMMIT_JOURNAL_INVALID');
		rmSync(p('.ovl-commit-u.json'));
		mkdirSync(p('kept'), {mode: 0o700});
		for (const bad of ['{bad', '{"sessions":[{}]}']) {
			writeFileSync(p('kept', 'ovl-try.json'), bad, {mode: 0o600});
			const r = await runOvl(['commit', p('kept')]);
			expect(r.stderr, bad).toContain('OVL_TRY_SESSION_UNSAFE');
		}
		for (const r of [into, missing, torn, foreign]) expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
	});

	test('never through a symlink in the target: a lower dir swapped for a link elsewhere, nothing written there', async () => {
		await stack({'d/f': 'f'});
		writeFileSync(m('d/new'), 'n');
		await umount(p('m'));
		rmSync(p('l1', 'd'), {recursive: true});
		mkdirSync(p('elsewhere'));
		symlinkSync(p('elsewhere'), p('l1', 'd'));
		const r = await runOvl(['commit', '--upper', p('u'), '--lower', p('l1'), '--work', p('w')]);
		expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
		// Refused, or the link replaced by a real directory: either way nothing went through it.
		expect(readdirSync(p('elsewhere'))).toEqual([]);
		if (r.exitCode === 0) expect(lstatSync(p('l1', 'd')).isDirectory()).toBe(true);
	});
});
