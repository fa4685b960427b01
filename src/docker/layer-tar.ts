import {createHash} from 'node:crypto';
import {closeSync, createReadStream, readSync} from 'node:fs';
import path from 'node:path';
import {createGunzip} from 'node:zlib';
import {printablePath} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {openUserFile} from '../io/beneath.js';
import {TarFormatError, TarReader, type EntrySink, type TarEntry} from './tar-reader.js';

// OCI/Docker layer tarballs: `.wh.<name>` deletes <name> from the layers below, `.wh..wh..opq`
// makes its directory opaque (image-spec layer.md). On import they become the kernel's forms:
// a 0/0 character device, and overlay.opaque="y" (trusted, or user with userxattr).

export const opaqueMarker = '.wh..wh..opq';
const maxRatio = 1000;
const ratioFloor = 64 << 20; // small archives may compress well: judge the ratio past 64 MiB
const maxComponent = 255;
const maxPath = 4095;

/** One checked entry, its name normalised (no leading ./), in archive order. */
export type PlannedEntry = TarEntry & {
	readonly rel: string;
	readonly role: 'entry' | 'whiteout' | 'opaque' | 'root';
	readonly target?: string;
};

export type TarCheck = {
	readonly file: string;
	readonly sha256: string;
	readonly entries: readonly PlannedEntry[];
	readonly whiteouts: readonly string[];
	readonly opaques: readonly string[];
};

function refuse(file: string, entry: string, why: string): never {
	throw new OvlError(
		'OVL_TAR_UNSAFE',
		`${path.basename(file)}: entry "${printablePath(entry)}" ${why}; nothing was extracted`,
		'layer tarballs may only hold paths inside the layer (no "..", no absolute paths, no links out, nothing below a symlink)',
		{exitCode: exitCodes.usage},
	);
}

function invalid(file: string, why: string): OvlError {
	return new OvlError(
		'OVL_TAR_INVALID',
		`${path.basename(file)}: ${why}; nothing was extracted`,
		'check that the file is a complete layer tarball (plain tar or gzip), e.g. from `docker save` or an OCI layout',
		{exitCode: exitCodes.usage},
	);
}

/**
 Streams the archive (gunzipped when it starts with the gzip magic) into a TarReader. Errors of
 the file, the compression or the format become OVL_TAR_INVALID; the sink's own errors pass.
 */
export async function streamTar(
	file: string,
	onEntry: (e: TarEntry) => EntrySink | undefined,
): Promise<{sha256: string; entries: number}> {
	const {fd, size} = openUserFile(file, 'layer tarball');
	const hash = createHash('sha256');
	const reader = new TarReader(onEntry);
	let unpacked = 0;
	const first = Buffer.alloc(6);
	try {
		readSync(fd, first, 0, first.length, 0);
	} catch (error) {
		closeSync(fd);
		throw invalid(file, `cannot read it (${(error as NodeJS.ErrnoException).code ?? 'EIO'})`);
	}
	// The stream owns the fd from here on and closes it when done or destroyed.
	const raw = createReadStream('', {fd, autoClose: true, start: 0, highWaterMark: 1 << 20});
	try {
		const compressed = first[0] === 0x1f && first[1] === 0x8b;
		if (first.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])))
			throw new OvlError(
				'OVL_TAR_UNSUPPORTED',
				`${path.basename(file)} is zstd-compressed; this Node has no zstd`,
				'decompress it first (zstd -d FILE), then import the .tar',
				{exitCode: exitCodes.usage},
			);
		if (
			first.subarray(0, 3).toString('latin1') === 'BZh' ||
			first.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
		)
			throw new OvlError(
				'OVL_TAR_UNSUPPORTED',
				`${path.basename(file)} is bzip2- or xz-compressed`,
				'decompress it first (bunzip2 / unxz), then import the .tar',
				{exitCode: exitCodes.usage},
			);
		raw.on('data', (c) => hash.update(c));
		const source = compressed ? raw.pipe(createGunzip()) : raw;
		if (compressed) raw.on('error', (e) => source.destroy(e));
		for await (const chunk of source as AsyncIterable<Buffer>) {
			unpacked += chunk.length;
			if (compressed && unpacked > ratioFloor && unpacked > size * maxRatio)
				throw invalid(
					file,
					`it decompresses to over ${maxRatio}× its size (${size} bytes → more than ${unpacked}); refusing a decompression bomb`,
				);
			reader.push(chunk);
		}
		reader.end();
	} catch (error) {
		if (error instanceof OvlError) throw error;
		if (error instanceof TarFormatError) throw invalid(file, error.message);
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR' || code === 'ERR_ZLIB')
			throw invalid(
				file,
				`the gzip stream is ${code === 'Z_BUF_ERROR' ? 'truncated' : 'corrupt'} (${(error as Error).message})`,
			);
		if (code === 'EISDIR') throw invalid(file, 'it is a directory');
		if (code !== undefined && code.startsWith('E')) throw invalid(file, `cannot read it (${code})`);
		throw error;
	} finally {
		raw.destroy();
	}
	return {sha256: hash.digest('hex'), entries: reader.entries};
}

