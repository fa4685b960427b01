import {createHash} from 'node:crypto';
import {lstatSync, readFileSync, readdirSync, readlinkSync, type Stats} from 'node:fs';
import path from 'node:path';
import {decodePath, fsPath} from '../../src/core/bytes.js';
import {getXattrPath, listXattrsPath} from '../../src/io/walk-fs.js';

// Two directory trees compared entry by entry, never following links: type, mode, owner, size,
// content hash, symlink target (names and targets as bytes), device numbers, mtime (seconds) and hard-link groups.

type Seen = {st: Stats; link?: string; hash?: string; xattrs?: string};

function walk(root: string, skip: (rel: string) => boolean, withXattrs = false): Map<string, Seen> {
	const out = new Map<string, Seen>();
	const visit = (rel: string): void => {
		for (const name of readdirSync(fsPath(path.join(root, rel)), {encoding: 'buffer'})
			.map(decodePath)
			.sort()) {
			const r = `${rel}/${name}`;
			if (skip(r)) continue;
			const p = path.join(root, r);
			const st = lstatSync(fsPath(p));
			const seen: Seen = {st};
			if (withXattrs) seen.xattrs = userXattrs(p);
			if (st.isSymbolicLink()) seen.link = readlinkSync(fsPath(p), {encoding: 'buffer'}).toString('latin1');
			else if (st.isFile())
				seen.hash = createHash('sha256')
					.update(readFileSync(fsPath(p)))
					.digest('hex');
			out.set(r, seen);
			if (st.isDirectory()) visit(r);
		}
	};
	visit('');
	return out;
}

const kind = (st: Stats): string =>
	st.isDirectory()
		? 'dir'
		: st.isFile()
			? 'file'
			: st.isSymbolicLink()
				? 'symlink'
				: st.isFIFO()
					? 'fifo'
					: st.isCharacterDevice()
						? 'char'
						: st.isBlockDevice()
							? 'block'
							: 'socket';

/** xattrs other than the overlay's own, as "name=hex" lines sorted by name. */
function userXattrs(p: string): string {
	return listXattrsPath(p)
		.filter((n) => !n.startsWith('trusted.overlay.') && !n.startsWith('user.overlay.'))
		.sort()
		.map((n) => `${n}=${getXattrPath(p, n)?.toString('hex') ?? ''}`)
		.join(' ');
}

/** Hard-link groups as sets of relative paths (only groups of two or more). */
function groups(tree: Map<string, Seen>): Map<string, string> {
	const byIno = new Map<string, string[]>();
	for (const [rel, s] of tree) {
		if (s.st.isDirectory() || s.st.nlink < 2) continue;
		const k = `${s.st.dev}:${s.st.ino}`;
		byIno.set(k, [...(byIno.get(k) ?? []), rel]);
	}
	const out = new Map<string, string>();
	for (const members of byIno.values())
		if (members.length > 1) for (const m of members) out.set(m, members.sort().join(' '));
	return out;
}

/** Every difference between tree a (expected) and tree b, as readable lines; [] when they agree. */
export function compareTrees(
	a: string,
	b: string,
	options: {skip?: (rel: string) => boolean; ignoreMtime?: (rel: string) => boolean; xattrs?: boolean} = {},
): string[] {
	const skip = options.skip ?? (() => false);
	const ta = walk(a, skip, options.xattrs);
	const tb = walk(b, skip, options.xattrs);
	const ga = groups(ta);
	const gb = groups(tb);
	const out: string[] = [];
	for (const [rel, x] of ta) {
		const y = tb.get(rel);
		if (!y) {
			out.push(`${rel}: missing (a ${kind(x.st)})`);
			continue;
		}
		const diffs: string[] = [];
		if (kind(x.st) !== kind(y.st)) diffs.push(`type ${kind(x.st)} vs ${kind(y.st)}`);
		if ((x.st.mode & 0o7777) !== (y.st.mode & 0o7777) && !x.st.isSymbolicLink())
			diffs.push(`mode ${(x.st.mode & 0o7777).toString(8)} vs ${(y.st.mode & 0o7777).toString(8)}`);
		if (x.st.uid !== y.st.uid || x.st.gid !== y.st.gid)
			diffs.push(`owner ${x.st.uid}:${x.st.gid} vs ${y.st.uid}:${y.st.gid}`);
		if (x.hash !== y.hash) diffs.push('content');
		if (x.xattrs !== y.xattrs) diffs.push(`xattrs [${x.xattrs ?? ''}] vs [${y.xattrs ?? ''}]`);
		if (x.link !== y.link) diffs.push(`target ${x.link} vs ${y.link}`);
		if ((x.st.isCharacterDevice() || x.st.isBlockDevice()) && x.st.rdev !== y.st.rdev)
			diffs.push(`rdev ${x.st.rdev} vs ${y.st.rdev}`);
		if (!(options.ignoreMtime?.(rel) ?? false) && Math.floor(x.st.mtimeMs / 1000) !== Math.floor(y.st.mtimeMs / 1000))
			diffs.push(`mtime ${new Date(x.st.mtimeMs).toISOString()} vs ${new Date(y.st.mtimeMs).toISOString()}`);
		if ((ga.get(rel) ?? '') !== (gb.get(rel) ?? ''))
			diffs.push(`hard links [${ga.get(rel) ?? ''}] vs [${gb.get(rel) ?? ''}]`);
		if (diffs.length > 0) out.push(`${rel}: ${diffs.join(', ')}`);
	}
	for (const [rel, y] of tb) if (!ta.has(rel)) out.push(`${rel}: extra (a ${kind(y.st)})`);
	return out;
}
