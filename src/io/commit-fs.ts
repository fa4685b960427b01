import {Dir, openBeneath} from './beneath.js';

// Path steps shared by applying a commit and rolling it back, and the names a commit uses inside
// its staging dir (`.ovl-commit-<id>-stage` at the target's root):
//   <slot>    a renamed dir's source, moved aside      d<slot>  a metacopy's data, linked aside
//   t<i>      what action i displaced (kept until the commit is verified, for --abort)
//   c<i>      the children of a dir that action i emptied
//   p<i>      the old bytes of a file action i rewrites in place

export const stageName = (id: string): string => `.ovl-commit-${id}-stage`;
export const tempName = (id: string, i: number): string => `.ovl-commit-${id}-${i}`;
export const trashOf = (i: number): string => `t${i}`;
export const clearedOf = (i: number): string => `c${i}`;
export const savedOf = (i: number): string => `p${i}`;

export const split = (p: string): {dir: string; name: string} => {
	const at = p.lastIndexOf('/');
	return {dir: p.slice(0, at), name: p.slice(at + 1)};
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

export function withParent<T>(root: Dir, path: string, f: (dir: Dir, name: string) => T): T | undefined {
	const p = parentOf(root, path);
	if (!p) return undefined;
	try {
		return f(p.dir, p.name);
	} finally {
		p.dir.close();
	}
}

export function mustParent<T>(root: Dir, path: string, f: (dir: Dir, name: string) => T): T {
	const {dir, name} = split(path);
	const d = openBeneath(root, dir);
	try {
		return f(d, name);
	} finally {
		d.close();
	}
}
