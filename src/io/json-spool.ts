import {closeSync, constants as O, openSync, readSync, unlinkSync, writeSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {StringDecoder} from 'node:string_decoder';
import {arraySlice, jsonElements, ownJson, type OwnJson} from '../context.js';
import {fsError, randomHex} from './beneath.js';

/** open(2)'s O_TMPFILE (Node does not export it): __O_TMPFILE, with O_DIRECTORY as Linux requires. */
const O_TMPFILE = 0o20000000 | O.O_DIRECTORY;

/**
 A temp file in $TMPDIR that no name leads to: O_TMPFILE where the filesystem has it (nothing is
 left behind even by a SIGKILL), else a new name (O_EXCL, O_NOFOLLOW) unlinked at once.
 */
function openSpillFile(): number {
	const dir = tmpdir();
	try {
		return openSync(dir, O_TMPFILE | O.O_RDWR, 0o600);
	} catch {
		const file = `${dir}/.ovl-spool-${process.pid}-${randomHex(6)}`;
		const fd = openSync(file, O.O_RDWR | O.O_CREAT | O.O_EXCL | O.O_NOFOLLOW, 0o600);
		try {
			unlinkSync(file);
		} catch (error) {
			closeSync(fd);
			throw error;
		}
		return fd;
	}
}

/** Text kept in memory up to this many characters; past it, the spool goes to a temp file. */
const spillAt = 16 << 20;

/**
 A JSON array written as its elements come, and read back when the document around it is
 written: `inspect --json` of 10⁶ entries puts its summary (known only after the last entry)
 before them without holding them in memory. The text stays in memory up to `spillAt`, then goes
 to an unlinked temp file (or stays in memory when none can be made). An element can be held: its
 place kept, its value given later.
 */
export class JsonSpool implements OwnJson {
	private readonly indent: string;
	private readonly spillAt: number;
	private fd: number | undefined;
	private spillFailed = false;
	private memory: string[] = [];
	private memoryChars = 0;
	/** Bytes in the file, once spilled. */
	private size = 0;
	private batch: unknown[] = [];
	private count = 0;
	/**
	 Held places: where each comes (a piece of memory, or a byte of the file once spilled),
	 whether an element comes before it, and its text once settled.
	 */
	private readonly held: {at: number; comma: boolean; text?: string}[] = [];

	/** `indent`: the array's own indent in the document (an inspect report's fields: two spaces). */
	constructor(indent: string, options: {spillAt?: number} = {}) {
		this.indent = indent;
		this.spillAt = options.spillAt ?? spillAt;
	}

	/** Whether the text went to a temp file. */
	get onDisk(): boolean {
		return this.fd !== undefined;
	}

	add(value: unknown): void {
		this.batch.push(value);
		if (this.batch.length >= arraySlice) this.flush();
	}

	/** Keeps the next element's place; its value comes to settle(slot). */
	hold(): number {
		this.flush();
		this.held.push({at: this.fd === undefined ? this.memory.length : this.size, comma: this.count > 0});
		this.count++;
		return this.held.length - 1;
	}

	settle(slot: number, value: unknown): void {
		const h = this.held[slot];
		if (h) h.text = `${h.comma ? ',' : ''}${jsonElements([value], this.indent)}`;
	}

	close(): void {
		if (this.fd !== undefined) closeSync(this.fd);
		this.fd = undefined;
	}

	*[ownJson](indent: string): Generator<string> {
		if (indent !== this.indent)
			throw new Error(`JsonSpool: written at indent ${indent.length}, made for ${this.indent.length}`);
		this.flush();
		if (this.count === 0) return yield '[]';
		yield '[';
		let from = 0;
		for (const h of this.held) {
			yield* this.read(from, h.at);
			from = h.at;
			// A place never settled (its entry filtered out later) stays empty: settle is always called.
			if (h.text !== undefined) yield h.text;
		}
		yield* this.read(from, this.fd === undefined ? this.memory.length : this.size);
		yield `\n${indent}]`;
	}

	private flush(): void {
		if (this.batch.length === 0) return;
		const text = `${this.count > 0 ? ',' : ''}${jsonElements(this.batch, this.indent)}`;
		this.count += this.batch.length;
		this.batch = [];
		if (this.fd !== undefined) return this.write(text);
		this.memory.push(text);
		this.memoryChars += text.length;
		if (this.memoryChars > this.spillAt && !this.spillFailed) this.spill();
	}

	/** Moves the text so far to a new unlinked temp file; held places become byte offsets. */
	private spill(): void {
		try {
			this.fd = openSpillFile();
		} catch {
			this.spillFailed = true;
			return;
		}
		const offsets: number[] = [];
		for (const piece of this.memory) {
			offsets.push(this.size);
			this.write(piece);
		}
		offsets.push(this.size);
		for (const h of this.held) h.at = offsets[h.at] as number;
		this.memory = [];
		this.memoryChars = 0;
	}

	private write(text: string): void {
		const bytes = Buffer.from(text, 'utf8');
		try {
			for (let done = 0; done < bytes.length;)
				done += writeSync(this.fd as number, bytes, done, bytes.length - done, this.size + done);
		} catch (error) {
			throw fsError(error, `${tmpdir()} (the report's temp file)`);
		}
		this.size += bytes.length;
	}

	/** The spool's text in [from, to): bytes of the file, or pieces of the in-memory list. */
	private *read(from: number, to: number): Generator<string> {
		if (this.fd === undefined) return yield* this.memory.slice(from, to);
		const decoder = new StringDecoder('utf8');
		// 64 KiB, not more: a string over V8's regular object size goes to large-object space, which
		// only a full GC frees, and reading back 10⁸ bytes in 1 MiB pieces piled them up (+25 MB).
		const buf = Buffer.allocUnsafe(1 << 16);
		for (let at = from; at < to;) {
			const n = readSync(this.fd, buf, 0, Math.min(buf.length, to - at), at);
			if (n === 0) break;
			at += n;
			yield decoder.write(buf.subarray(0, n));
		}
		const rest = decoder.end();
		if (rest) yield rest;
	}
}
