import {closeSync, constants as O, openSync, readSync, unlinkSync, writeSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {StringDecoder} from 'node:string_decoder';
import {jsonElements, ownJson, type OwnJson} from '../context.js';
import {fsError, randomHex} from './beneath.js';

/** Elements per native stringify: one call on 256 is ~3× faster than 256 calls on one. */
const batchSize = 256;

/**
 A JSON array written to an unlinked temp file as its elements come, and read back when the
 document around it is written: `inspect --json` of 10⁶ entries puts its summary (known only
 after the last entry) before them without holding them in memory. An element can be held (its
 place kept, its value given later). Without a writable temp dir the text stays in memory.
 */
export class JsonSpool implements OwnJson {
	private readonly indent: string;
	private fd: number | undefined;
	private readonly memory: string[] = [];
	private size = 0;
	private batch: unknown[] = [];
	private count = 0;
	/** Held places: where in the spool each comes, whether an element comes before it, and its text once settled. */
	private readonly held: {at: number; comma: boolean; text?: string}[] = [];

	/** `indent`: the array's own indent in the document (an inspect report's fields: two spaces). */
	constructor(indent: string) {
		this.indent = indent;
		const file = `${tmpdir()}/.ovl-spool-${process.pid}-${randomHex(6)}`;
		try {
			this.fd = openSync(file, O.O_RDWR | O.O_CREAT | O.O_EXCL | O.O_NOFOLLOW, 0o600);
			unlinkSync(file);
		} catch {
			if (this.fd !== undefined) closeSync(this.fd);
			this.fd = undefined;
		}
	}

	/** Whether the text goes to a temp file (else it stays in memory). */
	get onDisk(): boolean {
		return this.fd !== undefined;
	}

	add(value: unknown): void {
		this.batch.push(value);
		if (this.batch.length >= batchSize) this.flush();
	}

	/** Keeps the next element's place; its value comes to settle(slot). */
	hold(): number {
		this.flush();
		this.held.push({at: this.size, comma: this.count > 0});
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
		yield* this.read(from, this.size);
		yield `\n${indent}]`;
	}

	private flush(): void {
		if (this.batch.length === 0) return;
		const text = `${this.count > 0 ? ',' : ''}${jsonElements(this.batch, this.indent)}`;
		this.count += this.batch.length;
		this.batch = [];
		if (this.fd === undefined) {
			this.memory.push(text);
			this.size++;
			return;
		}
		const bytes = Buffer.from(text, 'utf8');
		try {
			for (let done = 0; done < bytes.length;)
				done += writeSync(this.fd, bytes, done, bytes.length - done, this.size + done);
		} catch (error) {
			throw fsError(error, `${tmpdir()} (the report's temp file)`);
		}
		this.size += bytes.length;
	}

	/** The spool's text in [from, to): bytes of the file, or pieces of the in-memory list. */
	private *read(from: number, to: number): Generator<string> {
		if (this.fd === undefined) return yield* this.memory.slice(from, to);
		const decoder = new StringDecoder('utf8');
		const buf = Buffer.allocUnsafe(1 << 20);
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
