import {describe, expect, test} from 'vitest';
import {classifyEntry} from '../../src/core/classify.js';
import {actionLine, planCommit} from '../../src/core/commit-plan.js';
import {compareRecords, type TreeFact} from '../../src/core/commit-verify.js';
import type {FileType, LowerHit, RawEntry, StatLite} from '../../src/core/entry.js';
import {origin, st} from '../helpers/report-fixture.js';

// The commit plan from literal upper entries (classified by the real classifier): order, staging,
// hard-link groups, --paths, layered targets, refusals; and the verifier's comparison.

const hit = (layer: number, path: string, type: FileType = 'file'): LowerHit => ({layer, path, stat: st(type)});
const whiteout = (path: string, layer = 1): RawEntry => ({
	path,
	stat: st('char', {perm: 0, size: 0, rdev: 0, ino: 99}),
	xattrs: {},
	otherXattrs: [],
	shadows: [hit(layer, `/l${layer}${path}`)],
});
const file = (path: string, over: Partial<StatLite> = {}, shadow?: LowerHit): RawEntry => ({
	path,
	stat: st('file', over),
	xattrs: shadow ? {origin} : {},
	otherXattrs: [],
	shadows: shadow ? [shadow] : [],
});
const plan = (raws: RawEntry[], target: Parameters<typeof planCommit>[2] = {layer: 1, root: '/l1'}) =>
	planCommit(raws, raws.map(classifyEntry), target);
const ops = (p: ReturnType<typeof plan>): string[] => p.actions.map((a) => `${a.op} ${a.path}`);

describe('planCommit', () => {
	test('redirect sources are staged first, deepest first; entries in path order; dir metadata deepest first, root last', () => {
		const raws: RawEntry[] = [
			{
				path: '/b',
				stat: st('dir', {ino: 2}),
				xattrs: {redirect: '/a', origin},
				otherXattrs: [],
				shadows: [],
				redirectHits: [hit(1, '/l1/a', 'dir')],
			},
			{
				path: '/sub',
				stat: st('dir', {ino: 3}),
				xattrs: {redirect: '/a/s', origin},
				otherXattrs: [],
				shadows: [],
				redirectHits: [hit(1, '/l1/a/s', 'dir')],
			},
			whiteout('/a'),
			file('/b/new', {ino: 4}),
		];
		const p = plan(raws);
		expect(p.refusals).toEqual([]);
		expect(ops(p)).toEqual([
			'stage-dir /a/s',
			'stage-dir /a',
			'remove /a',
			'dir /b',
			'write /b/new',
			'dir /sub',
			'meta /sub',
			'meta /b',
			'meta /',
		]);
	});

	test('hard-link groups: the first name is written, the others link to it, whatever their kind', () => {
		const p = plan([file('/x', {ino: 7, nlink: 2}), file('/y', {ino: 7, nlink: 2})]);
		expect(p.actions.filter((a) => a.op === 'link')).toEqual([
			{op: 'link', path: '/y', to: '/x', why: 'a hard link of /x'},
		]);
	});

	test('a metacopy over its own data is metadata only; one whose data is elsewhere in the target is staged, then written', () => {
		const meta = (path: string, data: string): RawEntry => ({
			path,
			stat: st('file', {blocks: 0, ino: path.length}),
			xattrs: {metacopy: '', origin, ...(data === path ? {} : {redirect: data})},
			otherXattrs: [],
			shadows: [],
			dataHit: hit(1, `/l1${data}`),
		});
		const p = plan([meta('/same', '/same'), meta('/moved-here', '/moved')]);
		expect(ops(p)).toEqual(['stage-data /moved', 'write /moved-here', 'meta /same', 'meta /']);
		expect(actionLine(p.actions[2] as never)).toMatch(
			/^meta +\/same +\(metacopy: the data is already here; metadata only\)$/,
		);
	});

	test('--paths: only those subtrees; ancestors only made to exist; a redirect from outside the selection is refused', () => {
		const raws: RawEntry[] = [
			{
				path: '/etc',
				stat: st('dir', {ino: 2}),
				xattrs: {opaque: 'y'},
				otherXattrs: [],
				shadows: [hit(1, '/l1/etc', 'dir')],
			},
			file('/etc/app', {ino: 3}),
			file('/etc/other', {ino: 4}),
			{
				path: '/etc/moved',
				stat: st('dir', {ino: 5}),
				xattrs: {redirect: '/old', origin},
				otherXattrs: [],
				shadows: [],
				redirectHits: [hit(1, '/l1/old', 'dir')],
			},
		];
		expect(ops(plan(raws, {layer: 1, root: '/l1', paths: ['/etc/app']}))).toEqual(['dir /etc', 'write /etc/app']);
		const p = plan(raws, {layer: 1, root: '/l1', paths: ['/etc/moved']});
		expect(p.refusals.map((r) => r.path)).toEqual(['/etc/moved']);
	});

	test('a target over other layers: whiteouts where a layer below holds the path, emptied dirs marked opaque', () => {
		const raws: RawEntry[] = [
			whiteout('/gone', 2),
			whiteout('/only-top', 2),
			{
				path: '/d',
				stat: st('dir', {ino: 2}),
				xattrs: {opaque: 'y'},
				otherXattrs: [],
				shadows: [hit(1, '/l1/d', 'dir')],
			},
		];
		const p = plan(raws, {layer: 2, root: '/l2', below: {has: (path) => path === '/gone'}});
		expect(ops(p)).toEqual(['dir /d', 'remove /gone', 'whiteout /gone', 'remove /only-top', 'meta /d', 'meta /']);
		expect(p.actions.find((a) => a.op === 'dir')).toMatchObject({clear: true, opaque: true});
	});

	test('anomalies are refused, never guessed at', () => {
		const p = plan([{path: '/x', stat: st('file', {size: 9}), xattrs: {whiteout: ''}, otherXattrs: [], shadows: []}]);
		expect(p.refusals).toEqual([{path: '/x', why: expect.stringMatching(/^an anomaly/)}]);
	});
});

describe('compareRecords', () => {
	const fact = (over: Partial<TreeFact> = {}): TreeFact => ({
		type: 'file',
		perm: 0o644,
		uid: 0,
		gid: 0,
		size: 1,
		mtime: '1',
		rdev: 0,
		hash: 'h',
		xattrs: '',
		...over,
	});
	test('every field, missing and extra paths; a hash only where both sides have one', () => {
		const expected = new Map([
			['/a', fact()],
			['/b', fact({perm: 0o4755})],
			['/c', fact()],
		]);
		const actual = new Map([
			['/a', (({hash: _, ...rest}) => rest)(fact())],
			['/b', fact({perm: 0o755, mtime: '2'})],
			['/d', fact()],
		]);
		expect(compareRecords(expected, actual)).toEqual([
			'/b: perm 755, the merged view has 4755',
			'/b: mtime 2, the merged view has 1',
			'/c: missing (the merged view has a file)',
			'/d: a file the merged view does not have',
		]);
	});
});
