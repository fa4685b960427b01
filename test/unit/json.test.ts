import {describe, expect, test} from 'vitest';
import {jsonPieces, jsonText} from '../../src/context.js';
import {decodePath} from '../../src/core/bytes.js';

// The streamed JSON must be byte-for-byte the text JSON.stringify(value, bytes replacer, 2) makes.
const same = (v: unknown): void => expect([...jsonPieces(v)].join('')).toBe(jsonText(v));

describe('streamed JSON', () => {
	test.each([
		['scalars', [1, 'a', true, null, 0.5, -0, Number.NaN]],
		['empty containers', {a: [], b: {}, c: [[]], d: [{}]}],
		['undefined and functions', {a: undefined, b: () => 1, c: [undefined, () => 1, 2]}],
		['nesting', {a: {b: {c: [1, {d: 'e'}]}}, f: 'g\n"h"\u0001'}],
		['a Date', {at: new Date('2026-12-02T06:00:00Z')}],
		[
			'a name that is not UTF-8',
			{
				path: decodePath(Buffer.from([0x2f, 0x66, 0xff])),
				other: 'x',
				nested: [{path: decodePath(Buffer.from([0xfe]))}],
			},
		],
		['a string at the top', 'top'],
	])('%s', (_name, value) => same(value));

	test('a large report-shaped document, in pieces of at most one entry each', () => {
		const entries = Array.from({length: 5000}, (_, i) => ({
			path: `/d/f${i}`,
			kind: 'new',
			reasons: ['no lower holds this path'],
			size: i,
		}));
		const doc = {schema: 'ovl.inspect/v1', summary: {entries: 5000}, entries};
		same(doc);
		const longest = Math.max(...[...jsonPieces(doc)].map((p) => p.length));
		const oneEntry = Math.max(...entries.map((e) => jsonText(e).replaceAll('\n', '\n    ').length));
		expect(longest).toBeLessThanOrEqual(oneEntry);
		expect(oneEntry).toBeLessThan(200);
	});
});
