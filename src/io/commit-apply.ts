import {
	chmodSync,
	closeSync,
	constants,
	fchmodSync,
	fstatSync,
	ftruncateSync,
	lchownSync,
	linkSync,
	lstatSync,
	lutimesSync,
	mkdirSync,
	openSync,
	readSync,
	readlinkSync,
	renameSync,
	rmdirSync,
	symlinkSync,
	unlinkSync,
	writeSync,
	type BigIntStats,
} from 'node:fs';
import {randomBytes} from 'node:crypto';
import {encodePath} from '../core/bytes.js';
import type {CommitAction} from '../core/commit-plan.js';
import {OvlError} from '../core/errors.js';
import {Dir, fsError, listDir, openBeneath, openRoot, removeTreeIn, statIn} from './beneath.js';
import {native} from './native.js';
import {makeNode, setXattrIn} from './nodes.js';
import {sysPath} from './walk-fs.js';
import {getXattrSync, listXattrsSync, removeXattrSync} from './xattr.js';

// Applies a commit plan to the target tree as root, never following a link in it: every path is
// resolved a component at a time from the target's root fd (io/beneath.ts), new objects are made
// under a temp name (O_EXCL) and renamed over the old one, and the upper is read the same way.

/** One copy buffer for the whole process: a fresh 1 MiB per file was most of the GC time. */
const buf = Buffer.allocUnsafe(1 << 20);
const O = constants;
const S_IFMT = 0o170000;
const isOverlayXattr = (n: string): boolean => n.startsWith('trusted.overlay.') || n.startsWith('user.overlay.');
const split = (p: string): {dir: string; name: string} => {
	const at = p.lastIndexOf('/');
	return {dir: p.slice(0, at), name: p.slice(at + 1)};
};
/** A fresh id per commit (in its journal), so a resumed run finds its own temp names and staging dir. */
export const commitId = (): string => randomBytes(6).toString('hex');

export type CommitSides = {
	readonly upper: string;
	readonly target: string;
	/** The commit's id: names its staging dir and temp files, which a resumed run cleans up. */
	readonly id: string;
	/** The namespace of the opaque markers a target over other layers gets. */
	readonly ns: 'trusted' | 'user';
	/** Called after each action, with its index: the journal's hook. */
	readonly onDone?: (index: number) => void;
};

/** Opens both roots and runs every action in order; the staging dir is removed at the end. */
export function applyCommit(actions: readonly CommitAction[], sides: CommitSides, from = 0): void {
	const upper = openRoot(sides.upper);
	const target = openRoot(sides.target);
	let stage: Dir | undefined;
	try {
		const stageName = `.ovl-commit-${sides.id}-stage`;
		const openStage = (): Dir => {
			if (stage) return stage;
			try {
				mkdirSync(target.child(stageName), {mode: 0o700});
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(error, `${sides.target}/${stageName}`);
			}
			stage = openBeneath(target, stageName);
			return stage;
		};
		for (let i = from; i < actions.length; i++) {
			const a = actions[i] as CommitAction;
			try {
				apply(a, {upper, target, stage: openStage, temp: `.ovl-commit-${sides.id}-${i}`, ns: sides.ns});
			} catch (error) {
				throw fsError(error, `${sides.target}${a.path}`);
			}
			sides.onDone?.(i);
		}
		if (stage || statIn(target, stageName)) {
			const s = openStage();
			for (const n of listDir(s)) removeTreeIn(s, n);
			s.close();
			stage = undefined;
			rmdirSync(target.child(stageName));
		}
		// Removing the staging dir touched the root's mtime (maybe in a run that was then killed):
		// the root's metadata goes on again, last, every time.
		if (actions.some((a) => a.op === 'meta' && a.path === '/')) copyMeta(upper, '.', target, '.');
	} finally {
		stage?.close();
		upper.close();
		target.close();
	}
}

type Roots = {
	readonly upper: Dir;
	readonly target: Dir;
	readonly stage: () => Dir;
	/** This action's temp name: one left by a killed run is removed before it is made again. */
	readonly temp: string;
	readonly ns: 'trusted' | 'user';
};

/** The parent dir of `path` beneath `root`, or undefined when it is not there (nothing to act on). */
function parentOf(root: Dir, path: string): {dir: Dir; name: string} | undefined {
	const {dir, name} = split(path);
	try {
		return {dir: openBeneath(root, dir), name};
	} catch {
		return undefined;
	}
}

function withParent<T>(root: Dir, path: string, f: (dir: Dir, name: string) => T): T | undefined {
	const p = parentOf(root, path);
	if (!p) return undefined;
	try {
		return f(p.dir, p.name);
	} finally {
		p.dir.close();
	}
}

function mustParent<T>(root: Dir, path: string, f: (dir: Dir, name: string) => T): T {
	const {dir, name} = split(path);
	const d = openBeneath(root, dir);
	try {
		return f(d, name);
	} finally {
		d.close();
	}
}

