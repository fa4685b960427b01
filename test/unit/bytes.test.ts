import {describe, expect, test} from 'vitest';
import {decodePath, encodePath, fsPath, hasRawBytes, printablePath} from '../../src/core/bytes.js';

// Paths are bytes: decode → encode must give back every byte string exactly.

function* byteStrings(seed: number, count: number): Generator<Buffer> {
	let x = seed;
	const next = (): number => {
		x = (x * 1103515245 + 12345) % 2 ** 31;
		return x;
	};
	for (let i = 0; i < count; i++) {
		const len = 1 + (next() % 24);
		yield Buffer.from(
			Array.from({length: len}, () => {
				const r = next() % 10;
				return r < 4 ? 0x61 + (next() % 26) : r < 7 ? 0x80 + (next() % 128) : 1 + (next() % 254);
			}).filter((b) => b !== 0x2f),
		);
	}
}

describe('surrogateescape paths', () => {
	test('every byte string round-trips (2,000 seeded cases)', () => {
		for (const b of byteStrings(7, 2000)) expect(encodePath(decodePath(b)).equals(b), b.toString('hex')).toBe(true);
	});
	test('0xff, 0xfe and a real U+FFFD stay three different names', () => {
		const names = [Buffer.from([0x66, 0xff]), Buffer.from([0x66, 0xfe]), Buffer.from('f\uFFFD')].map(decodePath);
		expect(new Set(names).size).toBe(3);
		expect(names.map(hasRawBytes)).toEqual([true, true, false]);
		expect(names.map(printablePath)).toEqual(['f\\xff', 'f\\xfe', 'f\uFFFD']);
	});
	test('valid UTF-8 is left alone; surrogate pairs are not mistaken for raw bytes', () => {
		for (const s of ['plain', 'ünïcödé', '😀 \u{10080}', 'a,b:c']) {
			expect(decodePath(Buffer.from(s))).toBe(s);
			expect(hasRawBytes(s)).toBe(false);
			expect(fsPath(s)).toBe(s);
		}
	});
	test('overlong and surrogate encodings are raw bytes, not characters', () => {
		expect(printablePath(decodePath(Buffer.from([0xc0, 0xaf])))).toBe('\\xc0\\xaf');
		expect(printablePath(decodePath(Buffer.from([0xed, 0xa0, 0x80])))).toBe('\\xed\\xa0\\x80');
	});
	test('printablePath escapes control characters like ls -b', () => {
		expect(printablePath('a\nb\tc\u001b[2Jd\\e')).toBe('a\\nb\\tc\\x1b[2Jd\\\\e');
	});
});