/** Normalises and checks an entry name: inside the layer, Linux-sized components. */
function relName(file: string, e: TarEntry): string {
	const raw = e.path;
	if (raw.startsWith('/')) refuse(file, raw, 'is an absolute path');
	const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
	if (parts.includes('..')) refuse(file, raw, 'climbs out with ".."');
	for (const p of parts)
		if (Buffer.byteLength(p) > maxComponent)
			refuse(file, raw, `has a name component of ${Buffer.byteLength(p)} bytes (Linux allows ${maxComponent})`);
	if (Buffer.byteLength(raw) > maxPath) refuse(file, raw, `is longer than PATH_MAX (${maxPath} bytes)`);
	return parts.join('/');
}

/**
 Reads the whole archive before anything is written and plans every entry: any entry with
 "..", an absolute path, a link out of the layer, a path through a symlink, an invalid whiteout
 refuses the import. A name given twice: the last one wins.
 */
export async function checkLayerTar(file: string): Promise<TarCheck> {
	const entries: PlannedEntry[] = [];
	const whiteouts: string[] = [];
	const opaques: string[] = [];
	const kinds = new Map<string, PlannedEntry>();
	const {sha256} = await streamTar(file, (e) => {
		const rel = relName(file, e);
		const base = path.posix.basename(rel);
		const dir = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
		let planned: PlannedEntry;
		if (rel === '') {
			if (e.type !== 'dir') refuse(file, e.path, 'names the layer root but is not a directory');
			planned = {...e, rel, role: 'root'};
		} else if (base === opaqueMarker) {
			planned = {...e, rel: dir, role: 'opaque'};
			opaques.push(dir || '.');
		} else if (base.startsWith('.wh.')) {
			if (base.startsWith('.wh..wh.') || base === '.wh.' || base === '.wh..' || base === '.wh...')
				refuse(file, e.path, 'is not a valid whiteout name');
			// Docker writes a layer's later whiteouts as hard links to its first: still whiteouts.
			if (e.type === 'hardlink' && !path.posix.basename(e.linkpath).startsWith('.wh.'))
				refuse(file, e.path, 'is a whiteout hard-linked to a file that is not one');
			if (e.type !== 'file' && e.type !== 'hardlink') refuse(file, e.path, `is a whiteout but a ${e.type}`);
			const target = path.posix.join(dir, base.slice(4));
			planned = {...e, rel: target, role: 'whiteout'};
			whiteouts.push(target);
		} else {
			if (e.type === 'hardlink') {
				if (e.linkpath.startsWith('/'))
					refuse(file, e.path, `is a hard link to ${printablePath(e.linkpath)}, outside the layer`);
				const target = e.linkpath
					.split('/')
					.filter((p) => p !== '' && p !== '.')
					.join('/');
				if (target.split('/').includes('..'))
					refuse(file, e.path, `is a hard link to ${printablePath(e.linkpath)}, outside the layer`);
				const t = kinds.get(target);
				if (!t || t.role !== 'entry')
					refuse(
						file,
						e.path,
						`is a hard link to ${printablePath(e.linkpath)}, which is not an earlier file of this layer`,
					);
				if (t.type === 'dir') refuse(file, e.path, 'is a hard link to a directory');
				planned = {...e, rel, role: 'entry', target};
			} else {
				if (e.type === 'symlink' && !e.linkpath.startsWith('/')) {
					// Absolute targets resolve inside the container at run time; relative ones must not climb out.
					const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), e.linkpath));
					if (resolved === '..' || resolved.startsWith('../'))
						refuse(file, e.path, `is a symlink to ${printablePath(e.linkpath)}, which points out of the layer`);
				}
				if (e.type === 'symlink' && e.linkpath === '') refuse(file, e.path, 'is a symlink with an empty target');
				planned = {...e, rel, role: 'entry'};
			}
		}
		// A name given twice: the later entry wins, as engines extract (a hard link earlier in the
		// archive still names the file as it was then).
		if (planned.role === 'entry') kinds.set(rel, planned);
		entries.push(planned);
		return undefined;
	});
	// Every parent must be (or become) a directory, never a symlink or file: a later entry must
	// not be written through an earlier symlink, and a whiteout must not share its name with an entry.
	const whited = new Set(whiteouts);
	for (const e of entries) {
		const parts = e.rel.split('/').filter(Boolean);
		for (let i = 1; i < parts.length + (e.role === 'opaque' ? 1 : 0); i++) {
			const parent = kinds.get(parts.slice(0, i).join('/'));
			if (parent && parent.type !== 'dir')
				refuse(
					file,
					e.path,
					`lies below ${printablePath(parent.path)}, which is a ${parent.type}${parent.type === 'symlink' ? ' (writing through it could leave the layer)' : ''}`,
				);
		}
		if (e.role === 'opaque' && e.rel !== '' && kinds.get(e.rel) && kinds.get(e.rel)?.type !== 'dir')
			refuse(file, e.path, 'marks a non-directory opaque');
		if (e.role === 'entry' && whited.has(e.rel))
			refuse(file, e.path, 'is both whited out and present in the same layer');
	}
	return {file, sha256, entries, whiteouts, opaques};
}
