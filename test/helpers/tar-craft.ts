// Builds tar archives byte by byte, including the broken and hostile ones real tools refuse to
// write: any name bytes, any type, sizes that lie, base-256 fields, pax records, no end marker.

export type CraftEntry = {
	name: string | Buffer;
	type?: string; // typeflag character, default '0'
	data?: Buffer | string;
	mode?: number;
	uid?: number;
	gid?: number;
	mtime?: number;
	linkname?: string | Buffer;
	devmajor?: number;
	devminor?: number;
	/** Overrides the size field (a lie about the data that follows). */
	sizeField?: Buffer;
	pax?: Record<string, string | Buffer>;
};

const octal = (n: number, len: number): Buffer => Buffer.from(`${n.toString(8).padStart(len - 1, '0')}\0`, 'latin1');

export function header(e: CraftEntry): Buffer {
	const h = Buffer.alloc(512);
	const name = typeof e.name === 'string' ? Buffer.from(e.name) : e.name;
	name.copy(h, 0, 0, Math.min(100, name.length));
	octal(e.mode ?? 0o644, 8).copy(h, 100);
	octal(e.uid ?? 0, 8).copy(h, 108);
	octal(e.gid ?? 0, 8).copy(h, 116);
	const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
	(e.sizeField ?? octal(data.length, 12)).copy(h, 124);
	octal(e.mtime ?? 1_700_000_000, 12).copy(h, 136);
	h.write(e.type ?? '0', 156, 'latin1');
	if (e.linkname !== undefined)
		(typeof e.linkname === 'string' ? Buffer.from(e.linkname) : e.linkname).copy(h, 157, 0, 100);
	h.write('ustar\0', 257, 'latin1');
	h.write('00', 263, 'latin1');
	octal(e.devmajor ?? 0, 8).copy(h, 329);
	octal(e.devminor ?? 0, 8).copy(h, 337);
	h.fill(0x20, 148, 156);
	let sum = 0;
	for (const b of h) sum += b;
	Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `, 'latin1').copy(h, 148);
	return h;
}

const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

function paxBody(records: Record<string, string | Buffer>): Buffer {
	const parts: Buffer[] = [];
	for (const [k, v] of Object.entries(records)) {
		const value = Buffer.from(v);
		const rest = Buffer.concat([Buffer.from(` ${k}=`), value, Buffer.from('\n')]);
		let len = rest.length + 1;
		while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
		parts.push(Buffer.concat([Buffer.from(String(len)), rest]));
	}
	return Buffer.concat(parts);
}

/** A whole archive; `end: false` leaves out the two zero blocks. */
export function craftTar(entries: readonly CraftEntry[], options: {end?: boolean} = {}): Buffer {
	const parts: Buffer[] = [];
	for (const e of entries) {
		if (e.pax) {
			const body = paxBody(e.pax);
			parts.push(header({name: 'PaxHeader', type: 'x', data: body}), pad(body));
		}
		parts.push(header(e));
		if (e.data !== undefined) parts.push(pad(Buffer.from(e.data)));
	}
	if (options.end !== false) parts.push(Buffer.alloc(1024));
	return Buffer.concat(parts);
}
