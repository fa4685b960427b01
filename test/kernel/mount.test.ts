import {existsSync, lstatSync, readFileSync, readdirSync, readlinkSync} from 'node:fs';
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, afterEach, beforeEach, expect, test} from 'vitest';
import {decodeOverlay, parseMountinfo, topMountAt} from '../../src/core/mountinfo.js';
import {describeKernel} from '../helpers/kernel.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch, mountsUnder} from '../helpers/scratch.js';
import {hashTree} from '../helpers/tree-hash.js';
import {waitUntil} from '../helpers/wait.js';

let dir = '';
let env: Record<string, string> = {};
const lowerHashes = new Map<string, string>();
const scratches: string[] = [];

const overlayAt = (mp: string) => {
	const e = topMountAt(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')), mp);
	return e ? decodeOverlay(e) : undefined;
};

/** Record lower digests now; afterEach asserts they did not change. */
async function guardLowers(...lowers: string[]): Promise<void> {
	for (const l of lowers) lowerHashes.set(l, await hashTree(l));
}

describeKernel('ovl mount on the real kernel', () => {
	beforeEach(async () => {
		dir = await makeScratch();
		scratches.push(dir);
		env = {OVL_RUN_DIR: path.join(dir, 'run')};
		lowerHashes.clear();
	});
	afterEach(async () => {
		const changed: string[] = [];
		for (const [l, before] of lowerHashes) if ((await hashTree(l)) !== before) changed.push(l);
		await cleanScratch(dir);
		expect(changed, 'lower layers must be byte-identical after the test').toEqual([]);
	});
	afterAll(() => {
		for (const s of scratches) expect(mountsUnder(s)).toEqual([]);
	});

	test('the seed experiment through the CLI: shadowed b, rm a leaves a 0/0 whiteout', async () => {
		const prep = await runOvl(
			[
				'prepare',
				'demo',
				'--put',
				'lower1/a=docker\\noverlay\\n',
				'--put',
				'lower1/b=old b\\n',
				'--put',
				'lower2/b=filesystem\\n',
			],
			{cwd: dir, env},
		);
		expect(prep.exitCode, prep.stderr).toBe(0);
		const demo = path.join(dir, 'demo');
		await guardLowers(path.join(demo, 'lower1'), path.join(demo, 'lower2'));
		const m = await runOvl(['mount', 'demo', '--json'], {cwd: dir, env});
		expect(m.exitCode, m.stderr).toBe(0);
		const doc = JSON.parse(m.stdout);
		expect(doc.plan.strategy).toBe('absolute');
		expect(doc.plan.options).toBe(
			`lowerdir=${demo}/lower2:${demo}/lower1,upperdir=${demo}/upper,workdir=${demo}/work,index=off`,
		);
		const merged = path.join(demo, 'merged');
		expect(readdirSync(merged).sort()).toEqual(['a', 'b']);
		expect(readFileSync(path.join(merged, 'b'), 'utf8')).toBe('filesystem\n');
		expect(readFileSync(path.join(merged, 'a'), 'utf8')).toBe('docker\noverlay\n');
		const {rmSync} = await import('node:fs');
		rmSync(path.join(merged, 'a'));
		const wh = lstatSync(path.join(demo, 'upper', 'a'));
		expect(wh.isCharacterDevice()).toBe(true);
		expect(wh.rdev).toBe(0);
		expect(readFileSync(path.join(demo, 'lower1', 'a'), 'utf8')).toBe('docker\noverlay\n');
		expect(readdirSync(merged)).toEqual(['b']);
		const ls = JSON.parse((await runOvl(['ls', '--json'], {env})).stdout);
		expect(ls.mounts.find((x: {mountPoint: string}) => x.mountPoint === merged)).toMatchObject({
			mountedBy: 'ovl',
			strategy: 'absolute',
			upper: `${demo}/upper`,
			lowers: [{path: `${demo}/lower1`}, {path: `${demo}/lower2`}],
		});
		const u = await runOvl(['umount', 'demo/merged'], {cwd: dir, env});
		expect(u.exitCode, u.stderr).toBe(0);
		expect(overlayAt(merged)).toBeUndefined();
		expect(readdirSync(path.join(dir, 'run')).filter((n) => n.endsWith('.json'))).toEqual([]);
	});

	test('the stack dir stands for its overlay (inspect, umount); a path inside one names it; the success line says which lower is on top', async () => {
		const prep = await runOvl(['prepare', 'seed', '--put', 'lower1/a=1', '--put', 'lower2/b=2'], {cwd: dir, env});
		expect(prep.exitCode, prep.stderr).toBe(0);
		const m = await runOvl(['mount', 'seed'], {cwd: dir, env});
		expect(m.exitCode, m.stderr).toBe(0);
		expect(m.stdout).toContain('2 lower layers, lower2 on top of lower1');
		const merged = path.join(dir, 'seed', 'merged');
		await writeFile(path.join(merged, 'c'), 'new\n');
		const inspect = await runOvl(['inspect', 'seed', '--plain'], {cwd: dir, env});
		expect(inspect.exitCode, inspect.stderr).toBe(0);
		expect(inspect.stdout).toMatch(/^new\t\/c\t/m);
		await mkdir(path.join(merged, 'sub'));
		const inside = await runOvl(['umount', 'seed/merged/sub'], {cwd: dir, env});
		expect(inside.exitCode).toBe(2);
		expect(inside.stderr).toContain(`it is inside the overlay on ${merged}`);
		const u = await runOvl(['umount', 'seed'], {cwd: dir, env});
		expect(u.exitCode, u.stderr).toBe(0);
		expect(u.stdout).toContain(`unmounted ${merged}`);
		expect(overlayAt(merged)).toBeUndefined();
	});

	test('500 layers under a long root: relative strategy, every layer verified in mountinfo', async () => {
		const root = path.join(dir, `${'a-rather-long-directory-name-'.repeat(4)}x`, `${'and-another-one-'.repeat(4)}y`);
		const lowers = Array.from({length: 500}, (_, i) => path.join(root, `l${i}`));
		for (const [i, l] of lowers.entries()) {
			await mkdir(l, {recursive: true});
			await writeFile(path.join(l, `f${i}`), String(i));
			await writeFile(path.join(l, 'shadow'), String(i));
		}
		const absoluteBytes = lowers.reduce((n, l) => n + l.length + 1, 0);
		expect(absoluteBytes).toBeGreaterThan(4095);
		await guardLowers(lowers[0] as string, lowers[499] as string);
		const args = [
			'mount',
			...lowers.flatMap((l) => ['--lower', l]),
			'--upper',
			path.join(root, 'upper'),
			'--work',
			path.join(root, 'work'),
			path.join(dir, 'm'),
			'--json',
		];
		const r = await runOvl(args, {env});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(JSON.parse(r.stdout).plan.strategy).toBe('relative');
		const o = overlayAt(path.join(dir, 'm'));
		expect(o?.layers.lowers).toHaveLength(500);
		expect(o?.layers.lowers.map((l) => l.path)).toEqual([...lowers].reverse().map((l) => path.relative(root, l)));
		expect(readFileSync(path.join(dir, 'm', 'shadow'), 'utf8')).toBe('499');
		expect(readdirSync(path.join(dir, 'm'))).toHaveLength(501);
	});

	test('500 layers with long names everywhere: descriptors, still verified', async () => {
		const lowers = Array.from({length: 500}, (_, i) => path.join(dir, `layer-with-a-long-name-${'z'.repeat(40)}-${i}`));
		for (const [i, l] of lowers.entries()) {
			await mkdir(l);
			await writeFile(path.join(l, 'shadow'), String(i));
		}
		const r = await runOvl(['mount', ...lowers.flatMap((l) => ['--lower', l]), path.join(dir, 'm'), '--json'], {env});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(JSON.parse(r.stdout).plan.strategy).toBe('fd');
		expect(readFileSync(path.join(dir, 'm', 'shadow'), 'utf8')).toBe('499');
		const ls = JSON.parse((await runOvl(['ls', '--json'], {env})).stdout);
		const listed = ls.mounts.find((x: {mountPoint: string}) => x.mountPoint === path.join(dir, 'm'));
		expect(listed.lowers.map((l: {path: string}) => l.path)).toEqual(lowers);
		expect(listed.readOnly).toBe(true);
	});

	test('501 layers are refused before anything is mounted or created', async () => {
		const lowers = Array.from({length: 501}, (_, i) => path.join(dir, 'L', String(i)));
		for (const l of lowers) await mkdir(l, {recursive: true});
		const r = await runOvl(
			[
				'mount',
				...lowers.flatMap((l) => ['--lower', l]),
				'--upper',
				path.join(dir, 'u'),
				'--work',
				path.join(dir, 'w'),
				path.join(dir, 'm'),
			],
			{env},
		);
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_TOO_MANY_LOWERS');
		expect(r.stderr).toMatch(/501 lower layers; the kernel's limit is 500/);
		for (const p of ['u', 'w', 'm']) expect(existsSync(path.join(dir, p))).toBe(false);
		expect(mountsUnder(dir)).toEqual([]);
	});

	test('hostile names mount as exactly those directories', async () => {
		// A lower whose path reads like `…,upperdir=<evil>`: naively joined, it would swap the upper.
		const evil = path.join(dir, 'evil');
		const names = [`x,upperdir=${evil}`, 'a:b', 'back\\slash', 'sp ace', 'new\nline', 'ünï', 'l,ro'];
		await mkdir(evil);
		const lowers: string[] = [];
		for (const [i, n] of names.entries()) {
			const l = path.join(dir, n);
			await mkdir(l, {recursive: true});
			await writeFile(path.join(l, `from-${i}`), n);
			lowers.push(l);
		}
		await guardLowers(...lowers, evil);
		const r = await runOvl(
			[
				'mount',
				...lowers.flatMap((l) => ['--lower', l]),
				'--upper',
				path.join(dir, 'u'),
				'--work',
				path.join(dir, 'w'),
				path.join(dir, 'm'),
				'--json',
			],
			{env},
		);
		expect(r.exitCode, r.stderr).toBe(0);
		expect(JSON.parse(r.stdout).plan.strategy).toBe('fd');
		expect(readdirSync(path.join(dir, 'm')).sort()).toEqual(names.map((_, i) => `from-${i}`).sort());
		await writeFile(path.join(dir, 'm', 'written'), 'x');
		expect(existsSync(path.join(dir, 'u', 'written'))).toBe(true);
		expect(readdirSync(evil)).toEqual([]);
	});

	test('names with : \\ space and newline use the absolute strategy, escaped', async () => {
		const names = ['a:b', 'back\\slash', 'sp ace', 'new\nline'];
		const lowers = names.map((n) => path.join(dir, n));
		for (const l of lowers) await mkdir(l);
		const r = await runOvl(['mount', ...lowers.flatMap((l) => ['--lower', l]), path.join(dir, 'm'), '--json'], {env});
		expect(r.exitCode, r.stderr).toBe(0);
		expect(JSON.parse(r.stdout).plan.strategy).toBe('absolute');
		expect(overlayAt(path.join(dir, 'm'))?.layers.lowers.map((l) => l.path)).toEqual([...lowers].reverse());
	});

	test("work on another mount: refused before mounting, and with --force the kernel's own line", async () => {
		await mkdir(path.join(dir, 'l1'));
		await mkdir(path.join(dir, 'tmpfs'));
		const {execa} = await import('execa');
		await execa('mount', ['-t', 'tmpfs', 'tmpfs', path.join(dir, 'tmpfs')]);
		await mkdir(path.join(dir, 'tmpfs', 'w'));
		const args = [
			'mount',
			'--lower',
			path.join(dir, 'l1'),
			'--upper',
			path.join(dir, 'u'),
			'--work',
			path.join(dir, 'tmpfs', 'w'),
			path.join(dir, 'm'),
		];
		const refused = await runOvl(args, {env});
		expect(refused.exitCode).toBe(2);
		expect(refused.stderr).toContain('OVL_WORK_NOT_SAME_MOUNT');
		const forced = await runOvl([...args, '--force'], {env});
		expect(forced.exitCode).toBe(1);
		expect(forced.stderr).toContain('kernel: overlayfs: workdir and upperdir must reside under the same mount');
		expect(forced.stderr).not.toContain('wrong fs type');
		// Nothing half-done: the upper and mount point ovl created for the attempt are gone.
		expect(existsSync(path.join(dir, 'u'))).toBe(false);
		expect(existsSync(path.join(dir, 'm'))).toBe(false);
		const verbose = await runOvl([...args, '--force', '--verbose'], {env});
		expect(verbose.stderr).toMatch(/mount\(8\) said: .*wrong fs type/s);
	});

	test('an upper already in use: refused, --force does not lift it and is not offered', async () => {
		for (const l of ['l1', 'l2']) await mkdir(path.join(dir, l));
		const layers = (m: string, w: string) => [
			'--lower',
			path.join(dir, 'l1'),
			'--upper',
			path.join(dir, 'u'),
			'--work',
			path.join(dir, w),
			path.join(dir, m),
		];
		const first = await runOvl(['mount', ...layers('m1', 'w1')], {env});
		expect(first.exitCode, first.stderr).toBe(0);
		for (const extra of [[], ['--force'], ['--force', '--dry-run']]) {
			const second = await runOvl(['mount', ...layers('m2', 'w2'), ...extra], {env});
			expect(second.exitCode, `${extra.join(' ')}: ${second.stderr}`).toBe(2);
			expect(second.stderr).toMatch(/error\s+OVL_UPPER_IN_USE/);
			expect(second.stderr).not.toContain('--force lets the kernel decide');
			expect(second.stderr).not.toContain('(forced: passing it to the kernel)');
		}
		expect(overlayAt(path.join(dir, 'm2'))).toBeUndefined();
	});

	test('a missing lower: the error alone, no "ovl will create" notes for a mount that will not happen', async () => {
		const r = await runOvl(
			[
				'mount',
				'--lower',
				path.join(dir, 'nope'),
				'--upper',
				path.join(dir, 'u'),
				'--work',
				path.join(dir, 'w'),
				path.join(dir, 'm'),
			],
			{env},
		);
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('OVL_LAYER_MISSING');
		expect(r.stderr).not.toContain('OVL_WILL_CREATE');
		const dry = await runOvl(['mount', '--dry-run', '--lower', path.join(dir, 'nope'), path.join(dir, 'm')], {env});
		expect(dry.stderr).toContain('OVL_LAYER_MISSING');
		expect(dry.stderr).not.toContain('OVL_WILL_CREATE');
	});

	test('read-only overlay (two lowers, no upper)', async () => {
		for (const l of ['l1', 'l2']) await mkdir(path.join(dir, l));
		await writeFile(path.join(dir, 'l1', 'f'), '1');
		const r = await runOvl(['mount', '--lowerdir', `${dir}/l2:${dir}/l1`, path.join(dir, 'm')], {env});
		expect(r.exitCode, r.stderr).toBe(0);
		const o = overlayAt(path.join(dir, 'm'));
		expect(o?.readOnly).toBe(true);
		expect(o?.layers.lowers.map((l) => l.path)).toEqual([`${dir}/l2`, `${dir}/l1`]);
		await expect(writeFile(path.join(dir, 'm', 'g'), 'x')).rejects.toMatchObject({code: 'EROFS'});
	});

	test('umount of a busy overlay names the holder; --lazy detaches', async () => {
		for (const l of ['l1', 'l2']) await mkdir(path.join(dir, l));
		expect(
			(await runOvl(['mount', '--lower', `${dir}/l1`, '--lower', `${dir}/l2`, path.join(dir, 'm')], {env})).exitCode,
		).toBe(0);
		const {execa} = await import('execa');
		const holder = execa('sleep', ['30'], {cwd: path.join(dir, 'm'), reject: false});
		try {
			// The holder must have its cwd inside the overlay before umount looks.
			await waitUntil(() => {
				try {
					return readlinkSync(`/proc/${holder.pid}/cwd`) === path.join(dir, 'm');
				} catch {
					return false;
				}
			}, 5_000);
			const busy = await runOvl(['umount', path.join(dir, 'm')], {env});
			expect(busy.exitCode).toBe(1);
			expect(busy.stderr).toContain('OVL_MOUNT_BUSY');
			expect(busy.stderr).toContain(`pid ${holder.pid} (sleep): cwd`);
			expect(busy.stderr).toContain('--lazy');
			const lazy = await runOvl(['umount', '--lazy', path.join(dir, 'm')], {env});
			expect(lazy.exitCode, lazy.stderr).toBe(0);
			expect(overlayAt(path.join(dir, 'm'))).toBeUndefined();
		} finally {
			holder.kill();
			await holder;
		}
	});

	test('umount refuses what is not an overlay', async () => {
		await mkdir(path.join(dir, 't'));
		const {execa} = await import('execa');
		await execa('mount', ['-t', 'tmpfs', 'tmpfs', path.join(dir, 't')]);
		const r = await runOvl(['umount', path.join(dir, 't')], {env});
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain('not an overlay');
		expect(mountsUnder(dir)).toEqual([path.join(dir, 't')]);
	});

	test('doctor --path makes a real test mount and cleans up', async () => {
		const r = await runOvl(['doctor', '--path', dir, '--json'], {env});
		expect(r.exitCode, r.stderr).toBe(0);
		const doc = JSON.parse(r.stdout);
		expect(doc.verdict).not.toBe('unusable');
		expect(doc.probe).toMatchObject({mounted: true, whiteout: true, renameWhiteout: true, opaque: true, copyUp: true});
		// Both routes: as root the test mount is the root route's; the rootless one is for a user to test.
		expect(doc.probe.route).toBe('root');
		expect(doc.routes).toEqual([
			expect.objectContaining({route: 'root', status: 'works'}),
			expect.objectContaining({route: 'rootless', status: 'not tested'}),
		]);
		expect(readdirSync(dir).filter((n) => n.startsWith('.ovl-doctor-'))).toEqual([]);
		expect(mountsUnder(dir)).toEqual([]);
	});
});
