import {appendFileSync, mkdirSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterEach, beforeEach, expect, test} from 'vitest';
import {buildDockerRoot, type BuiltRoot} from '../helpers/docker-root.js';
import {describeKernel} from '../helpers/kernel.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';

let dir = '';
let built: BuiltRoot;
const fakeBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/bin');
const image = {
	tag: 'shop:1.0',
	layers: [
		{
			files: {'etc/os-release': 'ID=debian\n', 'etc/motd': 'hello\n', 'bin/sh': '#!/bin/sh\n'},
			createdBy: '/bin/sh -c #(nop) ADD file:4b1d in / ',
		},
		{files: {'app/main.py': 'print(1)\n', 'etc/motd': 'welcome\n'}, createdBy: '/bin/sh -c pip install shop'},
	],
};
const kinds = (doc: {entries: {path: string; kind: string}[]}): Record<string, string> =>
	Object.fromEntries(doc.entries.map((e) => [e.path, e.kind]));

/** Mounts the container the way moby does: cwd = overlay2 home, relative l/ lowerdirs. */
async function mountLikeDocker(): Promise<string> {
	const lower = [`l/${built.initLink}`, ...[...built.links].reverse().map((l) => `l/${l}`)].join(':');
	const merged = path.join(built.home, built.mountId, 'merged');
	await execa(
		'mount',
		[
			'-t',
			'overlay',
			'overlay',
			'-o',
			`index=off,lowerdir=${lower},upperdir=${built.mountId}/diff,workdir=${built.mountId}/work`,
			merged,
		],
		{cwd: built.home},
	);
	return merged;
}

