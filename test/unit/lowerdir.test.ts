import {describe, expect, test} from 'vitest';
import {
	escapeLayerPath,
	joinLowerdir,
	kernelLowerOrder,
	parseLowerdir,
	unescapeLayerPath,
	userLowerOrder,
} from '../../src/core/lowerdir.js';

describe('escapeLayerPath', () => {
	test.each([
		['/plain/path', '/plain/path'],
		['/a:b', '/a\\:b'],
		['/x,upperdir=/etc', '/x\\,upperdir=/etc'],
		['/back\\slash', '/back\\\\slash'],
		['/sp ace/eq=ual', '/sp ace/eq=ual'],
		['/new\nline', '/new\nline'],
		['/ünïcødé/日本', '/ünïcødé/日本'],
		['/a\\:b,c', '/a\\\\\\:b\\,c'],
	])('%j → %j and back', (raw, escaped) => {
		expect(escapeLayerPath(raw)).toBe(escaped);
		expect(unescapeLayerPath(escaped)).toBe(raw);
	});

	test('a 255-byte name survives the round trip', () => {
		const name = `/${'n:,\\'.repeat(63)}abc`;
		expect(unescapeLayerPath(escapeLayerPath(name))).toBe(name);
	});
});

describe('parseLowerdir', () => {
	test('splits on unescaped colons, top first', () => {
		expect(parseLowerdir('/top:/mid:/bottom')).toEqual({
			ok: true,
			layers: [
				{path: '/top', dataOnly: false},
				{path: '/mid', dataOnly: false},
				{path: '/bottom', dataOnly: false},
			],
		});
	});
	test('honours \\: and \\, and \\\\', () => {
		expect(parseLowerdir('/a\\:b:/c\\,d:/e\\\\f')).toEqual({
			ok: true,
			layers: [
				{path: '/a:b', dataOnly: false},
				{path: '/c,d', dataOnly: false},
				{path: '/e\\f', dataOnly: false},
			],
		});
	});
	test(':: starts data-only layers', () => {
		expect(parseLowerdir('l1:l2::d1::d2')).toEqual({
			ok: true,
			layers: [
				{path: 'l1', dataOnly: false},
				{path: 'l2', dataOnly: false},
				{path: 'd1', dataOnly: true},
				{path: 'd2', dataOnly: true},
			],
		});
	});
	test.each([
		['a:::b', /only single/],
		['a:', /trailing/],
		[':a', /leading/],
		['a::d:b', /regular lower layers cannot follow/],
		['', /missing/],
	])('rejects %j like the kernel', (value, reason) => {
		const r = parseLowerdir(value);
		expect(r.ok).toBe(false);
		if (!r.ok) expect(r.reason).toMatch(reason);
	});
	test('escaped trailing colon is part of the name', () => {
		expect(parseLowerdir('a\\:')).toEqual({ok: true, layers: [{path: 'a:', dataOnly: false}]});
	});
});

describe('order conversion', () => {
	const bottomUp = [
		{path: '/base', dataOnly: false},
		{path: '/app', dataOnly: false},
		{path: '/config', dataOnly: false},
	];
	test('bottom→top becomes top-first and back', () => {
		const kernel = kernelLowerOrder({lowers: bottomUp});
		expect(kernel.map((l) => l.path)).toEqual(['/config', '/app', '/base']);
		expect(userLowerOrder(kernel)).toEqual(bottomUp);
	});
	test('data-only layers (at the bottom) end up after ::', () => {
		const stack = {lowers: [{path: '/d', dataOnly: true}, ...bottomUp]};
		const kernel = kernelLowerOrder(stack);
		expect(joinLowerdir(kernel.map((l) => ({text: l.path, dataOnly: l.dataOnly})))).toBe('/config:/app:/base::/d');
	});
});
