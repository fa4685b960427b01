import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, test} from 'vitest';
import {decodePath} from '../../src/core/bytes.js';
import {LowerDirs} from '../../src/io/lower-dirs.js';
import {native} from '../../src/io/native.js';
import {jsScanPort} from '../../src/io/scan-js.js';
import {nativeScanPort} from '../../src/io/scan-native.js';
import {nameListOf, namesIn, type ScanPort} from '../../src/io/scan-port.js';

// A lower dir read for some names only (the scan's prefetch): lookups of those names are answered
// from it, and a lookup of any other name reads the dir whole, with either scanner.

let dir = '';
beforeEach(() => {
	dir = mkdtempSync(path.join(os.tmpdir(), 'ovl-lower-dirs-'));
	for (const n of ['a', 'b', 'c']) writeFileSync(path.join(dir, n), n);
	mkdirSync(path.join(dir, 'sub'));
});
afterEach(() => rmSync(dir, {recursive: true, force: true}));

const api = native();
const ports: [string, ScanPort][] = [
	['js', jsScanPort],
	...(api ? [['native', nativeScanPort(api)] as [string, ScanPort]] : []),
];

describe.each(ports)('a partial lower listing (%s scanner)', (_name, port) => {
	test('answers its wanted names with their stats, and reads the dir whole for another', async () => {
		const lowers = new LowerDirs('user');
		const read = await port.readDirs([dir], 'user', 0, [nameListOf(['a', 'sub', 'gone'])]);
		expect(read.failures).toEqual([]);
		const listing = read.dirs.get(dir);
		expect([...(listing?.names.keys() ?? [])].sort()).toEqual(['a', 'sub']);
		expect(listing?.stats?.get('a')?.size).toBe(1);
		expect(listing?.stats?.get('b')).toBeUndefined();
		lowers.prefetch(read.dirs);
		const ctx = [{layer: 1, path: dir}];
		const [a] = lowers.hits(ctx, 'a', true);
		expect(a).toMatchObject({layer: 1, path: path.join(dir, 'a'), type: 'file', stat: {size: 1}});
		// Wanted and not there: no hit, and no second read.
		expect(lowers.hits(ctx, 'gone', true)).toEqual([]);
		expect(lowers.childCtx(ctx, 'sub', true)).toEqual([{layer: 1, path: path.join(dir, 'sub')}]);
		// Never wanted: the dir is read whole to answer.
		const [b] = lowers.hits(ctx, 'b');
		expect(b).toMatchObject({layer: 1, path: path.join(dir, 'b'), type: 'file'});
		expect([...lowers.children(ctx).keys()].sort()).toEqual(['a', 'b', 'c', 'sub']);
		// The bulk read's stat still comes with a wanted hit after the whole read.
		expect(lowers.hits(ctx, 'a', true)[0]?.stat?.size).toBe(1);
	});
});

test('the native scanner is among them where CI requires it', () => {
	if (process.env['OVL_REQUIRE_NATIVE'] === '1') expect(ports.map(([name]) => name)).toContain('native');
});

test('a NameList keeps names that are not UTF-8 as their bytes', () => {
	const raw = decodePath(Buffer.from([0x66, 0xff]));
	const list = nameListOf(['x', raw, '']);
	expect([...list]).toEqual([0x78, 0, 0x66, 0xff, 0, 0]);
	expect(namesIn(list)).toEqual(['x', raw, '']);
});
