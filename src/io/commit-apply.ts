import {
	closeSync,
	constants,
	fstatSync,
	ftruncateSync,
	linkSync,
	lstatSync,
	mkdirSync,
	openSync,
	readSync,
	readlinkSync,
	renameSync,
	symlinkSync,
	unlinkSync,
	writeSync,
} from 'node:fs';
import {randomBytes} from 'node:crypto';
import type {CommitAction} from '../core/commit-plan.js';
import {OvlError} from '../core/errors.js';
import {Dir, fsError, listDir, openBeneath, openRoot, removeTreeIn, statIn} from './beneath.js';
import {clearedOf, mustParent, savedOf, stageName, tempName, trashOf, withParent} from './commit-fs.js';
import {copyMeta, dirTimes, S_IFMT, snapshotMeta, timesOf, type Prior, type Times} from './commit-meta.js';
import {makeNode, setXattrIn} from './nodes.js';
import {sysPath} from './walk-fs.js';

// Applies a commit plan to the target tree as root, never following a link in it: every path is
// resolved a component at a time from the target's root fd (io/beneath.ts), new objects are made
// under a temp name (O_EXCL) and renamed over the old one, and the upper is read the same way.
// Nothing of the target is deleted until the commit is verified: what an action displaces goes
// to the staging dir (io/commit-fs.ts names), so --abort can put it back (io/commit-undo.ts).

/** One copy buffer for the whole process: a fresh 1 MiB per file was most of the GC time. */
const buf = Buffer.allocUnsafe(1 << 20);
const O = constants;
/** A fresh id per commit (in its journal), so a resumed run finds its own temp names and staging dir. */
export const commitId = (): string => randomBytes(6).toString('hex');

export type CommitSides = {
	readonly upper: string;
	readonly target: string;
	/** The commit's id: names its staging dir and temp files, which a resumed run cleans up. */
	readonly id: string;
	/** The namespace of the opaque markers a target over other layers gets. */
	readonly ns: 'trusted' | 'user';
	/** What a killed run journaled before its actions: an action's prior is taken once, never again. */
	readonly priors: ReadonlyMap<number, Prior>;
	/** Called before action i changes anything, with what it will change: the journal's `pre` line. */
	readonly onPrior?: (index: number, prior: Prior) => void;
	/** Called after each action, with its index: the journal's hook. */
	readonly onDone?: (index: number) => void;
};

/** Opens both roots and the staging dir and runs every action from `from` on, in order. */
export function applyCommit(actions: readonly CommitAction[], sides: CommitSides, from = 0): void {
	const upper = openRoot(sides.upper);
	const target = openRoot(sides.target);
	let stage: Dir | undefined;
	try {
		stage = openStage(target, sides.id);
		for (let i = from; i < actions.length; i++) {
			const a = actions[i] as CommitAction;
			try {
				let prior = sides.priors.get(i);
				if (!prior) {
					prior = priorOf(a, target);
					sides.onPrior?.(i, prior);
				}
				apply(a, {upper, target, stage, temp: tempName(sides.id, i), ns: sides.ns, prior, i});
			} catch (error) {
				throw fsError(error, `${sides.target}${a.path}`);
			}
			sides.onDone?.(i);
		}
	} finally {
		stage?.close();
		upper.close();
		target.close();
	}
}

/** The staging dir, made if missing (mode 0700: what it holds is the target's, moved aside). */
export function openStage(target: Dir, id: string): Dir {
	try {
		mkdirSync(target.child(stageName(id)), {mode: 0o700});
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(error, `${target.shown}/${stageName(id)}`);
	}
	return openBeneath(target, stageName(id));
}

/**
 After verification: the staging dir goes (what the commit displaced with it), then the root's
 metadata again, since removing it touched the root's mtime (maybe in a run that was then killed).
 */
export function purgeStage(sides: {upper: string; target: string; id: string}, rootMeta: boolean): void {
	const upper = openRoot(sides.upper);
	const target = openRoot(sides.target);
	try {
		if (statIn(target, stageName(sides.id))) {
			removeTreeIn(target, stageName(sides.id));
		}
		if (rootMeta) copyMeta(upper, '.', target, '.');
	} finally {
		upper.close();
		target.close();
	}
}

/** What action `a` will change, taken before it changes anything. */
function priorOf(a: CommitAction, target: Dir): Prior {
	if (a.path === '/') return {had: true, self: snapshotMeta(target, '.')};
	return (
		withParent(target, a.path, (dir, name): Prior => {
			const st = statIn(dir, name);
			const parent = dirTimes(dir);
			if (!st) return {had: false, parent};
			const kids = a.op === 'dir' && a.clear && st.isDirectory() ? childDirTimes(dir, name) : undefined;
			return {had: true, self: snapshotMeta(dir, name), parent, ...(kids ? {kids} : {})};
		}) ?? {had: false}
	);
}

/** The times of the dirs in `name`: moving a dir may touch its own (its `..` changes). */
function childDirTimes(dir: Dir, name: string): (readonly [string, Times])[] {
	const sub = openBeneath(dir, name);
	try {
		return listDir(sub)
			.filter((n) => statIn(sub, n)?.isDirectory())
			.map((n) => [n, timesOf(sub, n)] as const);
	} finally {
		sub.close();
	}
}

