import {existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {engineUnavailable, importBusybox, startEngine, type Engine} from '../helpers/dockerd.js';
import {kernelUnavailable} from '../helpers/kernel.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {compareTrees} from '../helpers/tree-compare.js';
import {timeScale} from '../helpers/wait.js';

// A real Docker engine (Debian's docker.io, private dockerd): what it writes must come through
// ovl exactly. Kernel-suite rules: without an engine these fail under OVL_REQUIRE_KERNEL=1.

const dockerfile = `FROM base:1
RUN mkdir -p /d/sub /keep /data/sgid && echo a > /d/sub/f && echo k > /keep/k && echo x > /etc/added && mkfifo /fifo1 && mknod /dev-null c 1 3 && echo s > /data/setuid && chmod 4755 /data/setuid && chmod 2775 /data/sgid && chmod 1777 /data && echo o > /data/open && chmod 0666 /data/open
RUN rm -rf /d && mkdir /d && echo new > /d/n
RUN chmod 0600 /etc/added && chown 1234:5678 /etc/added
RUN mv /keep /moved
RUN ln /etc/added /etc/hard && ln -s /etc/added /abs-link && ln -s etc/added /rel-link
COPY file.txt /copied
WORKDIR /work
RUN rm /bin/ls /bin/cat /bin/head
`;

// What Docker adds to every container (the -init layer) and the kernel's mount points: not image content.
const initPaths = new Set([
	'/.dockerenv',
	'/dev',
	'/proc',
	'/sys',
	'/etc/hostname',
	'/etc/hosts',
	'/etc/resolv.conf',
	'/etc/mtab',
]);
const notImage = (rel: string): boolean => [...initPaths].some((p) => rel === p || rel.startsWith(`${p}/`));

const reason = kernelUnavailable() ?? engineUnavailable();
const suite = reason === undefined ? describe : process.env['OVL_REQUIRE_KERNEL'] === '1' ? describe : describe.skip;

suite('a real Docker engine', () => {
	let engine: Engine | undefined;
	let root = '';
	let dir = '';
	const p = (...x: string[]): string => path.join(dir, ...x);

	beforeAll(async () => {
		if (reason !== undefined) return;
		root = await makeScratch('ovl-engine-');
		dir = root;
		engine = await startEngine();
		await importBusybox(engine, 'base:1');
		mkdirSync(p('ctx'));
		writeFileSync(p('ctx', 'Dockerfile'), dockerfile);
		writeFileSync(p('ctx', 'file.txt'), 'copied in\n');
		const b = await engine.docker(['build', '--network', 'none', '-t', 'shop:1', '.'], {cwd: p('ctx')});
		if (b.exitCode !== 0) throw new Error(`docker build failed: ${b.stderr}\n${b.stdout}`);
		const bk = await engine.docker(['build', '--network', 'none', '-t', 'shop:bk', '.'], {
			cwd: p('ctx'),
			env: {DOCKER_BUILDKIT: '1'},
		});
		if (bk.exitCode !== 0) throw new Error(`docker build (BuildKit) failed: ${bk.stderr}\n${bk.stdout}`);
	}, 300_000 * timeScale);

	afterAll(async () => {
		await engine?.stop();
		if (root) await cleanScratch(root);
	}, 120_000 * timeScale);

	test('the engine is usable', () => {
		expect(reason).toBeUndefined();
	});

	test.each([
		['classic builder', 'shop:1'],
		['BuildKit', 'shop:bk'],
	])(
		'%s: every layer of docker save → ovl prepare --layer-tar → mount equals docker export of a fresh container',
		async (builder, image) => {
			const e = engine as Engine;
			dir = path.join(root, builder.replace(/\W/g, '-'));
			mkdirSync(dir);
			const save = await e.docker(['save', '-o', p('save.tar'), image]);
			expect(save.exitCode, save.stderr).toBe(0);
			mkdirSync(p('saved'));
			await execa('tar', ['-C', p('saved'), '-xf', p('save.tar')]);
			const manifest = JSON.parse(readFileSync(p('saved', 'manifest.json'), 'utf8')) as {Layers: string[]}[];
			const layers = (manifest[0]?.Layers ?? []).map((l) => p('saved', l));
			expect(layers.length).toBeGreaterThan(5);
			// The last layer only deletes: three whiteouts (stored as files, or as hard links to the
			// first when the kernel shared their inode; test/kernel/layer-tar covers that form).
			const last = (await execa('tar', ['-tf', layers.at(-1) as string])).stdout;
			expect(last.split('\n').filter((l) => l.includes('.wh.'))).toHaveLength(3);
			const prep = await runOvl(['prepare', 'img', ...layers.flatMap((l) => ['--layer-tar', l])], {cwd: dir});
			expect(prep.exitCode, prep.stderr).toBe(0);
			const m = await runOvl(['mount', 'img'], {cwd: dir, env: {OVL_RUN_DIR: p('run')}});
			expect(m.exitCode, m.stderr).toBe(0);
			try {
				const create = await e.docker(['create', '--name', `fresh-${builder.replace(/\W/g, '-')}`, image, '/bin/sh']);
				expect(create.exitCode, create.stderr).toBe(0);
				const exp = await e.docker(['export', '-o', p('export.tar'), `fresh-${builder.replace(/\W/g, '-')}`]);
				expect(exp.exitCode, exp.stderr).toBe(0);
				mkdirSync(p('exported'));
				await execa('tar', [
					'--xattrs',
					'--xattrs-include=*',
					'--numeric-owner',
					'-C',
					p('exported'),
					'-xpf',
					p('export.tar'),
				]);
				// The root and /etc get the -init layer's mtime in an export; everything else must match exactly.
				const diffs = compareTrees(p('exported'), p('img', 'merged'), {
					skip: notImage,
					ignoreMtime: (rel) => rel === '/etc',
				});
				expect(diffs).toEqual([]);
				// The comparison covered what matters: these are in the image, and came through.
				const st = (rel: string) => lstatSync(p('img', 'merged', rel));
				expect(st('data/setuid').mode & 0o7777).toBe(0o4755);
				expect(st('data/sgid').mode & 0o7777).toBe(0o2775);
				expect(st('data').mode & 0o7777).toBe(0o1777);
				expect(st('fifo1').isFIFO()).toBe(true);
				expect(st('dev-null').isCharacterDevice()).toBe(true);
				expect(st('etc/hard').ino).toBe(st('etc/added').ino);
				expect([st('etc/added').uid, st('etc/added').gid]).toEqual([1234, 5678]);
				expect(existsSync(p('img', 'merged', 'bin', 'ls'))).toBe(false);
			} finally {
				await runOvl(['umount', p('img', 'merged')], {env: {OVL_RUN_DIR: p('run')}});
			}
		},
		300_000 * timeScale,
	);

	const changes =
		'echo changed > /copied && rm /etc/added && rm -rf /moved && mkdir /newdir && echo n > /newdir/f && chmod 700 /d && ln -s /nowhere /abs2 && mkfifo /f2 && touch /data/open && rm -rf /d/n';

	/** docker diff against ovl diff --json of the same container: every difference must be one of docker's conventions. */
	async function compareDiff(name: string, ovlArgs: string[]): Promise<string[]> {
		const e = engine as Engine;
		const docker = (await e.docker(['diff', name])).stdout
			.split('\n')
			.filter(Boolean)
			.map((l) => [l.slice(0, 1), l.slice(2)] as [string, string]);
		// Every kind of change was made: A, C and D all appear (the comparison is not of two empty lists).
		expect(new Set(docker.map(([op]) => op))).toEqual(new Set(['A', 'C', 'D']));
		const r = await runOvl(['diff', '--json', ...ovlArgs]);
		expect(r.exitCode, r.stderr).toBe(0);
		const ovl = (JSON.parse(r.stdout) as {changes: {op: string; path: string; type: string}[]}).changes;
		const ovlOps = new Map(ovl.map((c) => [c.path, c.op]));
		const dockerOps = new Map(docker.map(([op, path]) => [path, op]));
		const deletedDirs = ovl.filter((c) => c.op === 'D' && c.type === 'dir').map((c) => c.path);
		const problems: string[] = [];
		const table: string[] = [];
		for (const [op, path] of docker) {
			const mine = ovlOps.get(path);
			if (mine === op) {
				table.push(`| ${path} | ${op} | ${op} | same |`);
				continue;
			}
			// docker marks every parent of a change C; ovl reports a directory only when it changed itself.
			if (op === 'C' && mine === undefined && ovl.some((c) => c.path.startsWith(`${path}/`))) {
				table.push(`| ${path} | C | - | docker's convention: a parent of a change |`);
				continue;
			}
			problems.push(`docker ${op} ${path}, ovl ${mine ?? 'nothing'}`);
		}
		for (const c of ovl) {
			if (dockerOps.has(c.path)) continue;
			// docker lists a deleted directory once; ovl --json also lists what was inside it.
			if (c.op === 'D' && deletedDirs.some((d) => c.path.startsWith(`${d}/`))) {
				table.push(`| ${c.path} | - | D | inside a deleted dir: docker lists the dir only |`);
				continue;
			}
			problems.push(`ovl ${c.op} ${c.path}, docker nothing`);
		}
		console.log(
			`docker diff vs ovl diff (${name}):\n| path | docker | ovl | |\n|---|---|---|---|\n${table.join('\n')}`,
		);
		return problems;
	}

	async function graphDriver(name: string): Promise<{UpperDir: string; LowerDir: string; MergedDir: string}> {
		const r = await (engine as Engine).docker(['inspect', '--format', '{{json .GraphDriver.Data}}', name]);
		return JSON.parse(r.stdout) as {UpperDir: string; LowerDir: string; MergedDir: string};
	}

	test(
		'docker diff vs ovl diff: a stopped container (offline layers) and a running one (its live mount)',
		async () => {
			const e = engine as Engine;
			const stopped = await e.docker(['run', '--name', 'stopped', '--network', 'none', 'shop:1', 'sh', '-c', changes]);
			expect(stopped.exitCode, stopped.stderr).toBe(0);
			const g = await graphDriver('stopped');
			const lowers = g.LowerDir.split(':')
				.reverse()
				.flatMap((l) => ['--lower', l]);
			expect(await compareDiff('stopped', ['--upper', g.UpperDir, ...lowers])).toEqual([]);
			const live = await e.docker(['run', '-d', '--name', 'live', '--network', 'none', 'shop:1', 'sleep', '600']);
			expect(live.exitCode, live.stderr).toBe(0);
			const ex = await e.docker(['exec', 'live', 'sh', '-c', changes]);
			expect(ex.exitCode, ex.stderr).toBe(0);
			const gl = await graphDriver('live');
			expect(await compareDiff('live', [gl.MergedDir])).toEqual([]);
		},
		300_000 * timeScale,
	);

	const clean = (by: string): string => by.replace(/^\/bin\/sh -c (#\(nop\) )?/, '').trim();
	type Layer = {role: string; layer: number; label?: string};
	/** Layer labels from ovl docker inspect --json, bottom → top. */
	async function ovlLabels(ref: string): Promise<string[]> {
		const e = engine as Engine;
		const r = await runOvl(['docker', 'inspect', ref, '--json', '--data-root', e.dataRoot], {
			env: {...e.env, PATH: `/usr/bin:${process.env['PATH'] ?? ''}`},
		});
		expect(r.exitCode, r.stderr).toBe(0);
		const layers = (JSON.parse(r.stdout) as {mount: {layers: Layer[]}}).mount.layers;
		const lowers = layers.filter((l) => l.role === 'lower').sort((a, b) => a.layer - b.layer);
		return [...lowers, ...layers.filter((l) => l.role === 'upper')].map((l) =>
			(l.label ?? '').replace(/^top image layer: /, ''),
		);
	}

	test.each(['shop:1', 'shop:bk'])(
		'%s: each layer in ovl docker inspect is labelled as docker history labels it (0 B layers, WORKDIR)',
		async (image) => {
			const e = engine as Engine;
			const rows = (await e.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}\t{{.Size}}', image])).stdout
				.split('\n')
				.filter(Boolean)
				.reverse()
				.map((l) => l.split('\t') as [string, string]);
			// Which history rows made a layer: the image config says so (empty_layer), as docker save gives it.
			const cfgDir = path.join(root, `cfg-${image.replace(/\W/g, '-')}`);
			mkdirSync(cfgDir);
			await e.docker(['save', '-o', path.join(cfgDir, 'i.tar'), image]);
			await execa('tar', ['-C', cfgDir, '-xf', path.join(cfgDir, 'i.tar')]);
			const manifest = JSON.parse(readFileSync(path.join(cfgDir, 'manifest.json'), 'utf8')) as {Config: string}[];
			const cfg = JSON.parse(readFileSync(path.join(cfgDir, manifest[0]?.Config ?? ''), 'utf8')) as {
				rootfs: {diff_ids: string[]};
				history: {empty_layer?: boolean}[];
			};
			expect(cfg.history).toHaveLength(rows.length);
			const layerRows = rows.filter((_, i) => cfg.history[i]?.empty_layer !== true);
			const diffIds = cfg.rootfs.diff_ids;
			expect(layerRows).toHaveLength(diffIds.length);
			const expected = layerRows.map(
				([by], i) => `${(diffIds[i] ?? '').replace(/^sha256:/, '').slice(0, 12)}${clean(by) ? ` ${clean(by)}` : ''}`,
			);
			expect(await ovlLabels(image)).toEqual(expected);
			// The comparison covers the hard cases: a WORKDIR layer and 0 B layers (whiteouts only, or nothing).
			expect(layerRows.some(([by]) => by.includes('WORKDIR'))).toBe(true);
			expect(layerRows.filter(([, size]) => size === '0B').length).toBeGreaterThanOrEqual(1);
		},
		120_000 * timeScale,
	);

	test(
		'ovl docker ls, driver and inspect agree with the engine',
		async () => {
			const e = engine as Engine;
			const env = {...e.env, PATH: `/usr/bin:${process.env['PATH'] ?? ''}`};
			const ls = JSON.parse((await runOvl(['docker', 'ls', '--json', '--data-root', e.dataRoot], {env})).stdout) as {
				containers: {id: string; name: string; running: boolean}[];
				images: {id: string; tags: string[]; layers: unknown[]}[];
			};
			const ps = (await e.docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}} {{.State}}'])).stdout
				.split('\n')
				.filter(Boolean)
				.map((l) => l.split(' '));
			expect(ls.containers.map((c) => [c.id, c.name, c.running]).sort()).toEqual(
				ps.map(([id, name, state]) => [id, name, state === 'running']).sort(),
			);
			const images = (await e.docker(['images', '-a', '--no-trunc', '--format', '{{.ID}}'])).stdout
				.split('\n')
				.filter(Boolean);
			expect(ls.images.map((i) => i.id).sort()).toEqual([...new Set(images)].sort());
			const driver = await runOvl(['docker', 'driver', '--json', '--data-root', e.dataRoot], {env});
			const d = JSON.parse(driver.stdout) as {
				activeDriver: string;
				source: string;
				warnings: string[];
				drivers: {driver: string; containers: number; images: number}[];
			};
			expect(d).toMatchObject({activeDriver: 'overlay2', source: 'docker info', warnings: []});
			expect(d.drivers.find((x) => x.driver === 'overlay2')).toMatchObject({
				containers: ps.length,
				images: new Set(images).size,
			});
			const inspect = await runOvl(['docker', 'inspect', 'stopped', '--json', '--data-root', e.dataRoot], {env});
			expect(inspect.exitCode, inspect.stderr).toBe(0);
			const report = JSON.parse(inspect.stdout) as {entries: {path: string; kind: string}[]};
			expect(report.entries.find((x) => x.path === '/etc/added')?.kind).toBe('whiteout');
			expect(report.entries.find((x) => x.path === '/newdir')?.kind).toBe('new');
			// A container: its image's layers as docker history labels them, then the -init layer, then its own.
			const labels = await ovlLabels('stopped');
			expect(labels.slice(0, -2)).toEqual(await ovlLabels('shop:1'));
			expect(labels.slice(-2)).toEqual(['init layer (hostname, resolv.conf, …)', 'container layer of stopped']);
		},
		300_000 * timeScale,
	);

	/** A container's layers as layer tarballs: docker save for the image, ovl export for the -init layer and the container's own. */
	async function exportedLayers(name: string, image: string, at: string): Promise<string[]> {
		const e = engine as Engine;
		mkdirSync(at);
		await e.docker(['save', '-o', path.join(at, 'save.tar'), image]);
		await execa('tar', ['-C', at, '-xf', path.join(at, 'save.tar')]);
		const manifest = JSON.parse(readFileSync(path.join(at, 'manifest.json'), 'utf8')) as {Layers: string[]}[];
		const g = await graphDriver(name);
		const lowers = g.LowerDir.split(':').reverse();
		const init = lowers.at(-1) as string;
		expect(init).toMatch(/-init\/diff$/);
		const x1 = await runOvl([
			'export',
			'--upper',
			init,
			...lowers.slice(0, -1).flatMap((l) => ['--lower', l]),
			'-o',
			path.join(at, 'init.tar'),
		]);
		expect(x1.exitCode, x1.stderr).toBe(0);
		const x2 = await runOvl([
			'export',
			'--upper',
			g.UpperDir,
			...lowers.flatMap((l) => ['--lower', l]),
			'-o',
			path.join(at, 'container.tar.gz'),
		]);
		expect(x2.exitCode, x2.stderr).toBe(0);
		return [
			...(manifest[0]?.Layers ?? []).map((l) => path.join(at, l)),
			path.join(at, 'init.tar'),
			path.join(at, 'container.tar.gz'),
		];
	}

	test.each(['stopped', 'live'])(
		'ovl export of the %s container: image layers + its exports → prepare → mount equals docker export; docker import takes it',
		async (name) => {
			const e = engine as Engine;
			const at = path.join(root, `export-${name}`);
			const layers = await exportedLayers(name, 'shop:1', at);
			const prep = await runOvl(['prepare', path.join(at, 'img'), ...layers.flatMap((l) => ['--layer-tar', l])]);
			expect(prep.exitCode, prep.stderr).toBe(0);
			const run = {OVL_RUN_DIR: path.join(at, 'run')};
			const m = await runOvl(['mount', path.join(at, 'img')], {env: run});
			expect(m.exitCode, m.stderr).toBe(0);
			try {
				const exp = await e.docker(['export', '-o', path.join(at, 'docker-export.tar'), name]);
				expect(exp.exitCode, exp.stderr).toBe(0);
				mkdirSync(path.join(at, 'exported'));
				await execa('tar', [
					'--xattrs',
					'--xattrs-include=*',
					'--numeric-owner',
					'-C',
					path.join(at, 'exported'),
					'-xpf',
					path.join(at, 'docker-export.tar'),
				]);
				// The root dir is made by prepare; everything else, mtimes included, must match.
				expect(
					compareTrees(path.join(at, 'exported'), path.join(at, 'img', 'merged'), {ignoreMtime: (rel) => rel === ''}),
				).toEqual([]);
				expect(readFileSync(path.join(at, 'img', 'merged', 'copied'), 'utf8')).toBe('changed\n');
				expect(existsSync(path.join(at, 'img', 'merged', 'etc', 'added'))).toBe(false);
				// And an engine takes the merged view back as an image.
				const tarred = await execa('tar', ['--numeric-owner', '-C', path.join(at, 'img', 'merged'), '-cf', '-', '.'], {
					encoding: 'buffer',
				});
				const imported = await e.docker(['import', '-', `roundtrip:${name}`], {input: Buffer.from(tarred.stdout)});
				expect(imported.exitCode, imported.stderr).toBe(0);
				const cat = await e.docker([
					'run',
					'--rm',
					'--network',
					'none',
					`roundtrip:${name}`,
					'busybox',
					'cat',
					'/copied',
					'/newdir/f',
				]);
				expect(cat.exitCode, cat.stderr).toBe(0);
				expect(cat.stdout).toBe('changed\nn');
			} finally {
				await runOvl(['umount', path.join(at, 'img', 'merged')], {env: run});
			}
		},
		300_000 * timeScale,
	);
});
