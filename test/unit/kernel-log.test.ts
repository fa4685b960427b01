import {describe, expect, test} from 'vitest';
import {isOverlayLine, kernelLineFinding} from '../../src/core/kernel-log.js';
import {commonAncestor, isSameOrInside, resolveInside} from '../../src/core/paths.js';

describe('kernelLineFinding', () => {
	test.each([
		['overlayfs: workdir and upperdir must reside under the same mount', 'OVL_WORK_NOT_SAME_MOUNT', 'error'],
		["overlayfs: failed to resolve '/tmp/exp/l,upperdir=/tmp/exp/u': -2", 'OVL_LAYER_MISSING', 'error'],
		['overlayfs: too many lower directories, limit is 500', 'OVL_TOO_MANY_LOWERS', 'error'],
		['overlayfs: overlapping lowerdir path', 'OVL_LAYER_OVERLAP', 'error'],
		['overlayfs: conflicting upperdir path', 'OVL_LAYER_DUPLICATE', 'error'],
		['overlay: filesystem on /x/u not supported as upperdir', 'OVL_UPPER_ON_OVERLAY', 'error'],
		["overlayfs: overlay with incompat feature 'volatile' cannot be mounted", 'OVL_WORK_INCOMPAT', 'error'],
		['overlayfs: conflicting options: userxattr,metacopy=on', 'OVL_OPTION_CONFLICT', 'error'],
		[
			'overlayfs: /x/u is in-use as upperdir/workdir of another mount, accessing files from both mounts will result in undefined behavior.',
			'OVL_UPPER_IN_USE',
			'warning',
		],
		[
			"overlayfs: /x/u is in-use as upperdir/workdir of another mount, mount with '-o index=off' to override exclusive upperdir protection.",
			'OVL_UPPER_IN_USE',
			'error',
		],
		["overlay: Unknown parameter 'frob'", 'OVL_OPTION_INVALID', 'error'],
		['overlayfs: upper fs does not support RENAME_WHITEOUT.', 'OVL_UPPER_DEGRADED', 'warning'],
		['overlayfs: "xino" feature enabled using 2 upper inode bits.', 'OVL_KERNEL_MESSAGE', 'info'],
	])('%s', (line, code, severity) => {
		const f = kernelLineFinding(line);
		expect([f.code, f.severity]).toEqual([code, severity]);
		expect(f.message).toBe(`kernel: ${line}`);
	});
	test('isOverlayLine', () => {
		expect(isOverlayLine('overlayfs: x')).toBe(true);
		expect(isOverlayLine('overlay: x')).toBe(true);
		expect(isOverlayLine('EXT4-fs (vda): mounted')).toBe(false);
	});
});

describe('paths', () => {
	test('isSameOrInside does not confuse prefixes', () => {
		expect(isSameOrInside('/a/b', '/a')).toBe(true);
		expect(isSameOrInside('/a', '/a')).toBe(true);
		expect(isSameOrInside('/ab', '/a')).toBe(false);
		expect(isSameOrInside('/x', '/')).toBe(true);
	});
	test('commonAncestor', () => {
		expect(commonAncestor(['/s/a/x', '/s/a/y', '/s/b'])).toBe('/s');
		expect(commonAncestor(['/a', '/b'])).toBe('/');
		expect(commonAncestor(['/s/ab', '/s/ac'])).toBe('/s');
	});
	test('resolveInside', () => {
		expect(resolveInside('/r', 'a/b')).toBe('/r/a/b');
		expect(resolveInside('/r', 'a/../b')).toBe('/r/b');
		expect(resolveInside('/r', '..')).toBeUndefined();
		expect(resolveInside('/r', '.')).toBeUndefined();
		expect(resolveInside('/r', '/etc')).toBeUndefined();
		expect(resolveInside('/r', 'a\0b')).toBeUndefined();
	});
});

test('data-only layers without metacopy (Debian 6.12)', () => {
	expect(kernelLineFinding('overlayfs: lower data-only dirs require metacopy support.').code).toBe(
		'OVL_DATA_ONLY_NEEDS_METACOPY',
	);
});
