import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {kernelUnavailable} from '../helpers/kernel.js';
import {importBusyboxPodman, podmanUnavailable, runFlags, startPodman, type Podman} from '../helpers/podman.js';
import {runOvl} from '../helpers/run-ovl.js';
import {timeScale} from '../helpers/wait.js';

// Debian's Podman (containers/storage, overlay driver) with a private store: its containers come
// through ovl diff, and ovl docker ls|inspect read its store offline. Kernel-suite rules apply.

const setup =
	'mkdir -p /d/sub /keep /data && echo a > /d/sub/f && echo k > /keep/k && echo x > /etc/added && echo o > /data/open && chmod 0666 /data/open && mkfifo /fifo1';
const changes =
	'echo changed > /copied && rm /etc/added && rm -rf /keep && mkdir /newdir && echo n > /newdir/f && chmod 700 /d && rm -rf /d/sub && mkdir /d/sub && echo s > /d/sub/s && ln -s /nowhere /abs2 && ln -s etc/passwd /rel2 && mkfifo /f2 && touch /data/open';

const reason = kernelUnavailable() ?? podmanUnavailable();
const suite = reason === undefined || process.env['OVL_REQUIRE_KERNEL'] === '1' ? describe : describe.skip;

suite('a real Podman (containers/storage)', () => {
	let p: Podman | undefined;

	beforeAll(async () => {
		if (reason !== undefined) return;
		p = await startPodman();
		await importBusyboxPodman(p, 'base:1');
		const s = await p.podman(['run', '--name', 'setup', ...runFlags, 'localhost/base:1', 'sh', '-c', setup]);
		if (s.exitCode !== 0) throw new Error(`podman run failed: ${s.stderr}`);
		const c = await p.podman(['commit', '-q', 'setup', 'shop:1']);
		if (c.exitCode !== 0) throw new Error(`podman commit failed: ${c.stderr}`);
		const r = await p.podman(['run', '--name', 'changed', ...runFlags, 'localhost/shop:1', 'sh', '-c', changes]);
		if (r.exitCode !== 0) throw new Error(`podman run failed: ${r.stderr}`);
		const live = await p.podman(['run', '-d', '--name', 'live', ...runFlags, 'localhost/shop:1', 'sleep', '600']);
		if (live.exitCode !== 0) throw new Error(`podman run -d failed: ${live.stderr}`);
	}, 300_000 * timeScale);

	afterAll(async () => {
		await p?.stop();
	}, 120_000 * timeScale);

	test('the engine is usable', () => {
		expect(reason).toBeUndefined();
	});

	test(
		'podman diff vs ovl diff on the podman mount dir: every difference is a documented podman mistake or convention',
		async () => {
			const e = p as Podman;
			const mounted = await e.podman(['mount', 'changed']);
			expect(mounted.exitCode, mounted.stderr).toBe(0);
			const merged = mounted.stdout.trim();
			try {
				const theirs = (await e.podman(['container', 'diff', 'changed'])).stdout
					.split('\n')
					.filter(Boolean)
					.map((l) => [l.slice(0, 1), l.slice(2)] as [string, string]);
				expect(new Set(theirs.map(([op]) => op))).toEqual(new Set(['A', 'C', 'D']));
				const r = await runOvl(['diff', '--json', merged]);
				expect(r.exitCode, r.stderr).toBe(0);
				const ours = (JSON.parse(r.stdout) as {changes: {op: string; path: string; type: string}[]}).changes;
				const ourOps = new Map(ours.map((c) => [c.path, c.op]));
				const theirOps = new Map(theirs.map(([op, path]) => [path, op]));
				const deletedDirs = ours.filter((c) => c.op === 'D' && c.type === 'dir').map((c) => c.path);
				const problems: string[] = [];
				const podmanMistakes: string[] = [];
				const podmanDeleted: string[] = [];
				for (const [op, path] of theirs) {
					const mine = ourOps.get(path);
					if (mine === op) continue;
					if (op === 'C' && mine === undefined && ours.some((c) => c.path.startsWith(`${path}/`))) continue; // parent-dir C, as docker
					// podman reports a dir that was deleted and made again (opaque) as D only; ovl says C: it exists.
					if (op === 'D' && mine === 'C' && ours.find((c) => c.path === path)?.type === 'dir') {
						podmanMistakes.push(`opaque dir ${path}: podman D, ovl C`);
						podmanDeleted.push(path);
						continue;
					}
					problems.push(`podman ${op} ${path}, ovl ${mine ?? 'nothing'}`);
				}
				for (const c of ours) {
					if (theirOps.has(c.path)) continue;
					if (c.op === 'D' && deletedDirs.some((d) => c.path.startsWith(`${d}/`))) continue;
					// what was and is inside an opaque dir podman called deleted: podman lists only the dir
					if (podmanDeleted.some((d) => c.path.startsWith(`${d}/`))) continue;
					problems.push(`ovl ${c.op} ${c.path}, podman nothing`);
				}
				console.log(
					`podman container diff vs ovl diff:\n${theirs.map(([op, path]) => `| ${path} | ${op} | ${ourOps.get(path) ?? '-'} |`).join('\n')}\n${ours
						.filter((c) => !theirOps.has(c.path))
						.map((c) => `| ${c.path} | - | ${c.op} |`)
						.join('\n')}`,
				);
				expect(problems).toEqual([]);
				expect(podmanMistakes).toEqual(['opaque dir /d/sub: podman D, ovl C']);
				expect(ourOps.get('/etc/added')).toBe('D');
				expect(ourOps.get('/abs2')).toBe('A');
			} finally {
				await e.podman(['umount', 'changed']);
			}
		},
		300_000 * timeScale,
	);

	test(
		'ovl docker ls and inspect read the containers/storage store offline',
		async () => {
			const e = p as Podman;
			const ls = await runOvl(['docker', 'ls', '--json', '--data-root', e.root]);
			expect(ls.exitCode, ls.stderr).toBe(0);
			const doc = JSON.parse(ls.stdout) as {
				containers: {id: string; name: string; running: boolean; upper?: string}[];
				images: {id: string; tags: string[]; layers: {cacheId?: string}[]}[];
			};
			const ps = (await e.podman(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}} {{.State}}'])).stdout
				.split('\n')
				.filter(Boolean)
				.map((l) => l.split(' '));
			expect(doc.containers.map((c) => [c.id, c.name, c.running]).sort()).toEqual(
				ps.map(([id, name, state]) => [id, name, /^(running|up)/i.test(state ?? '')]).sort(),
			);
			expect(doc.containers.filter((c) => c.running).map((c) => c.name)).toEqual(['live']);
			expect(doc.containers.every((c) => c.upper?.startsWith(`${e.root}/overlay/`))).toBe(true);
			const images = (await e.podman(['images', '-a', '--no-trunc', '--format', '{{.ID}}'])).stdout
				.split('\n')
				.filter(Boolean);
			expect(doc.images.map((i) => i.id).sort()).toEqual([...new Set(images)].sort());
			expect(doc.images.find((i) => i.tags.includes('localhost/shop:1'))?.layers).toHaveLength(2);
			const inspect = await runOvl(['docker', 'inspect', 'changed', '--json', '--data-root', e.root]);
			expect(inspect.exitCode, inspect.stderr).toBe(0);
			const report = JSON.parse(inspect.stdout) as {
				entries: {path: string; kind: string}[];
				mount: {layers: {role: string}[]};
			};
			expect(report.mount.layers.filter((l) => l.role === 'lower')).toHaveLength(2);
			const kind = (x: string): string | undefined => report.entries.find((y) => y.path === x)?.kind;
			expect([kind('/etc/added'), kind('/keep'), kind('/newdir'), kind('/d/sub')]).toEqual([
				'whiteout',
				'whiteout',
				'new',
				'opaque-dir',
			]);
			const image = await runOvl(['docker', 'inspect', 'localhost/shop:1', '--json', '--data-root', e.root]);
			expect(image.exitCode, image.stderr).toBe(0);
			expect((JSON.parse(image.stdout) as {entries: {path: string}[]}).entries.map((x) => x.path)).toEqual(
				expect.arrayContaining(['/etc/added', '/keep/k']),
			);
		},
		300_000 * timeScale,
	);
});
