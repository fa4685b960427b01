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

// Seeded random file operations through an overlay's merged dir, shared by the ground-truth
// tests (ovl diff against a re-mount, ovl commit against a copy of the merged view).

export function rng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export function randomLower(r: () => number, tag: string): Record<string, string> {
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
export function listMerged(root: string, rel = ''): {path: string; dir: boolean}[] {
	const out: {path: string; dir: boolean}[] = [];
	for (const name of readdirSync(path.join(root, rel))) {
		const p = `${rel}/${name}`;
		const dir = lstatSync(path.join(root, p)).isDirectory();
		out.push({path: p, dir});
		if (dir) out.push(...listMerged(root, p));
	}
	return out;
}

export type Pick = (want?: 'file' | 'dir') => {path: string; dir: boolean} | undefined;
export type Op = (m: string, pick: Pick, r: () => number) => string;

export const ops: Op[] = [
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

/** `n` random operations through merged dir `m`; returns what each did (or why it did nothing). */
export function randomOps(m: string, r: () => number, n: number): string[] {
	const log: string[] = [];
	for (let i = 0; i < n; i++) {
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
	return log;
}
