// Encodes tar headers the way image layers carry them (POSIX ustar, pax where ustar cannot say
// it): names and link targets as bytes, SCHILY.xattr.* records, numeric owners, whole seconds.
// Deterministic: the same entries give the same bytes (no uname, no atime, no clock).

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export type TarHeader = {
	/** Relative path bytes, no leading "./"; a directory's ends with "/". */
	readonly name: Buffer;
	readonly type: TarEntryType;
	/** Permission bits with setuid/setgid/sticky (mode & 0o7777). */
	readonly mode: number;
	readonly uid: number;
	readonly gid: number;
	/** Bytes of data that follow (regular files only). */
	readonly size: number;
	/** Seconds since the epoch. */
	readonly mtime: number;
	readonly linkname?: Buffer;
	readonly devmajor?: number;
	readonly devminor?: number;
	/** xattr name → value; written as SCHILY.xattr.<name> pax records. */
	readonly xattrs?: readonly (readonly [string, Buffer])[];
};

const typeflags: Record<TarEntryType, string> = {
	file: '0',
	hardlink: '1',
	symlink: '2',
	char: '3',
	block: '4',
	dir: '5',
	fifo: '6',
};
export const blockSize = 512;

/** The pax records (if any) and the ustar header for one entry; data and padding follow it. */
export function encodeHeader(h: TarHeader): Buffer {
	const pax: [string, Buffer][] = [];
	const split = splitName(h.name);
	if (!split) pax.push(['path', h.name]);
	if (h.linkname && h.linkname.length > 100) pax.push(['linkpath', h.linkname]);
	if (h.size > 0o77777777777) pax.push(['size', Buffer.from(String(h.size))]);
	if (h.uid > 0o7777777) pax.push(['uid', Buffer.from(String(h.uid))]);
	if (h.gid > 0o7777777) pax.push(['gid', Buffer.from(String(h.gid))]);
	if (pax.some(([k, v]) => (k === 'path' || k === 'linkpath') && !isUtf8(v)))
		pax.unshift(['hdrcharset', Buffer.from('BINARY')]);
	for (const [name, value] of h.xattrs ?? []) pax.push([`SCHILY.xattr.${name}`, value]);
	const main = ustar(h, split ?? {prefix: Buffer.alloc(0), name: h.name.subarray(0, 100)});
	if (pax.length === 0) return main;
	const body = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
	const paxName = Buffer.concat([Buffer.from('PaxHeaders/'), lastComponent(h.name)]).subarray(0, 100);
	const header = ustar(
		{name: paxName, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: h.mtime},
		{prefix: Buffer.alloc(0), name: paxName},
		'x',
	);
	return Buffer.concat([header, body, padding(body.length), main]);
}

/** Zero bytes that complete a data block of `size` bytes. */
export function padding(size: number): Buffer {
	return Buffer.alloc((blockSize - (size % blockSize)) % blockSize);
}

/** Two zero blocks end an archive. */
export const endOfArchive = (): Buffer => Buffer.alloc(2 * blockSize);

function ustar(h: TarHeader, n: {prefix: Buffer; name: Buffer}, flag = typeflags[h.type]): Buffer {
	const b = Buffer.alloc(blockSize);
	n.name.copy(b, 0);
	octal(b, 100, 8, h.mode & 0o7777);
	octal(b, 108, 8, Math.min(h.uid, 0o7777777));
	octal(b, 116, 8, Math.min(h.gid, 0o7777777));
	octal(b, 124, 12, Math.min(h.size, 0o77777777777));
	octal(b, 136, 12, Math.max(0, Math.min(Math.floor(h.mtime), 0o77777777777)));
	b.write(flag, 156, 'latin1');
	if (h.linkname) h.linkname.subarray(0, 100).copy(b, 157);
	b.write('ustar\u000000', 257, 'latin1');
	if (h.type === 'char' || h.type === 'block') {
		octal(b, 329, 8, h.devmajor ?? 0);
		octal(b, 337, 8, h.devminor ?? 0);
	}
	n.prefix.copy(b, 345);
	b.fill(0x20, 148, 156);
	let sum = 0;
	for (const byte of b) sum += byte;
	b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
	return b;
}

function octal(b: Buffer, at: number, width: number, value: number): void {
	b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, at, 'latin1');
}

/** ustar's name (100 bytes) and prefix (155 bytes), split at a slash; undefined when it cannot hold the name. */
function splitName(name: Buffer): {prefix: Buffer; name: Buffer} | undefined {
	if (name.length <= 100) return {prefix: Buffer.alloc(0), name};
	for (let i = name.length - 1; i > 0; i--) {
		if (name[i] !== 0x2f || i > 155) continue;
		const rest = name.subarray(i + 1);
		if (rest.length > 0 && rest.length <= 100) return {prefix: name.subarray(0, i), name: rest};
		if (rest.length > 100) return undefined;
	}
	return undefined;
}

function lastComponent(name: Buffer): Buffer {
	const trimmed = name[name.length - 1] === 0x2f ? name.subarray(0, -1) : name;
	return trimmed.subarray(trimmed.lastIndexOf(0x2f) + 1);
}

/** "<len> <key>=<value>\n", where len counts the whole record, itself included. */
function paxRecord(key: string, value: Buffer): Buffer {
	const rest = Buffer.byteLength(key) + value.length + 3;
	let len = rest + String(rest).length;
	if (String(len).length !== String(rest).length) len = rest + String(len).length;
	return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

function isUtf8(b: Buffer): boolean {
	return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}
