import {
	chmodSync,
	closeSync,
	constants,
	fchmodSync,
	fstatSync,
	lchownSync,
	lstatSync,
	lutimesSync,
	openSync,
} from 'node:fs';
import type {BigIntStats} from 'node:fs';
import {encodePath} from '../core/bytes.js';
import type {Dir} from './beneath.js';
import {native} from './native.js';
import {setXattrIn} from './nodes.js';
import {getXattrSync, listXattrsSync, removeXattrSync} from './xattr.js';

// Metadata as a commit moves it: the upper entry's onto the target (copyMeta), and the target's
// own recorded before an action changes it and put back when the commit is rolled back (Meta,
// snapshotMeta, restoreMeta). Every call names its object through a dir fd, never following a link.

const O = constants;
export const S_IFMT = 0o170000;
export const isOverlayXattr = (n: string): boolean => n.startsWith('trusted.overlay.') || n.startsWith('user.overlay.');

/** atime and mtime in nanoseconds, as decimal strings (a BigInt does not survive JSON). */
export type Times = readonly [string, string];

/** What an object in the target was before an action changed it: all of it that a rollback puts back. */
export type Meta = {
	readonly type: number;
	readonly uid: number;
	readonly gid: number;
	readonly perm: number;
	/** Every xattr (overlay.* too: a target over other layers gets opaque markers), name and hex value. */
	readonly xattrs: readonly (readonly [string, string])[];
	readonly times: Times;
};

/**
 What the journal keeps of the target just before action i runs (its `pre` line, written before
 the action changes anything): whether something was at the action's path, that object's
 metadata, its parent's times, and, for a dir it empties, the times of the dirs it moves aside.
 */
export type Prior = {
	readonly had: boolean;
	readonly self?: Meta;
	readonly parent?: Times;
	readonly kids?: readonly (readonly [string, Times])[];
};

export const child = (dir: Dir, name: string): Buffer => (name === '.' ? dir.self() : dir.child(name));

const timesOfStat = (st: BigIntStats): Times => [st.atimeNs.toString(), st.mtimeNs.toString()];

export const timesOf = (dir: Dir, name: string): Times => timesOfStat(lstatSync(child(dir, name), {bigint: true}));

export function snapshotMeta(dir: Dir, name: string): Meta {
	const p = child(dir, name);
	const st = lstatSync(p, {bigint: true});
	const xattrs = listXattrsSync(p)
		.sort()
		.map((n) => [n, getXattrSync(p, n)?.toString('hex') ?? ''] as const);
	return {
		type: Number(st.mode) & S_IFMT,
		uid: Number(st.uid),
		gid: Number(st.gid),
		perm: Number(st.mode) & 0o7777,
		xattrs,
		times: timesOfStat(st),
	};
}

/** Whether the object now there has the recorded metadata; the fields that differ otherwise. */
export function metaDifferences(dir: Dir, name: string, want: Meta): string[] {
	const got = snapshotMeta(dir, name);
	const out: string[] = [];
	if (got.type !== want.type) return ['type'];
	for (const k of ['uid', 'gid', 'perm'] as const) if (got[k] !== want[k]) out.push(k);
	if (JSON.stringify(got.xattrs) !== JSON.stringify(want.xattrs)) out.push('xattrs');
	if (got.times[1] !== want.times[1]) out.push('mtime');
	return out;
}

/**
 Puts recorded metadata back on the object at `name`, changing only what differs (a symlink takes
 no user.* xattrs; chown clears setuid, so the mode goes on after it). False when a different
 type of object is there: that is not the one recorded.
 */
export function restoreMeta(dir: Dir, name: string, want: Meta): boolean {
	const p = child(dir, name);
	let st = lstatSync(p, {bigint: true});
	const type = Number(st.mode) & S_IFMT;
	if (type !== want.type) return false;
	if (Number(st.uid) !== want.uid || Number(st.gid) !== want.gid) {
		lchownSync(p, want.uid, want.gid);
		st = lstatSync(p, {bigint: true});
	}
	if (type !== O.S_IFLNK && (Number(st.mode) & 0o7777) !== want.perm) chmodExact(dir, name, type, want.perm);
	const wanted = new Map(want.xattrs);
	for (const n of listXattrsSync(p)) if (!wanted.has(n)) removeXattrSync(p, n);
	for (const [n, hex] of want.xattrs)
		if (getXattrSync(p, n)?.toString('hex') !== hex) setXattrIn(dir, name, n, Buffer.from(hex, 'hex'));
	setTimes(dir, name, want.times);
	return true;
}

/**
 The upper entry's owner, mode, xattrs (never overlay.*) and times onto the target entry, in the
 order that keeps them: chown clears setuid/setgid and security.capability, so it goes first.
 */
export function copyMeta(udir: Dir, uname: string, dir: Dir, name: string): void {
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
	setTimes(dir, name, timesOfStat(st));
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

/** Exact nanoseconds through the native helper; whole microseconds or so without it. */
export function setTimes(dir: Dir, name: string, [atime, mtime]: Times): void {
	const n = native();
	const a = BigInt(atime);
	const m = BigInt(mtime);
	const sec = (ns: bigint): number => Number(ns / 1_000_000_000n);
	const nsec = (ns: bigint): number => Number(ns % 1_000_000_000n);
	if (n) {
		n.utimensat(dir.fd, encodePath(name), sec(a), nsec(a), sec(m), nsec(m));
		return;
	}
	lutimesSync(child(dir, name), Number(a) / 1e9, Number(m) / 1e9);
}

/** The dir's own times, by its fd. */
export const dirTimes = (dir: Dir): Times => timesOfStat(fstatSync(dir.fd, {bigint: true}));