function apply(a: CommitAction, r: Roots): void {
	switch (a.op) {
		case 'stage-dir':
			withParent(r.target, a.path, (dir, name) => {
				if (statIn(dir, name)?.isDirectory()) renameSync(dir.child(name), r.stage().child(String(a.slot)));
			});
			return;
		case 'stage-data':
			withParent(r.target, a.path, (dir, name) => {
				// Already linked: a resumed commit runs this action again.
				if (statIn(dir, name)?.isFile() && !statIn(r.stage(), `d${a.slot}`))
					linkSync(dir.child(name), r.stage().child(`d${a.slot}`));
			});
			return;
		case 'remove':
			withParent(r.target, a.path, (dir, name) => removeTreeIn(dir, name));
			return;
		case 'whiteout':
			mustParent(r.target, a.path, (dir, name) => {
				const st = statIn(dir, name);
				if (st?.isCharacterDevice() && st.rdev === 0) return; // made by a run that was then killed
				if (st) removeTreeIn(dir, name);
				makeNode(dir, name, O.S_IFCHR, 0, 0);
			});
			return;
		case 'dir':
			mustParent(r.target, a.path, (dir, name) => {
				makeDir(dir, name, a, r);
				if (a.opaque) setXattrIn(dir, name, `${r.ns}.overlay.opaque`, Buffer.from('y'));
			});
			return;
		case 'write':
			mustParent(r.target, a.path, (dir, name) =>
				mustParent(r.upper, a.path, (udir, uname) => write(dir, name, udir, uname, a, r)),
			);
			return;
		case 'link':
			mustParent(r.target, a.path, (dir, name) =>
				mustParent(r.target, a.to, (fromDir, fromName) => {
					const tmp = freshTemp(dir, r.temp);
					linkSync(fromDir.child(fromName), dir.child(tmp));
					replaceWith(dir, name, tmp);
				}),
			);
			return;
		case 'meta':
			if (a.path === '/') return copyMeta(r.upper, '.', r.target, '.');
			mustParent(r.target, a.path, (dir, name) =>
				mustParent(r.upper, a.path, (udir, uname) => copyMeta(udir, uname, dir, name)),
			);
	}
}

function makeDir(dir: Dir, name: string, a: Extract<CommitAction, {op: 'dir'}>, r: Roots): void {
	const st = statIn(dir, name);
	if (a.slot !== undefined) {
		const staged = statIn(r.stage(), String(a.slot));
		if (staged) {
			if (st) removeTreeIn(dir, name);
			renameSync(r.stage().child(String(a.slot)), dir.child(name));
			return;
		}
		// Not staged: already placed (a resumed commit runs this action again); keep it.
		if (st?.isDirectory()) return;
	}
	if (st?.isDirectory()) {
		if (a.clear) {
			const sub = openBeneath(dir, name);
			try {
				for (const n of listDir(sub)) removeTreeIn(sub, n);
			} finally {
				sub.close();
			}
		}
		return;
	}
	if (st) removeTreeIn(dir, name);
	mkdirSync(dir.child(name), {mode: 0o700}); // its real mode comes with the directory metadata, last
}

/** The action's temp name in `dir`, after removing what a killed run of the same action left there. */
function freshTemp(dir: Dir, temp: string): string {
	if (statIn(dir, temp)) removeTreeIn(dir, temp);
	return temp;
}

/** Renames `tmp` over `name`, first removing a directory in the way (rename cannot replace one with a file). */
function replaceWith(dir: Dir, name: string, tmp: string): void {
	if (statIn(dir, name)?.isDirectory()) removeTreeIn(dir, name);
	renameSync(dir.child(tmp), dir.child(name));
	// rename(2) of one hard link onto another of the same inode does nothing: drop the temp name.
	if (statIn(dir, tmp)) unlinkSync(dir.child(tmp));
}

function write(
	dir: Dir,
	name: string,
	udir: Dir,
	uname: string,
	a: Extract<CommitAction, {op: 'write'}>,
	r: Roots,
): void {
	const ust = lstatSync(udir.child(uname), {bigint: true});
	const type = Number(ust.mode) & S_IFMT;
	if (a.inPlace && type === O.S_IFREG) {
		const tst = statIn(dir, name);
		if (tst?.isFile()) {
			const fd = openSync(dir.child(name), O.O_WRONLY | O.O_NOFOLLOW | O.O_NONBLOCK);
			try {
				if (!fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), {code: 'EINVAL'});
				ftruncateSync(fd, 0);
				copyData(udir, uname, a, r, fd);
			} finally {
				closeSync(fd);
			}
			copyMeta(udir, uname, dir, name);
			return;
		}
	}
	const tmp = freshTemp(dir, r.temp);
	try {
		if (type === O.S_IFREG) {
			const fd = openSync(dir.child(tmp), O.O_WRONLY | O.O_CREAT | O.O_EXCL | O.O_NOFOLLOW, 0o600);
			try {
				copyData(udir, uname, a, r, fd);
			} finally {
				closeSync(fd);
			}
		} else if (type === O.S_IFLNK) {
			symlinkSync(readlinkSync(udir.child(uname), {encoding: 'buffer'}), dir.child(tmp));
		} else if (type === O.S_IFDIR) {
			throw Object.assign(new Error('a directory is not written, it is made'), {code: 'EISDIR'});
		} else {
			const rdev = ust.rdev; // glibc's dev_t layout: major in bits 8–19 and 32+, minor in 0–7 and 20–31
			const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
			const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
			makeNode(dir, tmp, type, major, minor);
		}
		copyMeta(udir, uname, dir, tmp);
		replaceWith(dir, name, tmp);
	} catch (error) {
		try {
			if (statIn(dir, tmp)) unlinkSync(dir.child(tmp));
		} catch {
			// the original error says what went wrong
		}
		throw error;
	}
}

