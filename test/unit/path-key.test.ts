import {createHash, randomBytes} from 'node:crypto';
import {describe, expect, test} from 'vitest';
import {sha256Hex} from '../../src/core/path-key.js';

describe('sha256Hex', () => {
	test('is node:crypto sha256 for every length around the block and padding edges, and long inputs', () => {
		const lengths = [...Array.from({length: 200}, (_, i) => i), 447, 448, 511, 512, 1000, 4096, 65_537];
		for (const n of lengths) {
			const data = randomBytes(n);
			expect(sha256Hex(data), `length ${n}`).toBe(createHash('sha256').update(data).digest('hex'));
		}
	});

	test('known vectors (FIPS 180-4)', () => {
		expect(sha256Hex(Buffer.from(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
		expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
	});
});
