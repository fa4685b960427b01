import {closeSync, constants, fstatSync, openSync, readlinkSync, readSync, type Stats} from 'node:fs';
import type {Writable} from 'node:stream';
import {encodePath} from '../core/bytes.js';
import {OvlError} from '../core/errors.js';
import {exitCodes} from '../core/exit-codes.js';
import {encodeHeader, endOfArchive, padding, type TarHeader} from '../docker/tar-writer.js';
import {fsError} from './beneath.js';
import type {ExportItem} from '../flows/export-plan.js';
import {getXattrPath, listXattrsPath, lstatPath, releaseWalkFds, sysPath} from './walk-fs.js';

// Streams an export plan as a tar archive: every object read without following links
// (lstat, O_NOFOLLOW), overlay.* xattrs left out, hard links as tar links to the first name.

export type WriteResult = {readonly bytes: number; readonly hardlinks: number};

const chunk = 1 << 20;

export async function writeExport(items: readonly ExportItem[], out: Writable): Promise<WriteResult> {
	let bytes = 0;
	let hardlinks = 0;
	const firstName = new Map<string, Buffer>();
	const write = async (b: Buffer): Promise<void> => {
		bytes += b.length;
		if (!out.write(b))
			await new Promise<void>((resolve, reject) => {
				const done = (error?: Error): void => {
					out.off('drain', done);
					out.off('error', done);
					if (error) reject(error);
					else resolve();
				};
				out.once('drain', done);
				out.once('error', done);
			});
	};
	try {
		for (const item of items) {
			const rel = encodePath(item.path.slice(1));
			if (item.kind !== 'object') {
				const st = mustStat(item.meta, item.path);
				const name = item.kind === 'opaque' ? Buffer.concat([rel, Buffer.from('/.wh..wh..opq')]) : whiteoutName(rel);
				const mode = item.kind === 'opaque' ? st.mode & 0o777 : 0o600;
				await write(encodeHeader({name, type: 'file', mode, uid: st.uid, gid: st.gid, size: 0, mtime: seconds(st)}));
				continue;
			}
			const fd = item.data === undefined ? undefined : openData(item.data, item.path);
			try {
				const dataStat = fd === undefined ? undefined : fstatSync(fd);
				if (dataStat && !dataStat.isFile())
					throw new OvlError(
						'OVL_EXPORT_CHANGED',
						`${item.path} is no longer a regular file`,
						'stop what writes to the overlay, then export again',
						{exitCode: exitCodes.failure},
					);
				const st = item.meta === item.data && dataStat ? dataStat : mustStat(item.meta, item.path);
				const base = {
					uid: st.uid,
					gid: st.gid,
					mode: st.mode & 0o7777,
					mtime: seconds(st),
					xattrs: userXattrs(item.meta, item.path),
				};
				const key = `${st.dev}:${st.ino}`;
				const linkTo = st.nlink > 1 && !st.isDirectory() ? firstName.get(key) : undefined;
				if (linkTo) {
					hardlinks++;
					await write(encodeHeader({...base, name: rel, type: 'hardlink', size: 0, linkname: linkTo}));
					continue;
				}
				if (st.nlink > 1 && !st.isDirectory()) firstName.set(key, rel);
				const header = headerFor(st, rel, item, base, dataStat);
				await write(encodeHeader(header));
				if (fd !== undefined && header.size > 0) await copyData(fd, header.size, item.path, write);
			} finally {
				if (fd !== undefined) closeSync(fd);
			}
		}
		await write(endOfArchive());
	} finally {
		releaseWalkFds();
	}
	return {bytes, hardlinks};
}

