import {describe, expect, test} from 'vitest';
import type {PathFacts, StackFacts} from '../../src/core/facts.js';
import {parseMountinfo, decodeOverlay} from '../../src/core/mountinfo.js';
import type {MountInfoEntry, OverlayMount, Stack} from '../../src/core/types.js';
import {validateStack} from '../../src/core/validate.js';
import {forceFindings} from '../../src/core/finding.js';

const mounts = parseMountinfo(
	[
		'26 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
		'40 26 0:50 / /mnt/tmpfs rw - tmpfs tmpfs rw',
		'41 26 254:0 /srv /mnt/bind rw - ext4 /dev/vda rw',
		'42 26 0:51 / /mnt/ro ro - ext4 /dev/vdb ro',
		'43 26 0:52 / /mnt/ovl rw - overlay overlay rw,lowerdir=/x/l,upperdir=/x/u,workdir=/x/w',
	].join('\n'),
);
const mountOf = (p: string): MountInfoEntry =>
	[...mounts]
		.reverse()
		.find((m) => p === m.mountPoint || p.startsWith(`${m.mountPoint === '/' ? '' : m.mountPoint}/`))!;

const dir = (p: string, extra: Partial<PathFacts> = {}): PathFacts => ({
	path: p,
	exists: true,
	isDirectory: true,
	realPath: p,
	mount: mountOf(p),
	...extra,
});

function facts(
	stack: Stack,
	over: Partial<StackFacts> = {},
	pathOver: Record<string, Partial<PathFacts>> = {},
): StackFacts {
	const f = (p: string): PathFacts => dir(p, pathOver[p]);
	return {
		lowers: stack.lowers.map((l) => f(l.path)),
		...(stack.upper === undefined ? {} : {upper: f(stack.upper)}),
		...(stack.work === undefined ? {} : {work: {...f(stack.work), entries: [], incompat: [], ...pathOver[stack.work]}}),
		merged: f(stack.merged),
		kernel: {release: '6.18.44', version: [6, 18], overlayListed: true, params: {index: 'N'}, pageSize: 4096},
		host: {euid: 0, inUserNamespace: false, overlays: [], mountinfo: mounts},
		...over,
	};
}

const base: Stack = {
	lowers: [
		{path: '/s/l1', dataOnly: false},
		{path: '/s/l2', dataOnly: false},
	],
	upper: '/s/u',
	work: '/s/w',
	merged: '/s/m',
	options: [],
};
const codes = (stack: Stack, over: Partial<StackFacts> = {}, pathOver: Record<string, Partial<PathFacts>> = {}) =>
	validateStack(stack, facts(stack, over, pathOver)).map((f) => `${f.severity}:${f.code}`);