type Roots = {
	readonly upper: Dir;
	readonly target: Dir;
	readonly stage: Dir;
	/** This action's temp name: one left by a killed run is removed before it is made again. */
	readonly temp: string;
	readonly ns: 'trusted' | 'user';
	readonly prior: Prior;
	readonly i: number;
};

/**
 Whether what is at the action's path is still the target's own object: something was there
 before the action, and it has not been moved to the trash yet. Anything else there was made by
 this action in a run that was killed.
 */
const original = (r: Roots): boolean => r.prior.had && !statIn(r.stage, trashOf(r.i));

/**
 Moves the target's own object at `name` to this action's trash, or removes what a killed run of
 this action made there. `link`: a non-dir stays where it is, linked into the trash too, so the
 rename that replaces it stays atomic.
 */
function displace(dir: Dir, name: string, r: Roots, mode: 'move' | 'link'): void {
	const st = statIn(dir, name);
	if (!st) return;
	if (!original(r)) {
		removeTreeIn(dir, name);
		return;
	}
	if (mode === 'link' && !st.isDirectory()) linkSync(dir.child(name), r.stage.child(trashOf(r.i)));
	else renameSync(dir.child(name), r.stage.child(trashOf(r.i)));
}

function apply(a: CommitAction, r: Roots): void {
	switch (a.op) {
		case 'stage-dir':
			withParent(r.target, a.path, (dir, name) => {
				if (statIn(dir, name)?.isDirectory() && !statIn(r.stage, String(a.slot)))
					renameSync(dir.child(name), r.stage.child(String(a.slot)));
			});
			return;
		case 'stage-data':
			withParent(r.target, a.path, (dir, name) => {
				// Already linked: a resumed commit runs this action again.
				if (statIn(dir, name)?.isFile() && !statIn(r.stage, `d${a.slot}`))
					linkSync(dir.child(name), r.stage.child(`d${a.slot}`));
			});
			return;
		case 'remove':
			withParent(r.target, a.path, (dir, name) => displace(dir, name, r, 'move'));
			return;
		case 'whiteout':
			mustParent(r.target, a.path, (dir, name) => {
				const st = statIn(dir, name);
				if (st?.isCharacterDevice() && st.rdev === 0 && !original(r)) return; // made by a run that was then killed
				displace(dir, name, r, 'move');
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
					displace(dir, name, r, 'link');
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
		if (statIn(r.stage, String(a.slot))) {
			displace(dir, name, r, 'move');
			renameSync(r.stage.child(String(a.slot)), dir.child(name));
			return;
		}
		// Not staged: already placed (a resumed commit runs this action again), or no source: keep it.
		if (st?.isDirectory()) return;
	}
	if (st?.isDirectory()) {
		if (a.clear) clearDir(dir, name, r);
		return;
	}
	displace(dir, name, r, 'move');
	mkdirSync(dir.child(name), {mode: 0o700}); // its real mode comes with the directory metadata, last
}

/** Empties the dir: the target's own children move to the trash (c<i>); a killed run's own are removed. */
function clearDir(dir: Dir, name: string, r: Roots): void {
	const sub = openBeneath(dir, name);
	try {
		const names = listDir(sub);
		if (names.length === 0) return;
		if (!original(r)) {
			for (const n of names) removeTreeIn(sub, n);
			return;
		}
		const cleared = openBeneath(r.stage, clearedOf(r.i), {create: {mode: 0o700}});
		try {
			for (const n of names) renameSync(sub.child(n), cleared.child(n));
		} finally {
			cleared.close();
		}
	} finally {
		sub.close();
	}
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
			// The inode stays (its other names see the change): its old bytes are kept aside first.
			if (r.prior.had && !statIn(r.stage, savedOf(r.i))) saveBytes(dir, name, r);
			const fd = openSync(dir.child(name), O.O_WRONLY | O.O_NOFOLLOW | O.O_NONBLOCK);
			try {
				if (!fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), {code: 'EINVAL'});
				ftruncateSync(fd, 0);
				copyBytes(dataSource(udir, uname, a, r), fd);
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
				copyBytes(dataSource(udir, uname, a, r), fd);
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
		displace(dir, name, r, 'link');
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

/** A copy of the bytes of the file at `name` in the trash (p<i>), whole before it counts. */
function saveBytes(dir: Dir, name: string, r: Roots): void {
	const tmp = freshTemp(r.stage, `${savedOf(r.i)}.tmp`);
	const fd = openSync(r.stage.child(tmp), O.O_WRONLY | O.O_CREAT | O.O_EXCL | O.O_NOFOLLOW, 0o600);
	try {
		copyBytes(dir.child(name), fd);
	} finally {
		closeSync(fd);
	}
	renameSync(r.stage.child(tmp), r.stage.child(savedOf(r.i)));
}

/** Where the new file's bytes come from: the upper's, a staged file's (a metacopy's data in the target), or a lower file's. */
const dataSource = (udir: Dir, uname: string, a: Extract<CommitAction, {op: 'write'}>, r: Roots): string | Buffer =>
	a.dataSlot !== undefined
		? r.stage.child(`d${a.dataSlot}`)
		: a.dataFrom !== undefined
			? sysPath(a.dataFrom)
			: udir.child(uname);

/** Copies a regular file's bytes (opened without following a link or blocking on a FIFO) to `out`. */
export function copyBytes(source: string | Buffer, out: number): void {
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