function headerFor(
	st: Stats,
	rel: Buffer,
	item: ExportItem & {kind: 'object'},
	base: Omit<TarHeader, 'name' | 'type' | 'size'>,
	data: Stats | undefined,
): TarHeader {
	if (st.isDirectory()) return {...base, name: Buffer.concat([rel, Buffer.from('/')]), type: 'dir', size: 0};
	if (st.isSymbolicLink())
		return {
			...base,
			name: rel,
			type: 'symlink',
			size: 0,
			linkname: readlinkSync(sysPath(item.meta), {encoding: 'buffer'}),
		};
	if (st.isFIFO()) return {...base, name: rel, type: 'fifo', size: 0};
	if (st.isCharacterDevice() || st.isBlockDevice()) {
		const {major, minor} = splitDev(st.rdev);
		return {
			...base,
			name: rel,
			type: st.isCharacterDevice() ? 'char' : 'block',
			size: 0,
			devmajor: major,
			devminor: minor,
		};
	}
	if (!data)
		throw new OvlError(
			'OVL_EXPORT_CHANGED',
			`${item.path} is no longer what ovl planned to export`,
			'stop what writes to the overlay, then export again',
			{exitCode: exitCodes.failure},
		);
	return {...base, name: rel, type: 'file', size: data.size};
}

/** Linux's dev_t: 12 bits of major and 20 of minor, interleaved (glibc's gnu_dev_major/minor). */
function splitDev(rdev: number): {major: number; minor: number} {
	const hi = Math.floor(rdev / 2 ** 32);
	const lo = rdev >>> 0;
	return {major: ((lo >>> 8) & 0xfff) | ((hi & ~0xfff) >>> 0), minor: (lo & 0xff) | ((lo >>> 12) & ~0xff)};
}

function whiteoutName(rel: Buffer): Buffer {
	const slash = rel.lastIndexOf(0x2f);
	return Buffer.concat([rel.subarray(0, slash + 1), Buffer.from('.wh.'), rel.subarray(slash + 1)]);
}

const seconds = (st: Stats): number => Math.floor(st.mtimeMs / 1000);

function mustStat(p: string, shown: string): Stats {
	const st = lstatPath(p);
	if (!st)
		throw new OvlError(
			'OVL_EXPORT_CHANGED',
			`${shown} vanished while ovl exported it`,
			'stop what writes to the overlay (docker stop, umount), then export again',
			{exitCode: exitCodes.failure},
		);
	return st;
}

function openData(p: string, shown: string): number {
	try {
		return openSync(sysPath(p), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT' || code === 'ELOOP')
			throw new OvlError(
				'OVL_EXPORT_CHANGED',
				`${shown} changed while ovl exported it (${code})`,
				'stop what writes to the overlay, then export again',
				{exitCode: exitCodes.failure},
			);
		throw fsError(error, p);
	}
}

/** Exactly `size` bytes: a file that shrank while being read is an error, not a short entry. */
async function copyData(fd: number, size: number, shown: string, write: (b: Buffer) => Promise<void>): Promise<void> {
	let left = size;
	while (left > 0) {
		const buf = Buffer.allocUnsafe(Math.min(chunk, left));
		const n = readSync(fd, buf, 0, buf.length, null);
		if (n === 0)
			throw new OvlError(
				'OVL_EXPORT_CHANGED',
				`${shown} shrank while ovl exported it`,
				'stop what writes to the overlay, then export again',
				{exitCode: exitCodes.failure},
			);
		await write(buf.subarray(0, n));
		left -= n;
	}
	await write(padding(size));
}

/** Every xattr but the overlay's own, sorted by name (the same tree gives the same bytes). */
function userXattrs(p: string, shown: string): [string, Buffer][] {
	try {
		const names = listXattrsPath(p).filter((n) => !n.startsWith('trusted.overlay.') && !n.startsWith('user.overlay.'));
		const out: [string, Buffer][] = [];
		for (const n of names.sort()) {
			const v = getXattrPath(p, n);
			if (v !== undefined) out.push([n, v]);
		}
		return out;
	} catch (error) {
		throw new OvlError(
			'OVL_EXPORT_UNREADABLE',
			`${shown}: cannot read its xattrs (${(error as NodeJS.ErrnoException).code ?? 'EIO'})`,
			'run as root (trusted.* and security.* need it), or check the filesystem',
			{exitCode: exitCodes.failure},
		);
	}
}