describe('validateStack', () => {
	test('a clean stack has no findings', () => expect(codes(base)).toEqual([]));

	test('missing lower is an error; missing upper/work/merged will be created', () => {
		expect(codes(base, {}, {'/s/l1': {exists: false, isDirectory: false}})).toContain('error:OVL_LAYER_MISSING');
		expect(codes(base, {}, {'/s/u': {exists: false, isDirectory: false}})).toEqual(['info:OVL_WILL_CREATE']);
	});
	test('missing upper or mount point whose parent is missing too', () => {
		expect(codes(base, {}, {'/s/u': {exists: false, isDirectory: false, parentMissing: true}})).toEqual([
			'error:OVL_PARENT_MISSING',
		]);
		expect(codes(base, {}, {'/s/m': {exists: false, isDirectory: false, parentMissing: true}})).toEqual([
			'error:OVL_PARENT_MISSING',
		]);
	});
	test('a layer that is a file', () =>
		expect(codes(base, {}, {'/s/l2': {isDirectory: false}})).toContain('error:OVL_LAYER_NOT_DIR'));
	test('the same layer twice', () =>
		expect(codes({...base, lowers: [...base.lowers, {path: '/s/l1', dataOnly: false}]})).toContain(
			'error:OVL_LAYER_DUPLICATE',
		));
	test('a symlink to another layer is a duplicate (canonical paths compared)', () => {
		const s = {
			...base,
			lowers: [
				{path: '/s/l1', dataOnly: false},
				{path: '/s/link', dataOnly: false},
			],
		};
		expect(codes(s, {}, {'/s/link': {realPath: '/s/l1'}})).toContain('error:OVL_LAYER_DUPLICATE');
	});
	test('lower inside another lower', () =>
		expect(
			codes({
				...base,
				lowers: [
					{path: '/s/l1', dataOnly: false},
					{path: '/s/l1/sub', dataOnly: false},
				],
			}),
		).toContain('error:OVL_LAYER_OVERLAP'));
	test('upper inside a lower (the kernel accepts it, then ELOOPs)', () => {
		const found = validateStack(
			{...base, upper: '/s/l1/u', work: '/s/l1/w'},
			facts({...base, upper: '/s/l1/u', work: '/s/l1/w'}),
		);
		const f = found.find((x) => x.code === 'OVL_LAYER_OVERLAP' && x.message.includes('upper'));
		expect(f?.message).toMatch(/ELOOP/);
	});
	test('lower inside the upper', () =>
		expect(codes({...base, lowers: [...base.lowers, {path: '/s/u/l', dataOnly: false}]})).toContain(
			'error:OVL_LAYER_OVERLAP',
		));
	test('work inside upper, upper inside work, work == upper', () => {
		expect(codes({...base, work: '/s/u/w'})).toContain('error:OVL_WORK_UPPER_NESTED');
		expect(codes({...base, upper: '/s/w/u'})).toContain('error:OVL_WORK_UPPER_NESTED');
		expect(codes({...base, work: '/s/u'})).toContain('error:OVL_WORK_UPPER_NESTED');
	});
	test('work on another mount (tmpfs)', () =>
		expect(codes({...base, work: '/mnt/tmpfs/w'})).toContain('error:OVL_WORK_NOT_SAME_MOUNT'));
	test('work on a bind mount of the same filesystem: mount ids differ, st_dev does not', () => {
		const found = validateStack({...base, work: '/mnt/bind/w'}, facts({...base, work: '/mnt/bind/w'}));
		expect(found.find((f) => f.code === 'OVL_WORK_NOT_SAME_MOUNT')?.message).toMatch(/bind mount/);
	});
	test('leftover work/incompat/volatile', () => {
		expect(codes(base, {}, {'/s/w': {incompat: ['volatile']}})).toContain('error:OVL_WORK_INCOMPAT');
	});
	test('junk in work is only info', () =>
		expect(codes(base, {}, {'/s/w': {entries: ['work', 'junk']}})).toEqual(['info:OVL_WORK_NOT_EMPTY']));
	test('upper on overlayfs', () =>
		expect(codes({...base, upper: '/mnt/ovl/u', work: '/mnt/ovl/w'})).toContain('error:OVL_UPPER_ON_OVERLAY'));
	test('upper on a read-only mount', () =>
		expect(codes({...base, upper: '/mnt/ro/u', work: '/mnt/ro/w'})).toContain('error:OVL_UPPER_READONLY'));
	test('merged is a layer', () => expect(codes({...base, merged: '/s/l2'})).toContain('error:OVL_MERGED_IS_LAYER'));
	test('merged inside the upper', () =>
		expect(codes({...base, merged: '/s/u/m'})).toContain('error:OVL_MERGED_INSIDE_LAYER'));
	test('more than 500 lowers', () => {
		const lowers = Array.from({length: 501}, (_, i) => ({path: `/s/x${i}`, dataOnly: false}));
		expect(codes({...base, lowers})).toContain('error:OVL_TOO_MANY_LOWERS');
		expect(codes({...base, lowers: lowers.slice(0, 500)})).not.toContain('error:OVL_TOO_MANY_LOWERS');
	});
	test('no upper needs two lowers', () => {
		const ro = {lowers: [{path: '/s/l1', dataOnly: false}], merged: '/s/m', options: []};
		expect(codes(ro)).toContain('error:OVL_TOO_FEW_LOWERS');
		expect(codes({...ro, lowers: base.lowers})).toEqual([]);
	});
	test('no lowers at all', () => expect(codes({...base, lowers: []})).toContain('error:OVL_NO_LOWER'));
	test('data-only layers must be at the bottom, and not alone', () => {
		expect(
			codes({
				...base,
				lowers: [
					{path: '/s/l1', dataOnly: false},
					{path: '/s/d', dataOnly: true},
				],
			}),
		).toContain('error:OVL_DATA_ONLY_NOT_BOTTOM');
		expect(
			codes({
				...base,
				lowers: [
					{path: '/s/d', dataOnly: true},
					{path: '/s/l1', dataOnly: false},
				],
			}),
		).toEqual([]);
		expect(codes({...base, lowers: [{path: '/s/d', dataOnly: true}]})).toContain('error:OVL_ONLY_DATA_LAYERS');
	});
	test('upper without work', () =>
		expect(codes({lowers: base.lowers, upper: '/s/u', merged: '/s/m', options: []})).toContain(
			'error:OVL_MISSING_WORK',
		));
	test('upper already used by another overlay', () => {
		const other = decodeOverlay(
			parseMountinfo('50 26 0:60 / /other rw - overlay overlay rw,lowerdir=/z,upperdir=/s/u,workdir=/s/w2')[0]!,
		) as OverlayMount;
		expect(codes(base, {host: {euid: 0, inUserNamespace: false, overlays: [other], mountinfo: mounts}})).toContain(
			'error:OVL_UPPER_IN_USE',
		);
	});
	test("a lower that is another overlay's upper", () => {
		const other = decodeOverlay(
			parseMountinfo('50 26 0:60 / /other rw - overlay overlay rw,lowerdir=/z,upperdir=/s/l1,workdir=/s/w2')[0]!,
		) as OverlayMount;
		expect(codes(base, {host: {euid: 0, inUserNamespace: false, overlays: [other], mountinfo: mounts}})).toContain(
			'warning:OVL_LOWER_IS_UPPER_ELSEWHERE',
		);
	});
	test('already mounted on merged', () => {
		const other = decodeOverlay(
			parseMountinfo('50 26 0:60 / /s/m rw - overlay overlay rw,lowerdir=/a:/b')[0]!,
		) as OverlayMount;
		expect(codes(base, {host: {euid: 0, inUserNamespace: false, overlays: [other], mountinfo: mounts}})).toContain(
			'error:OVL_ALREADY_MOUNTED',
		);
	});
	test('non-root in the host namespace', () =>
		expect(codes(base, {host: {euid: 1000, inUserNamespace: false, overlays: [], mountinfo: mounts}})).toContain(
			'error:OVL_NEEDS_ROOT',
		));
	test('root in a user namespace without userxattr', () => {
		expect(codes(base, {host: {euid: 0, inUserNamespace: true, overlays: [], mountinfo: mounts}})).toContain(
			'warning:OVL_NEEDS_USERXATTR',
		);
		expect(
			codes(
				{...base, options: [{key: 'userxattr'}]},
				{host: {euid: 0, inUserNamespace: true, overlays: [], mountinfo: mounts}},
			),
		).toEqual([]);
	});
	test('version gates', () => {
		const old = {
			kernel: {release: '5.10.0', version: [5, 10] as const, overlayListed: true, params: {}, pageSize: 4096},
		};
		expect(codes({...base, options: [{key: 'userxattr'}]}, old)).toContain('error:OVL_KERNEL_TOO_OLD');
		expect(
			codes(
				{...base, lowers: [{path: '/s/d', dataOnly: true}, ...base.lowers]},
				{kernel: {...old.kernel, release: '6.1.0', version: [6, 1]}},
			),
		).toContain('error:OVL_KERNEL_TOO_OLD');
	});
	test('--force downgrades what the kernel can judge, not option safety', () => {
		const found = validateStack(
			{...base, work: '/mnt/tmpfs/w', options: [{key: 'lowerdir', value: '/etc'}]},
			facts({...base, work: '/mnt/tmpfs/w'}),
		);
		const forced = forceFindings(found);
		expect(forced.find((f) => f.code === 'OVL_WORK_NOT_SAME_MOUNT')?.severity).toBe('warning');
		expect(forced.find((f) => f.code === 'OVL_OPTION_LAYER_KEY')?.severity).toBe('error');
	});
});

test('userxattr with a tmpfs upper before 6.6 is refused', () => {
	const s: Stack = {...base, upper: '/mnt/tmpfs/u', work: '/mnt/tmpfs/w', options: [{key: 'userxattr'}]};
	const k = (v: [number, number]) => ({
		kernel: {release: v.join('.'), version: v, overlayListed: true, params: {}, pageSize: 4096},
	});
	expect(codes(s, k([6, 1]))).toContain('error:OVL_USERXATTR_TMPFS');
	expect(codes(s, k([6, 6]))).not.toContain('error:OVL_USERXATTR_TMPFS');
	expect(codes({...s, options: []}, k([6, 1]))).not.toContain('error:OVL_USERXATTR_TMPFS');
});
