import {mkdtempSync, readdirSync, readlinkSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, test} from 'vitest';
import {jsonPieces, jsonText} from '../../src/context.js';
import {decodePath} from '../../src/core/bytes.js';
import {JsonSpool} from '../../src/io/json-spool.js';

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
		[
			'long arrays, written in slices',
			{
				a: Array.from({length: 700}, (_, i) => (i % 7 === 0 ? undefined : i % 5 === 0 ? [i, [i]] : {i})),
				b: [Array.from({length: 300}, (_, i) => (i === 299 ? decodePath(Buffer.from([0xff])) : i))],
				c: Array.from({length: 512}, (_, i) => ({p: i === 400 ? decodePath(Buffer.from([0x2f, 0xfe])) : 'x'})),
			},
		],
	])('%s', (_name, value) => same(value));

	test('a large report-shaped document, in pieces of at most 256 entries each', () => {
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
		// Each element is preceded by ",\n" and its indent.
		expect(longest).toBeLessThanOrEqual(256 * (oneEntry + 6));
		expect(oneEntry).toBeLessThan(200);
	});
});

describe('a spooled array (inspect --json)', () => {
	// Elements as they come, some held and settled later in any order; written inside a document.
	const items = Array.from({length: 1000}, (_, i) => ({
		i,
		path: i === 600 ? decodePath(Buffer.from([0x2f, 0xff])) : `/é${i}`,
	}));
	const heldAt = new Set([0, 255, 256, 257, 511, 999]);
	// Spilled to disk at once (spillAt 0), to read the file back.
	const spooled = (): JsonSpool => {
		const spool = new JsonSpool('  ', {spillAt: 0});
		const slots: [number, number][] = [];
		for (const [i, x] of items.entries()) {
			if (heldAt.has(i)) slots.push([spool.hold(), i]);
			else spool.add(x);
		}
		for (const [slot, i] of slots.reverse()) spool.settle(slot, items[i]);
		return spool;
	};
	const doc = (entries: unknown): unknown => ({schema: 's', summary: {n: 1}, entries, findings: []});

	test('gives the text of the whole array, held places filled', () => {
		const spool = spooled();
		try {
			expect(spool.onDisk).toBe(true);
			expect([...jsonPieces(doc(spool))].join('')).toBe(jsonText(doc(items)));
		} finally {
			spool.close();
		}
	});

	test('below the spill size the text stays in memory, the same', () => {
		const spool = new JsonSpool('  ');
		items.forEach((x, i) => (i === 3 ? spool.settle(spool.hold(), x) : spool.add(x)));
		expect(spool.onDisk).toBe(false);
		expect([...jsonPieces(doc(spool))].join('')).toBe(jsonText(doc(items)));
		spool.close();
	});

	test('an empty spool is [], and one held element alone is written too', () => {
		const empty = new JsonSpool('  ');
		const one = new JsonSpool('  ');
		one.settle(one.hold(), {a: 1});
		try {
			expect([...jsonPieces(doc(empty))].join('')).toBe(jsonText(doc([])));
			expect([...jsonPieces(doc(one))].join('')).toBe(jsonText(doc([{a: 1}])));
		} finally {
			empty.close();
			one.close();
		}
	});

	test('the spilled text has no name in $TMPDIR at any moment (O_TMPFILE): a SIGKILL leaves nothing', () => {
		const had = process.env['TMPDIR'];
		const dir = mkdtempSync(path.join(os.tmpdir(), 'ovl-spool-'));
		process.env['TMPDIR'] = dir;
		try {
			const spool = spooled();
			expect(spool.onDisk).toBe(true);
			expect(readdirSync(dir)).toEqual([]);
			// The open file is one the kernel made without a name: /proc shows "#<inode> (deleted)".
			const open = readdirSync('/proc/self/fd')
				.map((fd) => {
					try {
						return readlinkSync(`/proc/self/fd/${fd}`);
					} catch {
						return '';
					}
				})
				.filter((target) => target.startsWith(`${dir}/`));
			expect(open).toHaveLength(1);
			expect(open[0]).toMatch(/\/#\d+ \(deleted\)$/);
			expect([...jsonPieces(doc(spool))].join('')).toBe(jsonText(doc(items)));
			spool.close();
		} finally {
			if (had === undefined) delete process.env['TMPDIR'];
			else process.env['TMPDIR'] = had;
			rmSync(dir, {recursive: true, force: true});
		}
	});

	test('without a writable temp dir the text stays in memory, the same', () => {
		const had = process.env['TMPDIR'];
		process.env['TMPDIR'] = '/nonexistent/ovl-spool-test';
		try {
			const spool = spooled();
			expect(spool.onDisk).toBe(false);
			expect([...jsonPieces(doc(spool))].join('')).toBe(jsonText(doc(items)));
			spool.close();
		} finally {
			if (had === undefined) delete process.env['TMPDIR'];
			else process.env['TMPDIR'] = had;
		}
	});
});
