import {isUtf8} from 'node:buffer';

// Paths are bytes. Inside ovl a path is a string in which every byte that is not part of valid
// UTF-8 is held as a lone surrogate U+DC80–U+DCFF (Python's "surrogateescape"): decoding and
// encoding round-trip exactly, and a real U+FFFD stays distinct from a raw 0xff byte.

const escaped = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

/** Bytes → string, lossless. */
export function decodePath(bytes: Uint8Array): string {
	const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	if (isUtf8(buf)) return buf.toString('utf8');
	let out = '';
	let i = 0;
	while (i < buf.length) {
		const n = validSequenceLength(buf, i);
		if (n > 0) {
			out += buf.toString('utf8', i, i + n);
			i += n;
		} else {
			out += String.fromCharCode(0xdc00 + (buf[i] as number));
			i++;
		}
	}
	return out;
}

/** Length of the valid UTF-8 sequence starting at i, or 0 (RFC 3629: no overlongs, no surrogates). */
function validSequenceLength(b: Buffer, i: number): number {
	const c = b[i] as number;
	if (c < 0x80) return 1;
	const cont = (k: number): boolean => i + k < b.length && ((b[i + k] as number) & 0xc0) === 0x80;
	if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		const c1 = b[i + 1] ?? 0;
		if (c === 0xe0 && c1 < 0xa0) return 0;
		if (c === 0xed && c1 >= 0xa0) return 0;
		return cont(1) && cont(2) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		const c1 = b[i + 1] ?? 0;
		if (c === 0xf0 && c1 < 0x90) return 0;
		if (c === 0xf4 && c1 >= 0x90) return 0;
		return cont(1) && cont(2) && cont(3) ? 4 : 0;
	}
	return 0;
}

/** True when the string holds bytes that are not UTF-8 (escaped by decodePath). */
export const hasRawBytes = (s: string): boolean => escaped.test(s);

/** String → the exact bytes it stands for. */
export function encodePath(s: string): Buffer {
	if (!hasRawBytes(s)) return Buffer.from(s, 'utf8');
	const parts: Buffer[] = [];
	let run = '';
	for (let i = 0; i < s.length; i++) {
		const u = s.charCodeAt(i);
		const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
		if (u >= 0xdc80 && u <= 0xdcff && !(prev >= 0xd800 && prev <= 0xdbff)) {
			if (run) parts.push(Buffer.from(run, 'utf8'));
			run = '';
			parts.push(Buffer.of(u - 0xdc00));
		} else run += s[i];
	}
	if (run) parts.push(Buffer.from(run, 'utf8'));
	return Buffer.concat(parts);
}

/** What to hand to node:fs: the string itself when it is plain UTF-8 (the common case), else its bytes. */
export const fsPath = (s: string): string | Buffer => (hasRawBytes(s) ? encodePath(s) : s);

/**
 A path for people and for JSON consumers that do not know the escape: raw bytes as `\xNN`,
 control characters as `\n`, `\t`, `\xNN` (as `ls -b` does), a backslash doubled.
 */
export function printablePath(s: string): string {
	// eslint-disable-next-line no-control-regex
	if (!/[\u0000-\u001f\u007f-\u009f\\]/.test(s) && !hasRawBytes(s)) return s;
	let out = '';
	for (let i = 0; i < s.length; i++) {
		const u = s.charCodeAt(i);
		const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
		if (u >= 0xdc80 && u <= 0xdcff && !(prev >= 0xd800 && prev <= 0xdbff))
			out += `\\x${(u - 0xdc00).toString(16).padStart(2, '0')}`;
		else if (u === 0x5c) out += '\\\\';
		else if (u === 0x0a) out += '\\n';
		else if (u === 0x09) out += '\\t';
		else if (u < 0x20 || (u >= 0x7f && u <= 0x9f)) out += `\\x${u.toString(16).padStart(2, '0')}`;
		else out += s[i];
	}
	return out;
}

/** "a ext4" → "an ext4": the article for a word as it is read aloud (a vowel letter; not "a xfs"). */
export const withArticle = (word: string): string => `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;

/** "1 lower", "2 lowers". */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
