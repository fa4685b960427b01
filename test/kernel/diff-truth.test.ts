import {
	appendFileSync,
	chmodSync,
	chownSync,
	closeSync,
	existsSync,
	linkSync,
	lstatSync,
	mkdirSync,
	openSync,
	readdirSync,
	renameSync,
	rmSync,
	symlinkSync,
	truncateSync,
	utimesSync,
	writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {setXattrSync} from '../../src/io/xattr.js';
import {afterAll, afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree, mountOverlay, umount} from '../helpers/overlay.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {truthDiff, walkView} from '../helpers/views.js';

// Ground truth that needs no model of overlayfs: after random operations through merged/,
// mount the lowers alone and the upper-over-lowers read-only, walk both, and compare what
// differs with what `ovl diff` predicted from the layers.

function rng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function randomLower(r: () => number, tag: string): Record<string, string> {
	const tree: Record<string, string> = {};
	for (const d of ['', 'd0/', 'd1/', 'd1/s/', 'd2/']) {
		if (d !== '' && r() < 0.25) continue;
		const files = 1 + Math.floor(r() * 4);
		for (let i = 0; i < files; i++)
			tree[`${d}f${Math.floor(r() * 6)}`] = `${tag}:${d}${i}:${'z'.repeat(Math.floor(r() * 40))}`;
		if (d !== '') tree[d] = '';
	}
	return tree;
}

/** All paths currently visible in merged/ (relative, '/'-rooted). */
function listMerged(root: string, rel = ''): {path: string; dir: boolean}[] {
	const out: {path: string; dir: boolean}[] = [];
	for (const name of readdirSync(path.join(root, rel))) {
		const p = `${rel}/${name}`;
		const dir = lstatSync(path.join(root, p)).isDirectory();
		out.push({path: p, dir});
		if (dir) out.push(...listMerged(root, p));
	}
	return out;
}

type Pick = (want?: 'file' | 'dir') => {path: string; dir: boolean} | undefined;
type Op = (m: string, pick: Pick, r: () => number) => string;

const ops: Op[] = [
	(m, pick) => {
		const t = pick('file');
		if (!t || t.dir) return 'skip';
		appendFileSync(path.join(m, t.path), 'appended');
		return `append ${t.path}`;
	},
	(m, pick, r) => {
		const t = pick();
		const dir = t?.dir ? t.path : path.dirname(t?.path ?? '/');
		const p = `${dir === '/' ? '' : dir}/n${Math.floor(r() * 1000)}`;
		writeFileSync(path.join(m, p), 'new');
		return `write ${p}`;
	},
	(m, pick) => {
		const t = pick('file');
		if (!t || t.dir) return 'skip';
		rmSync(path.join(m, t.path));
		return `rm ${t.path}`;
	},
	(m, pick) => {
		const t = pick('dir');
		if (!t?.dir) return 'skip';
		rmSync(path.join(m, t.path), {recursive: true});
		return `rm -r ${t.path}`;
	},
	(m, pick) => {
		const t = pick('dir');
		if (!t?.dir) return 'skip';
		rmSync(path.join(m, t.path), {recursive: true});
		mkdirSync(path.join(m, t.path));
		writeFileSync(path.join(m, t.path, 'again'), 'x');
		return `rm -r + mkdir ${t.path}`;
	},
	(m, pick, r) => {
		const t = pick();
		if (!t) return 'skip';
		chmodSync(path.join(m, t.path), r() < 0.5 ? 0o700 : 0o640);
		return `chmod ${t.path}`;
	},
	(m, pick) => {
		const t = pick();
		if (!t) return 'skip';
		chownSync(path.join(m, t.path), 123, 456);
		return `chown ${t.path}`;
	},
	(m, pick) => {
		const t = pick('file');
		if (!t || t.dir) return 'skip';
		utimesSync(path.join(m, t.path), 10, 20);
		return `touch ${t.path}`;
	},
	(m, pick) => {
		const t = pick('file');
		if (!t || t.dir) return 'skip';
		truncateSync(path.join(m, t.path), 1);
		return `truncate ${t.path}`;
	},
	(m, pick) => {
		const t = pick('file');
		if (!t || t.dir) return 'skip';
		closeSync(openSync(path.join(m, t.path), 'r+'));
		return `open rw ${t.path}`;
	},
	(m, pick, r) => {
		const t = pick();
		if (!t) return 'skip';
		const to = `${path.dirname(t.path) === '/' ? '' : path.dirname(t.path)}/mv${Math.floor(r() * 1000)}`;
		try {
			renameSync(path.join(m, t.path), path.join(m, to));
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code === 'EXDEV') return `mv ${t.path}: EXDEV`;
			throw e;
		}
		return `mv ${t.path} ${to}`;
	},
	(m, pick) => {
		const t = pick();
		const d = pick('dir');
		if (!t || !d?.dir || d.path.startsWith(t.path)) return 'skip';
		const to = `${d.path}/moved${path.basename(t.path)}`;
		try {
			renameSync(path.join(m, t.path), path.join(m, to));
		} catch (e) {
			if (['EXDEV', 'ENOTEMPTY', 'EEXIST', 'EINVAL'].includes((e as NodeJS.ErrnoException).code ?? ''))
				return 'mv across: refused';
			throw e;
		}
		return `mv ${t.path} ${to}`;
	},
	(m, pick, r) => {
		const t = pick('file');
		if (!t || t.dir) return 'skip';
		const to = `${path.dirname(t.path) === '/' ? '' : path.dirname(t.path)}/ln${Math.floor(r() * 1000)}`;
		linkSync(path.join(m, t.path), path.join(m, to));
		return `ln ${t.path} ${to}`;
	},
	(m, pick, r) => {
		const t = pick('dir');
		if (!t) return 'skip';
		const to = `${path.dirname(t.path) === '/' ? '' : path.dirname(t.path)}/rd${Math.floor(r() * 1000)}`;
		try {
			renameSync(path.join(m, t.path), path.join(m, to));
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code === 'EXDEV') return `mv dir ${t.path}: EXDEV`;
			throw e;
		}
		return `mv dir ${t.path} ${to}`;
	},
	(m, pick, r) => {
		const t = pick();
		const dir = t?.dir ? t.path : '/';
		const p = `${dir === '/' ? '' : dir}/sym${Math.floor(r() * 1000)}`;
		symlinkSync('target', path.join(m, p));
		return `symlink ${p}`;
	},
	(m, pick, r) => {
		const t = pick();
		const dir = t?.dir ? t.path : '/';
		const p = `${dir === '/' ? '' : dir}/dir${Math.floor(r() * 1000)}`;
		mkdirSync(path.join(m, p));
		return `mkdir ${p}`;
	},
	(m, pick) => {
		const t = pick();
		if (!t) return 'skip';
		setUserXattr(path.join(m, t.path));
		return `setfattr ${t.path}`;
	},
];

