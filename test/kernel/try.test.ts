import {chownSync, existsSync, mkdirSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree} from '../helpers/overlay.js';
import {ovlBin, runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';
import {compareTrees} from '../helpers/tree-compare.js';
import {hashTree} from '../helpers/tree-hash.js';

// ovl try on real trees: the command sees its directories overlaid; --no leaves them byte for
// byte as they were, --yes leaves them as the command saw them at its end; nothing stays mounted.

let dir = '';
const p = (...parts: string[]): string => path.join(dir, ...parts);
// Installs files, removes one, edits one, and copies what it sees at the end to $SNAP.
const script =
	'mkdir -p bin && echo tool > bin/tool && chmod 755 bin/tool && rm old && echo more >> etc/conf && ln -s bin/tool link && cp -a . "$SNAP"';
const overlayMounts = (): string[] => mountsUnder(dir).filter((m) => m !== dir);

describeKernel('ovl try on real directories', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-try-');
		await makeTree(p('tree'), {old: 'old', 'etc/conf': 'a=1\n', keep: 'k'});
	});
	afterEach(async () => cleanScratch(dir));

	test("--no: the tree is byte-identical afterwards and the exit code is the command's", async () => {
		const before = await hashTree(p('tree'));
		const r = await runOvl(['try', '--no', '--', 'sh', '-c', `${script} && exit 7`], {
			cwd: p('tree'),
			env: {SNAP: p('snap')},
		});
		expect(r.exitCode, r.stderr).toBe(7);
		expect(r.stdout).toMatch(/^A\t\/bin/m);
		expect(r.stdout).toMatch(/^D\t\/old/m);
		expect(r.stderr).toContain('discarded');
		expect(await hashTree(p('tree'))).toBe(before);
		expect(overlayMounts()).toEqual([]);
	});

	test('--yes: the tree equals what the command saw; --json says what changed', async () => {
		// Sessions other tests keep (a failed commit keeps its session) are not this one's.
		const before = readdirSync('/tmp').filter((n) => n.startsWith('ovl-try-'));
		const r = await runOvl(
			['try', '--yes', '--json', '--dir', p('tree'), '--', 'sh', '-c', `cd ${p('tree')} && ${script}`],
			{
				env: {SNAP: p('snap')},
			},
		);
		expect(r.exitCode, r.stderr).toBe(0);
		const doc = JSON.parse(r.stdout) as {
			schema: string;
			decision: string;
			sessions: {changes: {changes: {op: string; path: string}[]}}[];
		};
		expect(doc.schema).toBe('ovl.try/v1');
		expect(doc.decision).toBe('committed');
		expect(doc.sessions[0]?.changes.changes.map((c) => `${c.op} ${c.path}`)).toEqual(
			expect.arrayContaining(['A /bin', 'A /bin/tool', 'D /old', 'C /etc/conf', 'A /link']),
		);
		expect(compareTrees(p('snap'), p('tree'), {xattrs: true})).toEqual([]);
		const sessions = (): string[] =>
			readdirSync('/tmp').filter((n) => n.startsWith('ovl-try-') && existsSync(`/tmp/${n}/upper`));
		expect(sessions().filter((n) => !before.includes(n))).toEqual([]);
	});

	test('--keep DIR, then ovl commit DIR applies it; a session someone else owns is refused', async () => {
		const r = await runOvl(
			['try', '--keep', p('kept'), '--dir', p('tree'), '--', 'sh', '-c', `cd ${p('tree')} && ${script}`],
			{
				env: {SNAP: p('snap')},
			},
		);
		expect(r.exitCode, r.stderr).toBe(0);
		expect(r.stderr).toContain(`ovl commit ${p('kept')}`);
		chownSync(path.join(p('kept'), 'ovl-try.json'), 65534, 65534);
		const refused = await runOvl(['commit', p('kept')]);
		expect(refused.stderr).toContain('OVL_TRY_SESSION_UNSAFE');
		chownSync(path.join(p('kept'), 'ovl-try.json'), 0, 0);
		const c = await runOvl(['commit', p('kept')]);
		expect(c.exitCode, c.stderr).toBe(0);
		expect(compareTrees(p('snap'), p('tree'), {xattrs: true})).toEqual([]);
	});

	test('a mount below the directory is refused, naming it', async () => {
		mkdirSync(p('tree', 'mnt'));
		await execa('mount', ['-t', 'tmpfs', 'tmpfs', p('tree', 'mnt')]);
		const r = await runOvl(['try', '--no', '--dir', p('tree'), '--', 'true']);
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_TRY_NESTED_MOUNT');
		expect(r.stderr).toContain(p('tree', 'mnt'));
	});

	test("as a user (a user namespace with userxattr): --yes commits into the user's own tree, opaque dirs too", async () => {
		// binpash/try #163: rm -r d; mkdir d; touch d/newfile under userxattr left the old files in d.
		await makeTree(p('tree'), {'d/old1': '1', 'd/old2': '2'});
		await execa('chown', ['-R', '65534:65534', dir]);
		const r = await execa(
			'setpriv',
			[
				'--reuid=65534',
				'--regid=65534',
				'--clear-groups',
				process.execPath,
				ovlBin,
				'try',
				'--yes',
				'--',
				'sh',
				'-c',
				`rm -r d && mkdir d && touch d/newfile && ${script}`,
			],
			{cwd: p('tree'), env: {SNAP: p('snap'), HOME: dir, NO_COLOR: '1'}, reject: false},
		);
		expect(r.exitCode, r.stderr).toBe(0);
		expect(compareTrees(p('snap'), p('tree'), {xattrs: true})).toEqual([]);
		expect(readdirSync(p('tree', 'd'))).toEqual(['newfile']);
	});

	test('Ctrl-C while the command runs: it is stopped, nothing is committed or left mounted', async () => {
		const before = await hashTree(p('tree'));
		const child = execa(process.execPath, [ovlBin, 'try', '--yes', '--', 'sh', '-c', 'echo x > new; sleep 30'], {
			cwd: p('tree'),
			reject: false,
			env: {NO_COLOR: '1'},
		});
		let err = '';
		child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
		for (let i = 0; i < 100 && !err.includes('running it'); i++) await new Promise((r) => setTimeout(r, 50));
		await new Promise((r) => setTimeout(r, 300));
		child.kill('SIGINT');
		const r = await child;
		expect(r.exitCode, err).not.toBe(0);
		expect(err).toContain('discarded');
		expect(await hashTree(p('tree'))).toBe(before);
		expect(overlayMounts()).toEqual([]);
	});
});
