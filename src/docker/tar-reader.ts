import {decodePath} from '../core/bytes.js';

// A strict streaming reader of tar archives (POSIX ustar, pax, GNU long names) as image layers
// use them. Written here rather than taken from node-tar because a layer must come through
// exactly: names as bytes (node-tar decodes them as UTF-8), SCHILY.xattr.* pax records (node-tar
// drops them), device numbers, and every defect an error (truncation, bad checksums, negative or
// absurd sizes) instead of a warning or a silently shorter archive.

export type TarType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export type TarEntry = {
	readonly index: number;
	/** Exact name from the archive (raw bytes held as lone surrogates where not UTF-8). */
	readonly path: string;
	readonly type: TarType;
	readonly mode: number;
	readonly uid: number;
	readonly gid: number;
	/** Seconds since the epoch (pax may give fractions). */
	readonly mtime: number;
	readonly size: number;
	readonly linkpath: string;
	readonly devmajor: number;
	readonly devminor: number;
	readonly xattrs: ReadonlyMap<string, Buffer>;
};

/** What the consumer does with one entry's data: called in order, synchronously. */
export type EntrySink = {data(chunk: Buffer): void; end(): void};

export class TarFormatError extends Error {
	readonly offset: number;
	constructor(message: string, offset: number) {
		super(message);
		this.offset = offset;
	}
}

const block = 512;
const maxMeta = 1 << 20; // pax and GNU long-name records

type Pending = {
	path?: Buffer;
	linkpath?: Buffer;
	size?: number;
	uid?: number;
	gid?: number;
	mtime?: number;
	xattrs: Map<string, Buffer>;
};

export class TarReader {
	private buf: Buffer = Buffer.alloc(0);
	private offset = 0; // archive bytes consumed
	private index = 0;
	private remaining = 0; // data bytes left in the current entry
	private padding = 0;
	private sink: EntrySink | undefined;
	private meta: {kind: 'x' | 'g' | 'L' | 'K'; parts: Buffer[]; size: number} | undefined;
	private pending: Pending = {xattrs: new Map()};
	private global: Pending = {xattrs: new Map()};
	private zeros = 0;
	private ended = false;
	private readonly onEntry: (e: TarEntry) => EntrySink | undefined;

	constructor(onEntry: (e: TarEntry) => EntrySink | undefined) {
		this.onEntry = onEntry;
	}

	get entries(): number {
		return this.index;
	}

	push(chunk: Buffer): void {
		this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
		for (;;) {
			if (this.ended) {
				this.buf = Buffer.alloc(0);
				return;
			}
			if (this.remaining > 0) {
				if (this.buf.length === 0) return;
				const n = Math.min(this.remaining, this.buf.length);
				this.data(this.buf.subarray(0, n));
				this.buf = this.buf.subarray(n);
				this.remaining -= n;
				this.offset += n;
				if (this.remaining === 0) this.finishData();
				continue;
			}
			if (this.padding > 0) {
				const n = Math.min(this.padding, this.buf.length);
				this.buf = this.buf.subarray(n);
				this.padding -= n;
				this.offset += n;
				if (this.padding > 0) return;
				continue;
			}
			if (this.buf.length < block) return;
			const header = this.buf.subarray(0, block);
			this.buf = this.buf.subarray(block);
			this.header(header);
			this.offset += block;
		}
	}

	/** The input is over: anything but a clean end-of-archive marker is a truncated archive. */
	end(): void {
		if (this.ended) return;
		if (this.remaining > 0 || this.padding > 0 || this.buf.length > 0 || this.meta)
			throw new TarFormatError(`the archive is truncated (cut inside entry ${this.index + 1})`, this.offset);
		if (this.index === 0 && this.zeros === 0)
			throw new TarFormatError('the archive is empty (no tar header)', this.offset);
		if (this.zeros === 0)
			throw new TarFormatError(
				`the archive is truncated after entry ${this.index} (no end-of-archive marker)`,
				this.offset,
			);
	}

