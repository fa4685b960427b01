import type {StatLite} from '../core/entry.js';
import {LowerDirs, childPath, statLite} from './lower-dirs.js';
import {
	nameListOf,
	namesIn,
	xattrEntry,
	type DirListing,
	type Ns,
	type Probed,
	type ScanPort,
	type XattrFailure,
	type XattrSet,
} from './scan-port.js';
import {getXattrPath, listXattrsPath, lstatPath, readdirPath} from './walk-fs.js';

// The pure-JS scan port: one node:fs or xattr call per syscall, on the main thread. Used when the
// native scanner was not built (or OVL_NATIVE=0), and as the reference the native one is tested against.

const code = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? 'EIO';

export function jsXattrs(p: string, ns: Ns, failures: XattrFailure[]): XattrSet {
	const out = {overlay: {} as Record<string, string>, other: [] as string[]};
	let names: string[];
	try {
		names = listXattrsPath(p);
	} catch (error) {
		failures.push({path: p, code: code(error)});
		return out;
	}
	for (const n of names) {
		if (!n.startsWith(`${ns}.overlay.`) && (n.startsWith('trusted.overlay.') || n.startsWith('user.overlay.')))
			continue;
		let v: Buffer | undefined;
		try {
			v = getXattrPath(p, n);
		} catch (error) {
			failures.push({path: p, code: code(error)});
		}
		xattrEntry(ns, n, v, out);
	}
	return out;
}

const isWhiteout = (s: StatLite): boolean => s.type === 'char' && s.rdev === 0;
const none: XattrSet = {overlay: {}, other: []};

export const jsScanPort: ScanPort = {
	name: 'js',
	walk(root, ns, progress) {
		const names: string[] = [];
		const parents: number[] = [];
		const stats: (StatLite | undefined)[] = [];
		const xattrs: XattrSet[] = [];
		const dirErrors = new Map<number, string>();
		const xattrFailures: XattrFailure[] = [];
		let rootError: string | undefined;
		const visit = (abs: string, parent: number): void => {
			let children: string[];
			try {
				children = readdirPath(abs);
			} catch (error) {
				if (parent < 0) rootError = code(error);
				else dirErrors.set(parent, code(error));
				return;
			}
			for (const name of children) {
				const p = childPath(abs, name);
				const st = lstatPath(p);
				const i = names.length;
				names.push(name);
				parents.push(parent);
				const stat = st ? statLite(st) : undefined;
				stats.push(stat);
				xattrs.push(stat && !isWhiteout(stat) ? jsXattrs(p, ns, xattrFailures) : none);
				progress?.(i + 1);
				if (stat?.type === 'dir') visit(p, i);
			}
		};
		visit(root, -1);
		return Promise.resolve({
			count: names.length,
			name: (i) => names[i] as string,
			nameList: (kids, extra) => nameListOf([...Array.from(kids, (k) => names[k] as string), ...extra]),
			parents,
			stat: (i) => stats[i],
			isDir: (i) => stats[i]?.type === 'dir',
			links: (i) => stats[i]?.nlink ?? 0,
			xattrs: (i) => xattrs[i] as XattrSet,
			overlayXattr: (i, key) => xattrs[i]?.overlay[key],
			dirErrors,
			xattrFailures,
			...(rootError ? {rootError} : {}),
		});
	},
	probe(paths, ns, withXattrs) {
		const found = new Map<string, Probed>();
		const failures: XattrFailure[] = [];
		for (const p of paths) {
			const st = lstatPath(p);
			if (!st) continue;
			const stat = statLite(st);
			found.set(p, withXattrs && !isWhiteout(stat) ? {stat, xattrs: jsXattrs(p, ns, failures)} : {stat});
		}
		return Promise.resolve({found, failures});
	},
	readDirs(paths, ns, roots, wanted) {
		const dirs = new Map<string, DirListing | undefined>();
		const lowers = new LowerDirs(ns);
		paths.forEach((p, i) => {
			const list = wanted?.[i];
			dirs.set(p, list ? lowers.readWanted(p, namesIn(list), i >= roots, jsXattrs) : lowers.readListing(p));
		});
		return Promise.resolve({dirs, failures: [...lowers.errors]});
	},
};
