import {describe, expect, test} from 'vitest';
import {parseOptionArg, validateOptions, withDefaults} from '../../src/core/options.js';
import type {MountOption} from '../../src/core/types.js';

const ctx: {hasUpper: boolean; version: readonly [number, number]; hasDataOnly: boolean} = {
	hasUpper: true,
	version: [6, 18],
	hasDataOnly: false,
};
const opts = (...args: string[]): MountOption[] => args.map(parseOptionArg);
const codes = (o: MountOption[], c = ctx) => validateOptions(o, c).map((f) => `${f.severity}:${f.code}`);

describe('validateOptions', () => {
	test('known options with good values pass', () => {
		expect(
			codes(
				opts(
					'redirect_dir=on',
					'metacopy=on',
					'index=off',
					'xino=auto',
					'uuid=null',
					'fsync=strict',
					'verity=off',
					'volatile',
					'default_permissions',
					'noatime',
					'ro',
				),
			),
		).toEqual([]);
	});
	test.each([
		[['metacopy=on', 'redirect_dir=follow'], 'metacopy=on,redirect_dir=follow'],
		[['metacopy=on', 'redirect_dir=off'], 'metacopy=on,redirect_dir=off'],
		[['nfs_export=on', 'index=off'], 'nfs_export=on,index=off'],
		[['nfs_export=on', 'metacopy=on'], 'nfs_export=on,metacopy=on'],
		[['userxattr', 'redirect_dir=on'], 'userxattr,redirect_dir=on'],
		[['userxattr', 'redirect_dir=follow'], 'userxattr,redirect_dir=follow'],
		[['userxattr', 'metacopy=on'], 'userxattr,metacopy=on'],
	])('conflict %j', (list, text) => {
		const found = validateOptions(opts(...list), ctx);
		expect(found.map((f) => f.code)).toEqual(['OVL_OPTION_CONFLICT']);
		expect(found[0]?.message).toContain(text);
	});
	test('metacopy=on alone turns redirect_dir on: no conflict', () => expect(codes(opts('metacopy=on'))).toEqual([]));
	test('userxattr with redirect_dir=nofollow is fine', () =>
		expect(codes(opts('userxattr', 'redirect_dir=nofollow'))).toEqual([]));
	test('bad values and unknown keys', () => {
		expect(codes(opts('fsync=ordered'))).toEqual(['error:OVL_OPTION_BAD_VALUE']);
		expect(codes(opts('index'))).toEqual(['error:OVL_OPTION_BAD_VALUE']);
		expect(codes(opts('userxattr=1'))).toEqual(['error:OVL_OPTION_BAD_VALUE']);
		expect(codes(opts('frobnicate=1'))).toEqual(['error:OVL_OPTION_UNKNOWN']);
	});
	test('layer keys are refused as options', () => {
		for (const k of ['lowerdir=/etc', 'upperdir=/etc', 'workdir=/tmp', 'lowerdir+=/x', 'datadir+=/y'])
			expect(codes(opts(k))).toEqual(['error:OVL_OPTION_LAYER_KEY']);
	});
	test('duplicates warn', () => expect(codes(opts('index=on', 'index=off'))).toEqual(['warning:OVL_OPTION_DUPLICATE']));
	test('useless without an upper', () => {
		expect(codes(opts('index=on', 'volatile'), {...ctx, hasUpper: false})).toEqual([
			'info:OVL_OPTION_USELESS',
			'info:OVL_OPTION_USELESS',
		]);
	});
	test('kernel version gates', () => {
		expect(codes(opts('userxattr'), {...ctx, version: [5, 10]})).toEqual(['error:OVL_KERNEL_TOO_OLD']);
		expect(codes([], {...ctx, version: [6, 1], hasDataOnly: true})).toEqual(['error:OVL_KERNEL_TOO_OLD']);
		expect(codes(opts('metacopy=on'), {...ctx, version: [4, 14]})).toEqual(['error:OVL_KERNEL_TOO_OLD']);
	});
});

describe('withDefaults', () => {
	test('adds index=off when the kernel has the parameter and there is an upper', () => {
		expect(withDefaults([], {hasUpper: true, hasIndexParam: true})).toEqual([{key: 'index', value: 'off'}]);
	});
	test('respects the user, read-only mounts, nfs_export and old kernels', () => {
		expect(withDefaults(opts('index=on'), {hasUpper: true, hasIndexParam: true})).toEqual(opts('index=on'));
		expect(withDefaults([], {hasUpper: false, hasIndexParam: true})).toEqual([]);
		expect(withDefaults(opts('nfs_export=on'), {hasUpper: true, hasIndexParam: true})).toEqual(opts('nfs_export=on'));
		expect(withDefaults([], {hasUpper: true, hasIndexParam: false})).toEqual([]);
	});
});