describeKernel('Docker overlay2 stores', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-docker-');
		built = buildDockerRoot(path.join(dir, 'docker'), image, {name: 'web'});
	});
	afterEach(async () => cleanScratch(dir));

	test('a container mounted the Docker way: ovl inspect resolves every relative l/ layer', async () => {
		const merged = await mountLikeDocker();
		rmSync(path.join(merged, 'etc/os-release'));
		appendFileSync(path.join(merged, 'app/main.py'), 'print(2)\n');
		writeFileSync(path.join(merged, 'app/new.txt'), 'data\n');
		const r = await runOvl(['inspect', merged, '--json']);
		expect(r.exitCode, r.stderr).toBe(0);
		const doc = JSON.parse(r.stdout);
		expect(
			doc.mount.layers.map((l: {role: string; path: string; recorded?: string}) => [l.role, l.path, l.recorded]),
		).toEqual([
			['upper', path.join(built.home, built.mountId, 'diff'), `${built.mountId}/diff`],
			['lower', path.join(built.home, `${built.mountId}-init`, 'diff'), `l/${built.initLink}`],
			['lower', path.join(built.home, built.layerIds[1] as string, 'diff'), `l/${built.links[1]}`],
			['lower', path.join(built.home, built.layerIds[0] as string, 'diff'), `l/${built.links[0]}`],
		]);
		expect(kinds(doc)).toMatchObject({'/etc/os-release': 'whiteout', '/app/main.py': 'copy-up', '/app/new.txt': 'new'});
		const diff = JSON.parse((await runOvl(['diff', merged, '--json'])).stdout);
		expect(diff.changes.map((c: {op: string; path: string}) => `${c.op} ${c.path}`)).toEqual(
			expect.arrayContaining(['D /etc/os-release', 'C /app/main.py', 'A /app/new.txt']),
		);
	});

	test('ovl docker ls and inspect, offline from the data-root', async () => {
		const merged = await mountLikeDocker();
		rmSync(path.join(merged, 'etc/os-release'));
		appendFileSync(path.join(merged, 'app/main.py'), 'print(2)\n');
		await execa('umount', [merged]);
		const ls = JSON.parse(
			(await runOvl(['docker', 'ls', '--data-root', built.root, '--json'], {env: {PATH: process.env['PATH'] ?? ''}}))
				.stdout,
		);
		expect(ls.containers).toMatchObject([
			{
				id: built.containerId,
				name: 'web',
				image: 'shop:1.0',
				running: false,
				mountId: built.mountId,
				layers: 4,
				upper: path.join(built.home, built.mountId, 'diff'),
			},
		]);
		expect(ls.images).toMatchObject([
			{tags: ['shop:1.0'], layers: [{cacheId: built.layerIds[0]}, {cacheId: built.layerIds[1]}]},
		]);
		const ins = await runOvl(['docker', 'inspect', 'web', '--data-root', built.root, '--json']);
		expect(ins.exitCode, ins.stderr).toBe(0);
		const doc = JSON.parse(ins.stdout);
		expect(doc.target).toBe('container web (shop:1.0, stopped)');
		expect(kinds(doc)).toMatchObject({'/etc/os-release': 'whiteout', '/app/main.py': 'copy-up'});
		const labels = doc.mount.layers.map((l: {label?: string}) => l.label);
		expect(labels[0]).toBe('container layer of web');
		expect(labels[1]).toMatch(/^init layer/);
		expect(labels[2]).toBe(`${(built.diffIds[1] as string).slice(7, 19)} pip install shop`);
		expect(labels[3]).toBe(`${(built.diffIds[0] as string).slice(7, 19)} ADD file:4b1d in /`);
		expect(doc.entries.find((e: {path: string}) => e.path === '/app/main.py').shadows).toEqual([2]);
		const img = JSON.parse(
			(await runOvl(['docker', 'inspect', 'shop:1.0', '--data-root', built.root, '--json'])).stdout,
		);
		expect(img.target).toBe('image shop:1.0');
		// An image layer is unpacked, not copied up: a file over a lower one has no origin, so it was written over it.
		expect(kinds(img)).toMatchObject({'/app/main.py': 'new', '/etc/motd': 'new'});
		expect(img.entries.find((e: {path: string}) => e.path === '/etc/motd').shadows).toEqual([1]);
	});

	test('docker driver: from a (fake) docker CLI, then from daemon.json, with the switched-driver warning', async () => {
		mkdirSync(path.join(built.root, 'vfs', 'dir1'), {recursive: true});
		mkdirSync(path.join(built.root, 'image', 'vfs', 'imagedb', 'content', 'sha256'), {recursive: true});
		writeFileSync(path.join(built.root, 'image', 'vfs', 'imagedb', 'content', 'sha256', 'abc'), '{}');
		const env = {
			PATH: `${fakeBin}:${process.env['PATH'] ?? ''}`,
			FAKE_DOCKER_ROOT: built.root,
			OVL_DOCKER_DAEMON_JSON: path.join(dir, 'none.json'),
		};
		const live = JSON.parse((await runOvl(['docker', 'driver', '--json'], {env})).stdout);
		expect(live).toMatchObject({
			source: 'docker info',
			activeDriver: 'overlay2',
			dataRoot: built.root,
			serverVersion: '27.5.1',
		});
		expect(
			live.drivers.map((d: {driver: string; active: boolean; images: number; containers: number}) => [
				d.driver,
				d.active,
				d.images,
				d.containers,
			]),
		).toEqual([
			['overlay2', true, 1, 1],
			['vfs', false, 1, 0],
		]);
		expect(live.warnings).toEqual([
			expect.stringMatching(
				/^1 image\(s\) and 0 container\(s\) live under vfs, which is not the active driver \(overlay2\).*switching back to vfs makes them visible again/,
			),
		]);
		writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify({'storage-driver': 'vfs', 'data-root': built.root}));
		const offline = JSON.parse(
			(
				await runOvl(['docker', 'driver', '--json'], {
					env: {PATH: `${fakeBin}:${process.env['PATH'] ?? ''}`, OVL_DOCKER_DAEMON_JSON: path.join(dir, 'daemon.json')},
				})
			).stdout,
		);
		expect(offline).toMatchObject({source: 'daemon.json', activeDriver: 'vfs', dataRoot: built.root});
		expect(offline.warnings.join('\n')).toContain('1 image(s) and 1 container(s) live under overlay2');
		const text = await runOvl(['docker', 'driver'], {
			env: {PATH: `${fakeBin}:${process.env['PATH'] ?? ''}`, OVL_DOCKER_DAEMON_JSON: path.join(dir, 'daemon.json')},
		});
		expect(text.stdout).toContain(`data-root\t${built.root}`);
	});

	test('docker driver: an empty containerd snapshotter dir (Docker < 29 with its own containerd) is no false warning; no daemon is said', async () => {
		mkdirSync(path.join(built.root, 'containerd', 'daemon', 'io.containerd.snapshotter.v1.overlayfs', 'snapshots'), {
			recursive: true,
		});
		const env = {
			PATH: `${fakeBin}:${process.env['PATH'] ?? ''}`,
			FAKE_DOCKER_ROOT: built.root,
			OVL_DOCKER_DAEMON_JSON: path.join(dir, 'none.json'),
		};
		const live = JSON.parse((await runOvl(['docker', 'driver', '--json'], {env})).stdout);
		const snap = live.drivers.find((d: {driver: string}) => d.driver.startsWith('overlayfs'));
		expect(snap).toMatchObject({images: 0, containers: 0, active: false});
		expect(live.warnings).toEqual([]);
		expect(live.daemon).toEqual({answered: true});
		const none = await runOvl(['docker', 'driver', '--data-root', built.root], {
			env: {PATH: '/nonexistent', OVL_DOCKER_DAEMON_JSON: path.join(dir, 'none.json')},
		});
		expect(none.stderr).toMatch(/note\tthe daemon did not answer/);
	});
});