/** The bytes of the new file: the upper's, a staged file's (a metacopy's data in the target), or a lower file's. */
function copyData(udir: Dir, uname: string, a: Extract<CommitAction, {op: 'write'}>, r: Roots, out: number): void {
	const source =
		a.dataSlot !== undefined
			? r.stage().child(`d${a.dataSlot}`)
			: a.dataFrom !== undefined
				? sysPath(a.dataFrom)
				: udir.child(uname);
	const fd = openSync(source, O.O_RDONLY | O.O_NOFOLLOW | O.O_NONBLOCK);
	try {
		if (!fstatSync(fd).isFile())
			throw Object.assign(new Error('the data source is not a regular file'), {code: 'EINVAL'});
		for (;;) {
			const n = readSync(fd, buf, 0, buf.length, null);
			if (n === 0) break;
			for (let off = 0; off < n;) off += writeSync(out, buf, off, n - off);
		}
	} finally {
		closeSync(fd);
	}
}

const child = (dir: Dir, name: string): Buffer => (name === '.' ? dir.self() : dir.child(name));

/**
 The upper entry's owner, mode, xattrs (never overlay.*) and times onto the target entry, in the
 order that keeps them: chown clears setuid/setgid and security.capability, so it goes first.
 */
function copyMeta(udir: Dir, uname: string, dir: Dir, name: string): void {
	const from = child(udir, uname);
	const to = child(dir, name);
	const st: BigIntStats = lstatSync(from, {bigint: true});
	const type = Number(st.mode) & S_IFMT;
	lchownSync(to, Number(st.uid), Number(st.gid));
	if (type !== O.S_IFLNK) chmodExact(dir, name, type, Number(st.mode) & 0o7777);
	const want = listXattrsSync(from).filter((n) => !isOverlayXattr(n));
	for (const n of listXattrsSync(to)) if (!isOverlayXattr(n) && !want.includes(n)) removeXattrSync(to, n);
	for (const n of want) {
		const v = getXattrSync(from, n);
		if (v !== undefined) setXattrIn(dir, name, n, v);
	}
	setTimes(dir, name, st);
}

/** chmod without following a link: by fd for files and dirs; a FIFO or device by name (opening one has effects). */
function chmodExact(dir: Dir, name: string, type: number, mode: number): void {
	if (type === O.S_IFREG || type === O.S_IFDIR) {
		const fd = openSync(child(dir, name), O.O_RDONLY | O.O_NOFOLLOW | O.O_NONBLOCK);
		try {
			fchmodSync(fd, mode);
		} finally {
			closeSync(fd);
		}
		return;
	}
	chmodSync(child(dir, name), mode);
}

function setTimes(dir: Dir, name: string, st: BigIntStats): void {
	const n = native();
	const sec = (ns: bigint): number => Number(ns / 1_000_000_000n);
	const nsec = (ns: bigint): number => Number(ns % 1_000_000_000n);
	if (n) {
		n.utimensat(dir.fd, encodePath(name), sec(st.atimeNs), nsec(st.atimeNs), sec(st.mtimeNs), nsec(st.mtimeNs));
		return;
	}
	lutimesSync(child(dir, name), Number(st.atimeNs) / 1e9, Number(st.mtimeNs) / 1e9);
}

/** Removes `rel` (and below) from the tree at `root`, never following a link; absent is fine. */
export function removeIn(root: string, rel: string): void {
	const r = openRoot(root);
	try {
		withParent(r, rel, (dir, name) => removeTreeIn(dir, name));
	} finally {
		r.close();
	}
}

/** Empties a directory (the upper after a commit), never following a link. */
export function emptyDir(p: string, options: {missingOk?: boolean} = {}): void {
	let d: Dir;
	try {
		d = openRoot(p);
	} catch (error) {
		if (options.missingOk && error instanceof OvlError && error.code === 'OVL_PATH_MISSING') return;
		throw error;
	}
	try {
		for (const n of listDir(d)) removeTreeIn(d, n);
	} finally {
		d.close();
	}
}
