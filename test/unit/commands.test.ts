import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, test} from 'vitest';
import {inspectCommand} from '../../src/commands/inspect.js';
import {lsCommand} from '../../src/commands/ls.js';
import {umountCommand} from '../../src/commands/umount.js';
import {OvlError} from '../../src/core/errors.js';
import {openRegistry, recordSchema, type MountRecord} from '../../src/io/registry.js';
import {fakeContext} from '../helpers/context.js';

// Commands run in-process against a world given as data (test/helpers/context.ts): what they
// print, return and throw, and what they ask of mount(8) and the registry.

let dir = '';
beforeEach(() => {
	dir = mkdtempSync(path.join(os.tmpdir(), 'ovl-commands-'));
});
afterEach(() => rmSync(dir, {recursive: true, force: true}));

const overlayLine = (m: string, id = 62): string =>
	`${id} 26 0:43 / ${m} rw,relatime - overlay overlay rw,lowerdir=3:4,upperdir=5,workdir=6,uuid=on\n`;

function record(m: string, id = 62): MountRecord {
	return {
		schema: recordSchema,
		merged: m,
		lowers: [
			{path: '/srv/l1', dataOnly: false},
			{path: '/srv/l2', dataOnly: false},
		],
		upper: '/srv/u',
		work: '/srv/w',
		options: 'uuid=on',
		strategy: 'fd',
		mountId: id,
		recorded: ['3', '4', '5', '6'],
		mountedAt: '2026-12-02T05:00:00.000Z',
	};
}

describe('ovl ls', () => {
	test('an fd-strategy mount is shown with the paths its registry record holds, bottom → top', async () => {
		const reg = path.join(dir, 'run');
		await openRegistry(reg).write(record('/tmp/h/m'));
		const w = fakeContext({cwd: dir, registryDir: reg, mode: 'json', mountinfo: overlayLine('/tmp/h/m')});
		await lsCommand(w.ctx);
		const doc = JSON.parse(w.out()) as {mounts: {lowers: {path: string}[]; mountedBy: string; upper: string}[]};
		expect(doc.mounts).toHaveLength(1);
		expect(doc.mounts[0]?.lowers.map((l) => l.path)).toEqual(['/srv/l1', '/srv/l2']);
		expect(doc.mounts[0]).toMatchObject({mountedBy: 'ovl', upper: '/srv/u'});
	});

	test('a record for another mount id (the mount was replaced) is not used: the kernel strings are', async () => {
		const reg = path.join(dir, 'run');
		await openRegistry(reg).write(record('/tmp/h/m', 61));
		const w = fakeContext({cwd: dir, registryDir: reg, mode: 'json', mountinfo: overlayLine('/tmp/h/m')});
		await lsCommand(w.ctx);
		const doc = JSON.parse(w.out()) as {mounts: {lowers: {path: string}[]; mountedBy: string}[]};
		expect(doc.mounts[0]?.lowers.map((l) => l.path)).toEqual(['4', '3']);
		expect(doc.mounts[0]?.mountedBy).toBe('other');
	});

	test('no overlays: says so on a terminal, prints nothing when piped', async () => {
		const human = fakeContext({cwd: dir, registryDir: dir, mode: 'human'});
		await lsCommand(human.ctx);
		expect(human.out()).toBe('no overlay mounts in this mount namespace\n');
		const plain = fakeContext({cwd: dir, registryDir: dir, mode: 'plain'});
		await lsCommand(plain.ctx);
		expect(plain.out()).toBe('MOUNT\tRW\tNLOWER\tLOWERS\tUPPER\tWORK\tOPTIONS\tBY\n');
	});

	test('Docker-style relative layers are resolved as inspect resolves them; plain and human show every layer', async () => {
		// <home>/<id>/merged with l/<short> links to ../<id>/diff, as Docker lays out overlay2.
		const home = path.join(dir, 'overlay2');
		for (const d of ['aaa/diff', 'bbb/diff', 'ccc/diff', 'ccc/work', 'ccc/merged', 'l'])
			mkdirSync(path.join(home, d), {recursive: true});
		symlinkSync('../aaa/diff', path.join(home, 'l', 'AAAA'));
		symlinkSync('../bbb/diff', path.join(home, 'l', 'BBBB'));
		const merged = path.join(home, 'ccc', 'merged');
		const line = `90 26 0:60 / ${merged} rw,relatime - overlay overlay rw,lowerdir=l/BBBB:l/AAAA,upperdir=ccc/diff,workdir=ccc/work,index=off\n`;
		const plain = fakeContext({cwd: dir, registryDir: dir, mode: 'plain', mountinfo: line});
		await lsCommand(plain.ctx);
		const [header, row] = plain.out().trim().split('\n');
		expect(header?.split('\t')).toEqual(['MOUNT', 'RW', 'NLOWER', 'LOWERS', 'UPPER', 'WORK', 'OPTIONS', 'BY']);
		expect(row?.split('\t')).toEqual([
			merged,
			'rw',
			'2',
			`${home}/aaa/diff:${home}/bbb/diff`,
			`${home}/ccc/diff`,
			`${home}/ccc/work`,
			'index=off',
			'other',
		]);
		const human = fakeContext({cwd: dir, registryDir: dir, mode: 'human', mountinfo: line});
		await lsCommand(human.ctx);
		expect(human.out()).toMatch(
			new RegExp(
				`top → bottom.*\\n\\s+upper\\s+${home}/ccc/diff\\n\\s+lower 2\\s+${home}/bbb/diff\\n\\s+lower 1\\s+${home}/aaa/diff\\n\\s+work\\s+${home}/ccc/work`,
			),
		);
	});
});

