import {createHash} from 'node:crypto';
import {closeSync, constants, lstatSync, openSync, readSync, readlinkSync} from 'node:fs';
import {encodePath} from '../core/bytes.js';
import type {TreeFact} from '../core/commit-verify.js';
import {fileTypeOfMode} from '../core/lower-view.js';
import {childPath} from './lower-dirs.js';
import {readdirPath, sysPath} from './walk-fs.js';
import {getXattrSync, listXattrsSync} from './xattr.js';

// Records a tree for commit's verification: lstat (never following a link), a symlink's target,
// non-overlay xattrs with values, and sha256 of the files `hash` picks. Hard links are named by
// the first path of their group.

/** One copy buffer for the whole process: a fresh 1 MiB per file was most of the GC time. */
const buf = Buffer.allocUnsafe(1 << 20);
const isOverlayXattr = (n: string): boolean => n.startsWith('trusted.overlay.') || n.startsWith('user.overlay.');

function sha256(p: string): string {
	const fd = openSync(sysPath(p), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
	try {
		const h = createHash('sha256');
		for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
		return h.digest('hex');
	} finally {
		closeSync(fd);
	}
}

function xattrs(p: string): string {
	const target = sysPath(p);
	return listXattrsSync(target)
		.filter((n) => !isOverlayXattr(n))
		.sort()
		.map((n) => `${n}=${getXattrSync(target, n)?.toString('hex') ?? ''}`)
		.join(' ');
}

/**
 Every path below `root` ('/' for the root itself), or only those inside `only`; `hash` says
 which regular files to read; `skip` is a name in the root left out (a commit's staging dir).
 */
export function recordTree(
	root: string,
	options: {hash: (rel: string) => boolean; only?: readonly string[]; skip?: string},
): Map<string, TreeFact> {
	const out = new Map<string, TreeFact>();
	const inodes = new Map<string, string[]>();
	const only = options.only === undefined ? undefined : new Set(options.only);
	const ancestors = new Set<string>();
	for (const o of only ?? [])
		for (let at = o.lastIndexOf('/'); at > 0; at = o.lastIndexOf('/', at - 1)) ancestors.add(o.slice(0, at));
	// Inside a chosen path when it or one of its ancestors was chosen: one lookup per component.
	const inside = (rel: string): boolean => {
		if (!only) return true;
		for (let p = rel; p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) if (only.has(p)) return true;
		return false;
	};
	const wanted = (rel: string): boolean => inside(rel) || ancestors.has(rel);
	const visit = (rel: string): void => {
		const abs = rel === '/' ? root : childPath(root.replace(/\/$/, ''), rel.slice(1));
		const st = lstatSync(sysPath(abs), {bigint: true});
		const type = fileTypeOfMode(Number(st.mode));
		if (inside(rel)) {
			const fact: TreeFact = {
				type,
				perm: Number(st.mode) & 0o7777,
				uid: Number(st.uid),
				gid: Number(st.gid),
				size: type === 'file' || type === 'symlink' ? Number(st.size) : 0,
				mtime: st.mtimeNs.toString(),
				rdev: type === 'char' || type === 'block' ? Number(st.rdev) : 0,
				...(type === 'symlink' ? {link: readlinkSync(sysPath(abs), {encoding: 'buffer'}).toString('hex')} : {}),
				...(type === 'file' && options.hash(rel) ? {hash: sha256(abs)} : {}),
				xattrs: xattrs(abs),
			};
			out.set(rel, fact);
			if (type !== 'dir' && st.nlink > 1n) {
				const key = `${st.dev}:${st.ino}`;
				inodes.set(key, [...(inodes.get(key) ?? []), rel]);
			}
		}
		if (type === 'dir')
			for (const name of readdirPath(abs).sort((a, b) => Buffer.compare(encodePath(a), encodePath(b)))) {
				if (rel === '/' && name === options.skip) continue;
				const r = rel === '/' ? `/${name}` : `${rel}/${name}`;
				if (wanted(r)) visit(r);
			}
	};
	visit('/');
	for (const members of inodes.values()) {
		if (members.length < 2) continue;
		const first = [...members].sort()[0] as string;
		for (const m of members) out.set(m, {...(out.get(m) as TreeFact), linkOf: first});
	}
	return out;
}
