import {
	closeSync,
	constants,
	fchmodSync,
	fchownSync,
	futimesSync,
	linkSync,
	lchownSync,
	lutimesSync,
	mkdirSync,
	openSync,
	renameSync,
	chmodSync,
	symlinkSync,
	writeSync,
} from 'node:fs';
import {randomBytes} from 'node:crypto';
import path from 'node:path';
import {encodePath, printablePath} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {Dir, fsError, listDir, openBeneath, readFileIn, removeTreeIn, statIn, writeFileIn} from '../io/beneath.js';
import type {Creation} from '../io/layout-fs.js';
import {makeNode, setXattrIn} from '../io/nodes.js';
import {streamTar, type PlannedEntry, type TarCheck} from './layer-tar.js';
import type {TarEntry} from './tar-reader.js';

// Unpacks a checked layer tarball into a staging directory beside the layer (mode 0700 until the
// end, so nobody else can reach into it), applies exact metadata (no umask; setuid/setgid/sticky,
// owners, mtimes, xattrs; directories last, deepest first), then renames it into place. A signal
// or an error removes the staging tree; a layer appears whole or not at all.

const O = constants;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
export const importRecordName = '.ovl-import.json';
const stagingPrefix = '.ovl-import-';

export type ImportOutcome = {entries?: number; whiteouts?: number; opaques?: number; skipped?: string};

type ImportRecord = Record<string, {sha256: string; file: string; entries: number}>;

export async function importLayerTar(
	file: string,
	check: TarCheck,
	to: {root: Dir; layer: string; ns: 'trusted' | 'user'; creation: Creation},
): Promise<ImportOutcome> {
	const {root, layer, ns, creation} = to;
	const records = readRecords(root);
	const existing = statIn(root, layer);
	if (existing?.isDirectory()) {
		const dir = openBeneath(root, layer);
		const names = listDir(dir);
		dir.close();
		if (names.length > 0) {
			const rec = records[layer];
			if (rec?.sha256 === check.sha256)
				return {skipped: `already imported (same archive, sha256 ${rec.sha256.slice(0, 12)}…)`};
			throw new OvlError(
				'OVL_LAYER_NOT_EMPTY',
				`${printablePath(`${root.shown}/${layer}`)} is not empty and ${rec ? `holds another archive (sha256 ${rec.sha256.slice(0, 12)}…)` : 'ovl did not import it'}`,
				'import into a new directory, or empty that layer first',
				{exitCode: exitCodes.usage},
			);
		}
	}
	for (const stale of listDir(root).filter((n) => n.startsWith(stagingPrefix))) {
		// Left by an import that was killed (SIGKILL, power loss): never a layer, safe to drop.
		creation.staging(root, stale);
	}
	const staging = `${stagingPrefix}${layer}-${randomBytes(4).toString('hex')}`;
	try {
		mkdirSync(root.child(staging), {mode: 0o700});
	} catch (error) {
		throw fsError(error, `${root.shown}/${staging}`);
	}
	creation.staging(root, staging);
	const writer = new LayerWriter(openBeneath(root, staging), ns, creation);
	try {
		let i = 0;
		const {sha256} = await streamTar(file, (e) => {
			const planned = check.entries[i++];
			if (!planned || planned.path !== e.path || planned.type !== e.type)
				throw new OvlError(
					'OVL_TAR_CHANGED',
					`${path.basename(file)} changed while it was being imported`,
					'import it again once nothing is writing it',
					{
						exitCode: exitCodes.failure,
					},
				);
			return writer.entry(planned);
		});
		if (sha256 !== check.sha256 || i !== check.entries.length)
			throw new OvlError(
				'OVL_TAR_CHANGED',
				`${path.basename(file)} changed while it was being imported`,
				'import it again once nothing is writing it',
				{
					exitCode: exitCodes.failure,
				},
			);
		writer.finish();
	} finally {
		writer.close();
	}
	creation.assertLive();
	try {
		renameSync(root.child(staging), root.child(layer));
	} catch (error) {
		throw fsError(error, `${root.shown}/${layer}`);
	}
	creation.adopted(root, staging);
	writeFileIn(
		root,
		importRecordName,
		`${JSON.stringify({...readRecords(root), [layer]: {sha256: check.sha256, file: path.basename(file), entries: check.entries.length}}, null, 2)}\n`,
	);
	return {entries: check.entries.length, whiteouts: check.whiteouts.length, opaques: check.opaques.length};
}

function readRecords(root: Dir): ImportRecord {
	try {
		const text = readFileIn(root, importRecordName, 1 << 20)?.toString('utf8');
		return text === undefined ? {} : (JSON.parse(text) as ImportRecord);
	} catch {
		return {};
	}
}

type DirMeta = {entry?: TarEntry; opaque: boolean};

class LayerWriter {
	private readonly base: Dir;
	private readonly ns: 'trusted' | 'user';
	private readonly creation: Creation;
	private readonly open = new Map<string, Dir>();
	private readonly dirs = new Map<string, DirMeta>([['', {opaque: false}]]);

	constructor(base: Dir, ns: 'trusted' | 'user', creation: Creation) {
		this.base = base;
		this.ns = ns;
		this.creation = creation;
	}