	private data(chunk: Buffer): void {
		if (this.meta) {
			this.meta.parts.push(Buffer.from(chunk));
			return;
		}
		this.sink?.data(chunk);
	}

	private finishData(): void {
		this.padding = (block - (this.offset % block)) % block;
		if (this.meta) {
			const m = this.meta;
			this.meta = undefined;
			const body = Buffer.concat(m.parts);
			if (m.kind === 'x') parsePax(body, this.pending, this.offset);
			else if (m.kind === 'g') parsePax(body, this.global, this.offset);
			else if (m.kind === 'L') this.pending.path = cString(body);
			else this.pending.linkpath = cString(body);
			return;
		}
		this.sink?.end();
		this.sink = undefined;
	}

	private header(h: Buffer): void {
		if (h.every((b) => b === 0)) {
			this.zeros++;
			// Two zero blocks end the archive; GNU tar also accepts one before EOF.
			if (this.zeros >= 2) this.ended = true;
			return;
		}
		if (this.zeros > 0) throw new TarFormatError('data after an end-of-archive block', this.offset);
		if (!checksumOk(h)) {
			throw new TarFormatError(
				this.index === 0 && this.offset === 0
					? 'not a tar archive (the first header has no valid checksum)'
					: `corrupt header at byte ${this.offset} (bad checksum)`,
				this.offset,
			);
		}
		const typeflag = String.fromCharCode(h[156] as number);
		const size = number(h, 124, 12, 'size', this.offset);
		if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
			if (size > maxMeta)
				throw new TarFormatError(`a ${typeflag} metadata record of ${size} bytes (at most ${maxMeta})`, this.offset);
			this.meta = {kind: typeflag, parts: [], size};
			this.remaining = size;
			if (size === 0) this.finishData();
			return;
		}
		const type = typeOf(typeflag, this.offset);
		const ustar = h.subarray(257, 263).toString('latin1') === 'ustar\0';
		const name = cString(h.subarray(0, 100));
		const prefix = ustar ? cString(h.subarray(345, 500)) : Buffer.alloc(0);
		const p = this.pending;
		const g = this.global;
		const rawPath = p.path ?? g.path ?? (prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : name);
		const rawLink = p.linkpath ?? g.linkpath ?? cString(h.subarray(157, 257));
		const entry: TarEntry = {
			index: this.index++,
			path: decodePath(rawPath),
			type,
			mode: number(h, 100, 8, 'mode', this.offset) & 0o7777,
			uid: p.uid ?? g.uid ?? number(h, 108, 8, 'uid', this.offset),
			gid: p.gid ?? g.gid ?? number(h, 116, 8, 'gid', this.offset),
			mtime: p.mtime ?? g.mtime ?? number(h, 136, 12, 'mtime', this.offset),
			size: p.size ?? size,
			linkpath: decodePath(rawLink),
			devmajor: type === 'char' || type === 'block' ? number(h, 329, 8, 'devmajor', this.offset) : 0,
			devminor: type === 'char' || type === 'block' ? number(h, 337, 8, 'devminor', this.offset) : 0,
			xattrs: new Map([...g.xattrs, ...p.xattrs]),
		};
		this.pending = {xattrs: new Map()};
		if (entry.path === '') throw new TarFormatError(`entry ${entry.index + 1} has an empty name`, this.offset);
		// Only regular files carry data records (POSIX: none for links, directories, devices, FIFOs).
		this.sink = this.onEntry(entry);
		this.remaining = type === 'file' ? entry.size : 0;
		if (this.remaining === 0) this.finishData();
	}
}

function typeOf(flag: string, offset: number): TarType {
	switch (flag) {
		case '0':
		case '\0':
		case '7':
			return 'file';
		case '1':
			return 'hardlink';
		case '2':
			return 'symlink';
		case '3':
			return 'char';
		case '4':
			return 'block';
		case '5':
			return 'dir';
		case '6':
			return 'fifo';
		default:
			throw new TarFormatError(
				`unsupported entry type '${flag.replace(/[^\x20-\x7e]/g, '?')}' (sparse and multi-volume archives are not layers)`,
				offset,
			);
	}
}