describe('ovl umount', () => {
	test('unmounts an overlay and forgets its record', async () => {
		const m = path.join(dir, 'm');
		mkdirSync(m);
		const reg = openRegistry(path.join(dir, 'run'));
		await reg.write(record(m));
		const w = fakeContext({cwd: dir, registryDir: reg.dir, mountinfo: overlayLine(m)});
		await umountCommand({merged: 'm', lazy: false}, w.ctx);
		expect(w.calls).toEqual([`umount ${m}`]);
		expect(await reg.read(m)).toBeUndefined();
		expect(w.out()).toBe(`✓ unmounted ${m}\n`);
	});

	test('busy: OVL_MOUNT_BUSY with the --lazy way out; the record stays', async () => {
		const m = path.join(dir, 'm');
		mkdirSync(m);
		const reg = openRegistry(path.join(dir, 'run'));
		await reg.write(record(m));
		const w = fakeContext({
			cwd: dir,
			registryDir: reg.dir,
			mountinfo: overlayLine(m),
			umount: () => ({ok: false, exitCode: 32, output: `umount: ${m}: target is busy.`}),
		});
		const error = await umountCommand({merged: m, lazy: false}, w.ctx).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(OvlError);
		expect(error).toMatchObject({code: 'OVL_MOUNT_BUSY', exitCode: 1});
		expect((error as OvlError).hint).toContain(`ovl umount --lazy ${m}`);
		expect(await reg.read(m)).toBeDefined();
	});

	test('another filesystem or nothing mounted: refused before umount(8) runs', async () => {
		const m = path.join(dir, 'm');
		mkdirSync(m);
		const tmpfs = fakeContext({cwd: dir, registryDir: dir, mountinfo: `70 26 0:50 / ${m} rw - tmpfs tmpfs rw\n`});
		await expect(umountCommand({merged: m, lazy: false}, tmpfs.ctx)).rejects.toMatchObject({
			code: 'OVL_NOT_OVERLAY',
			exitCode: 2,
		});
		const none = fakeContext({cwd: dir, registryDir: dir});
		await expect(umountCommand({merged: m, lazy: false}, none.ctx)).rejects.toMatchObject({
			code: 'OVL_NOT_MOUNTED',
		});
		expect([...tmpfs.calls, ...none.calls]).toEqual([]);
	});
});

describe('ovl inspect, offline', () => {
	const layers = (): {upper: string; lower: string} => {
		const lower = path.join(dir, 'l1');
		const upper = path.join(dir, 'u');
		mkdirSync(lower);
		mkdirSync(upper);
		writeFileSync(path.join(lower, 'a'), 'a\n');
		for (let i = 0; i < 30; i++) writeFileSync(path.join(upper, `n${String(i).padStart(2, '0')}`), 'new\n');
		return {upper, lower};
	};
	const args = (l: {upper: string; lower: string}) => ({
		merged: undefined,
		upper: l.upper,
		lowers: [l.lower],
		work: undefined,
		userxattr: false,
		root: undefined,
		kinds: [],
		strict: false,
	});

	test('plain: one line per entry, all of them', async () => {
		const w = fakeContext({cwd: dir, registryDir: dir, mode: 'plain'});
		expect(await inspectCommand(args(layers()), w.ctx)).toBe(0);
		const lines = w.out().trim().split('\n');
		expect(lines.filter((l) => /\/n\d\d/.test(l))).toHaveLength(30);
		expect(lines.every((l) => !l.includes('/n') || /\bnew\b/.test(l))).toBe(true);
	});

	test("human: as many entries as the terminal's rows leave room for, then a count of the rest", async () => {
		const w = fakeContext({cwd: dir, registryDir: dir, mode: 'human', rows: 26});
		await inspectCommand(args(layers()), w.ctx);
		expect(w.out().match(/\/n\d\d/g)).toHaveLength(10);
		expect(w.out()).toContain('… and 20 more');
	});

	test('an unknown --kind is a usage error, before anything is read', async () => {
		const w = fakeContext({cwd: dir, registryDir: dir});
		await expect(
			inspectCommand({...args({upper: '/nonexistent', lower: '/x'}), kinds: ['bogus']}, w.ctx),
		).rejects.toMatchObject({code: 'OVL_USAGE', exitCode: 2});
	});
});