	/** The directory `rel` inside the staging tree, created (0700 for now) with its parents when missing. */
	private dir(rel: string): Dir {
		if (rel === '' || rel === '.') return this.base;
		const cached = this.open.get(rel);
		if (cached) return cached;
		const parent = this.dir(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
		const name = path.posix.basename(rel);
		this.clear(parent, name, rel, true);
		if (!statIn(parent, name)) {
			try {
				mkdirSync(parent.child(name), {mode: 0o700});
			} catch (error) {
				throw fsError(error, `${parent.shown}/${name}`);
			}
		}
		if (!this.dirs.has(rel)) this.dirs.set(rel, {opaque: false});
		const d = openBeneath(parent, name);
		if (this.open.size >= 256) {
			const [oldest, od] = this.open.entries().next().value as [string, Dir];
			od.close();
			this.open.delete(oldest);
		}
		this.open.set(rel, d);
		return d;
	}

	private parentOf(rel: string): {dir: Dir; name: string} {
		const d = path.posix.dirname(rel);
		return {dir: this.dir(d === '.' ? '' : d), name: path.posix.basename(rel)};
	}

	/** A later entry of the same name replaces an earlier one (a directory keeps its children only when it stays a directory). */
	private clear(dir: Dir, name: string, rel: string, keepDir: boolean): void {
		const st = statIn(dir, name);
		if (!st || (keepDir && st.isDirectory())) return;
		for (const [k, d] of this.open) {
			if (k === rel || k.startsWith(`${rel}/`)) {
				d.close();
				this.open.delete(k);
			}
		}
		for (const k of [...this.dirs.keys()]) if (k === rel || k.startsWith(`${rel}/`)) this.dirs.delete(k);
		removeTreeIn(dir, name);
	}

	entry(e: PlannedEntry): {data(c: Buffer): void; end(): void} | undefined {
		this.creation.assertLive();
		const where = (rel: string): string => printablePath(`${this.base.shown}/${rel}`);
		try {
			if (e.role === 'root') {
				this.dirs.set('', {...(this.dirs.get('') as DirMeta), entry: e});
				return undefined;
			}
			if (e.role === 'opaque') {
				this.dir(e.rel);
				(this.dirs.get(e.rel) as DirMeta).opaque = true;
				return undefined;
			}
			const {dir, name} = this.parentOf(e.rel);
			this.clear(dir, name, e.rel, e.type === 'dir' && e.role === 'entry');
			if (e.role === 'whiteout') {
				makeNode(dir, name, S_IFCHR, 0, 0);
				lchownSync(dir.child(name), e.uid, e.gid);
				return undefined;
			}
			switch (e.type) {
				case 'dir':
					this.dir(e.rel);
					this.dirs.set(e.rel, {...(this.dirs.get(e.rel) as DirMeta), entry: e});
					return undefined;
				case 'file': {
					const fd = openSync(dir.child(name), O.O_WRONLY | O.O_CREAT | O.O_EXCL | O.O_NOFOLLOW, 0o600);
					return {
						data: (c) => {
							let off = 0;
							while (off < c.length) off += writeSync(fd, c, off, c.length - off);
						},
						end: () => {
							try {
								fchownSync(fd, e.uid, e.gid);
								fchmodSync(fd, e.mode); // after chown, which clears setuid/setgid
								this.xattrs(dir, name, e);
								futimesSync(fd, e.mtime, e.mtime);
							} finally {
								closeSync(fd);
							}
						},
					};
				}
				case 'symlink':
					symlinkSync(encodePath(e.linkpath), dir.child(name));
					lchownSync(dir.child(name), e.uid, e.gid);
					this.xattrs(dir, name, e);
					lutimesSync(dir.child(name), e.mtime, e.mtime);
					return undefined;
				case 'hardlink': {
					const t = this.parentOf(e.target as string);
					linkSync(t.dir.child(t.name), dir.child(name));
					return undefined;
				}
				case 'char':
				case 'block':
				case 'fifo':
					makeNode(
						dir,
						name,
						e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO,
						e.devmajor,
						e.devminor,
					);
					lchownSync(dir.child(name), e.uid, e.gid);
					chmodSync(dir.child(name), e.mode); // a node ovl just made, in a 0700 staging tree
					this.xattrs(dir, name, e);
					lutimesSync(dir.child(name), e.mtime, e.mtime);
					return undefined;
			}
		} catch (error) {
			if (error instanceof OvlError) throw error;
			throw fsError(error, where(e.rel));
		}
	}

	private xattrs(dir: Dir, name: string, e: TarEntry): void {
		for (const [k, v] of e.xattrs) setXattrIn(dir, name, k, v);
	}

	/** Directory metadata last, deepest first: children no longer change a parent's mtime, and a 0555 dir was writable while filling. */
	finish(): void {
		const rels = [...this.dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
		for (const rel of rels) {
			const meta = this.dirs.get(rel) as DirMeta;
			const d = this.dir(rel);
			const where = printablePath(`${this.base.shown}/${rel}`);
			try {
				const e = meta.entry;
				if (e) fchownSync(d.fd, e.uid, e.gid);
				fchmodSync(d.fd, e ? e.mode : 0o755);
				if (e) for (const [k, v] of e.xattrs) setXattrIn(d, '.', k, v);
				if (meta.opaque) setXattrIn(d, '.', `${this.ns}.overlay.opaque`, Buffer.from('y'));
				if (e) futimesSync(d.fd, e.mtime, e.mtime);
			} catch (error) {
				if (error instanceof OvlError) throw error;
				throw fsError(error, where);
			}
		}
	}

	close(): void {
		for (const d of this.open.values()) d.close();
		this.open.clear();
		this.base.close();
	}
}