function cString(b: Buffer): Buffer {
	const nul = b.indexOf(0);
	return Buffer.from(nul < 0 ? b : b.subarray(0, nul));
}

function checksumOk(h: Buffer): boolean {
	let unsigned = 0;
	let signed = 0;
	for (let i = 0; i < block; i++) {
		const v = i >= 148 && i < 156 ? 0x20 : (h[i] as number);
		unsigned += v;
		signed += v > 127 ? v - 256 : v;
	}
	const field = h
		.subarray(148, 156)
		.toString('latin1')
		.replace(/[\0 ]+$/, '')
		.replace(/^ +/, '');
	if (!/^[0-7]+$/.test(field)) return false;
	const stored = Number.parseInt(field, 8);
	return stored === unsigned || stored === signed;
}

/** An octal or base-256 numeric field; negative and unsafe values are errors. */
function number(h: Buffer, off: number, len: number, what: string, at: number): number {
	const f = h.subarray(off, off + len);
	const first = f[0] as number;
	if (first & 0x80) {
		if (first === 0xff) throw new TarFormatError(`negative ${what} (base-256) at byte ${at}`, at);
		let v = first & 0x7f;
		for (const b of f.subarray(1)) {
			v = v * 256 + b;
			if (v > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${what} too large at byte ${at}`, at);
		}
		return v;
	}
	const text = f
		.toString('latin1')
		.replace(/[\0 ].*$/s, '')
		.replace(/^ +/, '');
	if (text === '') return 0;
	if (!/^[0-7]+$/.test(text))
		throw new TarFormatError(`bad ${what} field "${text.replace(/[^\x20-\x7e]/g, '?')}" at byte ${at}`, at);
	const v = Number.parseInt(text, 8);
	if (!Number.isSafeInteger(v)) throw new TarFormatError(`${what} too large at byte ${at}`, at);
	return v;
}

/** pax records: "<len> <key>=<value>\n", values are bytes. */
function parsePax(body: Buffer, into: Pending, at: number): void {
	let i = 0;
	while (i < body.length) {
		const space = body.indexOf(0x20, i);
		if (space < 0) throw new TarFormatError(`malformed pax record at byte ${at}`, at);
		const len = Number(body.subarray(i, space).toString('latin1'));
		if (!Number.isSafeInteger(len) || len <= space - i + 1 || i + len > body.length || body[i + len - 1] !== 0x0a)
			throw new TarFormatError(`malformed pax record at byte ${at}`, at);
		const rec = body.subarray(space + 1, i + len - 1);
		const eq = rec.indexOf(0x3d);
		if (eq < 0) throw new TarFormatError(`malformed pax record at byte ${at}`, at);
		const key = rec.subarray(0, eq).toString('utf8');
		const value = Buffer.from(rec.subarray(eq + 1));
		const num = (): number => {
			const t = value.toString('latin1');
			const v = Number(t);
			if (!/^-?\d+(\.\d+)?$/.test(t) || !Number.isFinite(v) || v < 0 || v > Number.MAX_SAFE_INTEGER)
				throw new TarFormatError(`bad pax ${key} "${t.slice(0, 40)}" at byte ${at}`, at);
			return v;
		};
		if (key === 'path') into.path = value;
		else if (key === 'linkpath') into.linkpath = value;
		else if (key === 'size') into.size = Math.floor(num());
		else if (key === 'uid') into.uid = Math.floor(num());
		else if (key === 'gid') into.gid = Math.floor(num());
		else if (key === 'mtime') into.mtime = num();
		else if (key.startsWith('SCHILY.xattr.')) into.xattrs.set(key.slice('SCHILY.xattr.'.length), value);
		i += len;
	}
}
