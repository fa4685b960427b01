import {spawn} from 'node:child_process';
import {existsSync, lstatSync, readdirSync, readFileSync} from 'node:fs';
import {chown} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, afterEach, beforeAll, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {ovlBin, runOvl, type OvlRun} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';

// ovl shell as root and as a throwaway unprivileged user (made here with useradd, removed after):
// the overlay is alive for the command, written through, gone when it exits or ovl is signalled.

let dir = '';
let user: {name: string; uid: number; gid: number} | undefined;
const p = (...x: string[]): string => path.join(dir, ...x);
const env = (): Record<string, string> => ({OVL_RUN_DIR: p('run')});
const records = (): string[] => (existsSync(p('run')) ? readdirSync(p('run')).filter((n) => n.endsWith('.json')) : []);

/** argv that runs ovl as the test user (setpriv: no login, no PAM; HOME in the scratch dir). */
function asUser(args: readonly string[]): string[] {
	if (!user) throw new Error('no test user');
	return [
		'setpriv',
		`--reuid=${user.uid}`,
		`--regid=${user.gid}`,
		'--clear-groups',
		'--',
		'env',
		`HOME=${dir}`,
		`OVL_RUN_DIR=${p('run')}`,
		'NO_COLOR=1',
		process.execPath,
		ovlBin,
		...args,
	];
}

async function runAsUser(args: readonly string[]): Promise<OvlRun> {
	const [cmd = 'setpriv', ...rest] = asUser(args);
	const r = await execa(cmd, rest, {cwd: dir, reject: false, stdin: 'ignore'});
	return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)};
}

/** Starts `argv`, sends `signal` once stderr shows `ready` (by default: the overlay is mounted), resolves with the outcome. */
function signalledOnceMounted(
	argv: readonly string[],
	signal: NodeJS.Signals,
	ready = 'ovl shell: mounted',
): Promise<{code: number | null; stderr: string; ms: number}> {
	return new Promise((resolve, reject) => {
		const [cmd = process.execPath, ...rest] = argv;
		const child = spawn(cmd, rest, {
			cwd: dir,
			env: {...process.env, ...env(), NO_COLOR: '1'},
			stdio: ['ignore', 'ignore', 'pipe'],
		});
		let stderr = '';
		let sent = 0;
		const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
		child.stderr.on('data', (d: Buffer) => {
			stderr += d.toString();
			if (sent === 0 && stderr.includes(ready)) {
				sent = Date.now();
				child.kill(signal);
			}
		});
		child.on('error', reject);
		child.on('exit', (code) => {
			clearTimeout(guard);
			resolve({code, stderr, ms: sent === 0 ? -1 : Date.now() - sent});
		});
	});
}

const sleepers = async (tag: string): Promise<string> =>
	String((await execa('pgrep', ['-af', tag], {reject: false})).stdout).trim();