function setUserXattr(p: string): void {
	// user.* xattrs are not allowed on symlinks; only files and dirs get one.
	if (lstatSync(p).isSymbolicLink()) return;
	setXattrSync(p, 'user.prop', 'v1');
}

let dir = '';
const stats = {ops: 0, differences: 0};

describeKernel('ovl diff agrees with the kernel (ground truth by re-mounting)', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-truth-');
	});
	afterEach(async () => cleanScratch(dir));
	afterAll(() => {
		// Guard against a vacuous pass: the runs must really have changed things.
		expect(stats.ops).toBeGreaterThan(100);
		expect(stats.differences).toBeGreaterThan(50);
	});

	const variants: {name: string; options: string[]}[] = [
		{name: 'redirect_dir=on,metacopy=on', options: ['redirect_dir=on', 'metacopy=on']},
		{name: 'default options', options: []},
	];
	const seeds = Number(process.env['OVL_TRUTH_SEEDS'] ?? 8);
	const opsPerSeed = Number(process.env['OVL_TRUTH_OPS'] ?? 40);

	for (const v of variants) {
		test.each(Array.from({length: seeds}, (_, i) => 1000 + i))(`${v.name}: seed %i`, async (seed) => {
			const r = rng(seed);
			const l1 = path.join(dir, 'l1');
			const l2 = path.join(dir, 'l2');
			await makeTree(l1, randomLower(r, 'one'));
			await makeTree(l2, randomLower(r, 'two'));
			const m = path.join(dir, 'm');
			await mountOverlay({
				lowers: [l1, l2],
				upper: path.join(dir, 'u'),
				work: path.join(dir, 'w'),
				merged: m,
				options: v.options,
			});
			const log: string[] = [];
			for (let i = 0; i < opsPerSeed; i++) {
				const visible = listMerged(m);
				const pick: Pick = (want) => {
					const pool = visible.filter(
						(v) => (want === undefined ? true : want === 'dir' ? v.dir : !v.dir) && existsSync(path.join(m, v.path)),
					);
					return pool[Math.floor(r() * pool.length)];
				};
				const op = ops[Math.floor(r() * ops.length)] as Op;
				try {
					log.push(op(m, pick, r));
				} catch (e) {
					log.push(`failed: ${(e as Error).message}`);
				}
			}
			const predicted = await runOvl(['diff', m, '--json']);
			expect(predicted.exitCode, predicted.stderr).toBe(0);
			const doc = JSON.parse(predicted.stdout) as {changes: {op: string; path: string}[]};
			await umount(m);
			const lowerOnly = path.join(dir, 'v-lower');
			const merged = path.join(dir, 'v-new');
			await mountOverlay({lowers: [l1, l2], merged: lowerOnly});
			await mountOverlay({
				lowers: [l1, l2, path.join(dir, 'u')],
				merged,
				options: v.options.length > 0 ? v.options : [],
			});
			const truth = truthDiff(await walkView(lowerOnly), await walkView(merged));
			const ovl = doc.changes.map((c) => `${c.op} ${c.path}`).sort();
			expect(ovl, `operations:\n${log.join('\n')}`).toEqual(truth);
			if (process.env['OVL_TRUTH_DEBUG'])
				console.log(
					`seed ${seed}: ${truth.length} differences; ${log.filter((l) => !l.startsWith('skip')).length} operations\n${log.join('\n')}`,
				);
			stats.ops += log.filter((l) => l !== 'skip').length;
			stats.differences += truth.length;
		});
	}
});
