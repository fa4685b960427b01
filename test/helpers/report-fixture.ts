import {classifyEntry} from '../../src/core/classify.js';
import type {FileType, LowerHit, RawEntry, StatLite} from '../../src/core/entry.js';
import {summarize, type Report} from '../../src/core/report.js';
import type {Finding} from '../../src/core/types.js';

/** A plausible lstat of one upper or lower entry; `over` sets what a test is about. */
export const st = (type: FileType, over: Partial<StatLite> = {}): StatLite => ({
	type,
	perm: type === 'dir' ? 0o755 : 0o644,
	uid: 0,
	gid: 0,
	size: 4,
	blocks: 8,
	nlink: 1,
	ino: 1,
	dev: 1,
	rdev: 0,
	mtimeMs: 1_700_000_000_000,
	...over,
});
const hit = (layer: number, type: FileType, size = 4): LowerHit => ({
	layer,
	path: `/l${layer}`,
	stat: st(type, {size}),
});
/** An overlay.origin value (a file handle) as the kernel writes it. */
export const origin = `00fb1d0001${'00'.repeat(16)}51210000aabbccdd`;

/** The seed experiment plus one of each kind, as a Report built by the real classifier. */
export function sampleReport(findings: Finding[] = []): Report {
	const raws: RawEntry[] = [
		{
			path: '/a',
			stat: st('char', {perm: 0, size: 0, blocks: 0, nlink: 2}),
			xattrs: {},
			otherXattrs: [],
			shadows: [hit(1, 'file')],
		},
		{path: '/etc', stat: st('dir'), xattrs: {origin, impure: 'y'}, otherXattrs: [], shadows: [hit(1, 'dir')]},
		{
			path: '/etc/conf',
			stat: st('file', {size: 40, perm: 0o600}),
			xattrs: {origin},
			otherXattrs: [],
			shadows: [hit(1, 'file', 30)],
		},
		{path: '/etc/new.d', stat: st('dir'), xattrs: {opaque: 'y'}, otherXattrs: [], shadows: []},
		{path: '/etc/new.d/x', stat: st('file'), xattrs: {}, otherXattrs: [], shadows: []},
		{
			path: '/meta',
			stat: st('file', {blocks: 0}),
			xattrs: {metacopy: '', origin},
			otherXattrs: [],
			shadows: [hit(2, 'file', 4096)],
			dataHit: hit(2, 'file', 4096),
		},
		{
			path: '/moved',
			stat: st('dir'),
			xattrs: {redirect: 'old', origin},
			otherXattrs: [],
			shadows: [],
			redirectHits: [hit(1, 'dir')],
		},
		{
			path: '/old',
			stat: st('char', {perm: 0, size: 0, blocks: 0}),
			xattrs: {},
			otherXattrs: [],
			shadows: [hit(1, 'dir')],
		},
	];
	const entries = raws.map(classifyEntry);
	return {
		schema: 'ovl.inspect/v1',
		mount: {
			mountPoint: '/srv/demo/merged',
			mountId: 44,
			options: ['redirect_dir=on', 'uuid=on'],
			xattrNamespace: 'trusted',
			source: 'mountinfo',
			layers: [
				{role: 'upper', layer: 0, path: '/srv/demo/upper'},
				{role: 'lower', layer: 2, path: '/srv/demo/lower2'},
				{role: 'lower', layer: 1, path: '/srv/demo/lower1'},
			],
		},
		summary: summarize(
			entries,
			raws.map((r) => r.path),
		),
		entries,
		findings,
	};
}

/** A report with n new files spread over 100 directories. */
export function bigReport(n: number): Report {
	const base = sampleReport();
	const entries = [];
	for (let d = 0; d < 100; d++)
		entries.push(
			classifyEntry({
				path: `/d${String(d).padStart(3, '0')}`,
				stat: st('dir'),
				xattrs: {},
				otherXattrs: [],
				shadows: [],
			}),
		);
	for (let i = 0; i < n; i++)
		entries.push(
			classifyEntry({
				path: `/d${String(i % 100).padStart(3, '0')}/f${String(i).padStart(6, '0')}`,
				stat: st('file'),
				xattrs: {},
				otherXattrs: [],
				shadows: [],
			}),
		);
	entries.sort((a, b) => (a.path < b.path ? -1 : 1));
	return {
		...base,
		entries,
		summary: summarize(
			entries,
			entries.map((e) => e.path),
		),
	};
}