describeKernel('ovl shell', () => {
	beforeAll(async () => {
		const name = `ovlt${process.pid % 100000}`;
		await execa('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
		const id = async (flag: string): Promise<number> => Number((await execa('id', [flag, name])).stdout);
		user = {name, uid: await id('-u'), gid: await id('-g')};
	});
	afterAll(async () => {
		if (user) await execa('userdel', [user.name], {reject: false});
	});
	beforeEach(async () => {
		dir = await makeScratch('ovl-shell-');
		if (user) await chown(dir, user.uid, user.gid);
	});
	afterEach(async () => {
		// A failed signal test may leave its sleepers: end them by pid, then unmount and remove the scratch dir.
		const left = String((await execa('pgrep', ['-f', '^sleep 300[0-9]$'], {reject: false})).stdout);
		for (const pid of left.split('\n').filter(Boolean)) await execa('kill', ['-9', pid], {reject: false});
		await cleanScratch(dir);
	});

	test('as root: CMD runs in the merged dir with the overlay alive, writes land in the upper, nothing stays mounted', async () => {
		expect((await runOvl(['prepare', 's', '--put', 'lower1/a=lower\\n'], {cwd: dir})).exitCode).toBe(0);
		const r = await runOvl(['shell', 's', '--', 'sh', '-c', 'echo x > f; cat a; pwd; cat /proc/self/mountinfo'], {
			cwd: dir,
			env: env(),
		});
		expect(r.exitCode, r.stderr).toBe(0);
		const line = r.stdout.split('\n').find((l) => l.includes(` ${p('s', 'merged')} `));
		expect(line).toContain(' - overlay overlay ');
		expect(line).toContain(`upperdir=${p('s', 'upper')}`);
		expect(line).not.toContain('userxattr');
		expect(r.stdout).toContain(`lower\n${p('s', 'merged')}\n`);
		expect(readFileSync(p('s', 'upper', 'f'), 'utf8')).toBe('x\n');
		expect(r.stderr).toMatch(/ovl shell: mounted .*merged .*private mount namespace/);
		expect(r.stderr).toContain('private to this shell');
		expect(r.stderr).toContain(`unmounted ${p('s', 'merged')}`);
		expect(mountsUnder(dir)).toEqual([]);
		expect(records()).toEqual([]);
		// ovl exits with the command's code; $SHELL runs when no command is given.
		expect((await runOvl(['shell', 's', '--', 'sh', '-c', 'exit 7'], {cwd: dir, env: env()})).exitCode).toBe(7);
		const viaShell = await execa(process.execPath, [ovlBin, 'shell', 's'], {
			cwd: dir,
			env: {...env(), SHELL: '/bin/sh'},
			input: 'test -f f && exit 5\n',
			reject: false,
		});
		expect(viaShell.exitCode, String(viaShell.stderr)).toBe(5);
		expect(mountsUnder(dir)).toEqual([]);
	});

	test('as an unprivileged user: mounts in a user namespace with userxattr, user.overlay.* xattrs in the upper', async () => {
		const prep = await runAsUser(['prepare', 's', '--put', 'lower1/d/x=1', '--put', 'lower1/a=a']);
		expect(prep.exitCode, prep.stderr).toBe(0);
		const r = await runAsUser([
			'shell',
			's',
			'--',
			'sh',
			'-c',
			'echo x > f && rm a && rm -r d && mkdir d && id -u && grep " $PWD " /proc/self/mountinfo',
		]);
		expect(r.exitCode, r.stderr).toBe(0);
		expect(r.stdout).toMatch(/^0\n/);
		expect(r.stdout).toContain('userxattr');
		expect(r.stderr).toContain('user + mount namespace');
		expect(r.stderr).toContain(`files you make belong to uid ${user?.uid}`);
		expect(r.stderr).not.toContain('OVL_REGISTRY_UNWRITABLE');
		expect(r.stderr).not.toContain('OVL_NEEDS_ROOT');
		const {readXattr} = await import('../../src/io/xattr.js');
		expect((await readXattr(p('s', 'upper', 'd'), 'user.overlay.opaque'))?.toString()).toBe('y');
		expect(await readXattr(p('s', 'upper', 'd'), 'trusted.overlay.opaque')).toBeUndefined();
		const wh = lstatSync(p('s', 'upper', 'a'));
		expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
		expect(lstatSync(p('s', 'upper', 'f')).uid).toBe(user?.uid);
		expect((await runAsUser(['shell', 's', '--', 'false'])).exitCode).toBe(1);
		expect(mountsUnder(dir)).toEqual([]);
		expect(records()).toEqual([]);
	});

	test('as a user, ovl mount points to ovl shell', async () => {
		expect((await runAsUser(['prepare', 's'])).exitCode).toBe(0);
		const r = await runAsUser(['mount', 's']);
		expect(r.exitCode).toBe(4);
		expect(r.stderr).toContain('ovl shell');
		expect(r.stderr).toContain('dies with that namespace');
	});

	test('doctor --path as a user: the rootless route works, the verdict is not unusable, both routes shown', async () => {
		const r = await runAsUser(['doctor', '--path', dir, '--json']);
		expect(r.exitCode, r.stderr).toBe(0);
		const doc = JSON.parse(r.stdout);
		expect(doc.schema).toBe('ovl.doctor/v1');
		expect(doc.verdict).not.toBe('unusable');
		expect(doc.probe).toMatchObject({
			route: 'rootless',
			mounted: true,
			usedUserxattr: true,
			whiteout: true,
			opaque: true,
		});
		expect(doc.routes).toEqual([
			expect.objectContaining({route: 'root', status: 'needs sudo'}),
			expect.objectContaining({route: 'rootless', status: 'works'}),
		]);
		const plain = await runAsUser(['doctor', '--path', dir, '--plain']);
		expect(plain.stdout).toMatch(/^ok\trootless\t.*user namespace \+ userxattr.*works/m);
		expect(plain.stdout).toMatch(/^info\troot mount\t.*needs sudo/m);
		expect(plain.stdout).not.toContain('another filesystem');
		expect(plain.stdout).not.toContain('see the kernel lines above');
		expect(plain.stdout).not.toMatch(/^verdict\tunusable/m);
		expect(readdirSync(dir).filter((n) => n.startsWith('.ovl-doctor-'))).toEqual([]);
		expect(mountsUnder(dir)).toEqual([]);
	});

	test('a signal to ovl shell is passed on to the command, then everything is unmounted', async () => {
		expect((await runAsUser(['prepare', 's'])).exitCode).toBe(0);
		const cases: Array<[string, readonly string[], NodeJS.Signals, number, string?]> = [
			['root', [process.execPath, ovlBin, 'shell', 's', '--', 'sleep', '3001'], 'SIGTERM', 143],
			['user', asUser(['shell', 's', '--', 'sleep', '3002']), 'SIGINT', 130],
			['user', asUser(['shell', 's', '--', 'sleep', '3003']), 'SIGHUP', 129],
			// A command that ignores the signal gets SIGHUP after the grace period.
			[
				'user',
				asUser(['shell', 's', '--', 'sh', '-c', 'trap "" TERM; echo trapped >&2; sleep 3004 & wait; sleep 3004']),
				'SIGTERM',
				129,
				'trapped',
			],
		];
		for (const [who, argv, signal, code, ready] of cases) {
			const r = await signalledOnceMounted(argv, signal, ready);
			const why = `${who} ${signal}: exit ${r.code} after ${r.ms} ms: ${r.stderr}`;
			expect(r.ms, why).toBeGreaterThanOrEqual(0);
			expect(r.code, why).toBe(code);
			expect(r.stderr, why).toContain(`${signal}: passed on`);
			expect(r.stderr, why).toMatch(/ovl shell: .*(unmounted|detached) /);
			expect(r.stderr, why).not.toMatch(/internal error/);
			expect(mountsUnder(dir), why).toEqual([]);
			expect(records(), why).toEqual([]);
		}
		// Nothing the command started outlives the session, not even a job that ignored the signal.
		for (const tag of ['sleep 3001', 'sleep 3002', 'sleep 3003', 'sleep 3004']) expect(await sleepers(tag)).toBe('');
		// The next session mounts: no lock or record was left behind.
		const again = await runAsUser(['shell', 's', '--', 'true']);
		expect(again.exitCode, again.stderr).toBe(0);
	});

	test('two sessions on one upper: the second is refused while the first runs', async () => {
		expect((await runOvl(['prepare', 's'], {cwd: dir})).exitCode).toBe(0);
		const first = execa(process.execPath, [ovlBin, 'shell', 's', '--', 'sleep', '3'], {
			cwd: dir,
			env: env(),
			reject: false,
		});
		await new Promise((r) => setTimeout(r, 1500));
		const second = await runOvl(['shell', 's', '--', 'true'], {cwd: dir, env: env()});
		expect(second.exitCode).toBe(1);
		expect(second.stderr).toContain('OVL_LOCKED');
		expect((await first).exitCode).toBe(0);
		expect(mountsUnder(dir)).toEqual([]);
	});
});
