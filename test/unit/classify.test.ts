import {describe, expect, test} from 'vitest';
import {
	classifyEntry,
	compareWithLower,
	describeOrigin,
	isOrphanCopy,
	linkOrigin,
	noteLowerInodes,
	parseMetacopy,
	type OriginHit,
} from '../../src/core/classify.js';
import {resolveRedirect} from '../../src/core/paths.js';
import {collapseChanges, diffEntries, originInode} from '../../src/core/diff.js';
import type {Entry, FileType, LowerHit, RawEntry, ScannedEntry, StatLite} from '../../src/core/entry.js';
import {inspectFindings, summarize} from '../../src/core/report.js';

const st = (type: FileType, over: Partial<StatLite> = {}): StatLite => ({
	type,
	perm: 0o644,
	uid: 0,
	gid: 0,
	size: 4,
	blocks: 8,
	nlink: 1,
	ino: 10,
	dev: 1,
	rdev: 0,
	mtimeMs: 1000,
	...over,
});
const hit = (layer: number, type: FileType, over: Partial<StatLite> = {}): LowerHit => ({
	layer,
	path: `/l${layer}/x`,
	stat: st(type, {ino: 100 + layer, ...over}),
});
const raw = (
	path: string,
	stat: StatLite,
	xattrs: Record<string, string> = {},
	shadows: LowerHit[] = [],
	extra: Partial<RawEntry> = {},
): RawEntry => ({path, stat, xattrs, otherXattrs: [], shadows, ...extra});
// ext4, null uuid, FILEID_INO32_GEN for inode 0x2151 (as captured on 6.18)
const origin = `00fb1d0001${'00'.repeat(16)}51210000aabbccdd`;

describe('classifyEntry', () => {
	test('0/0 char device is a whiteout whatever its mode and nlink', () => {
		const e = classifyEntry(raw('/a', st('char', {perm: 0, nlink: 3}), {}, [hit(1, 'file')]));
		expect(e).toMatchObject({kind: 'whiteout', shadows: [1]});
		expect(e.reasons).toEqual(['char device 0:0', "nlink 3: shares the work dir's whiteout inode", 'hides lower 1']);
		expect(e.hardlink).toBeUndefined();
	});
	test('a char device that is not 0/0 is a new device node', () => {
		expect(classifyEntry(raw('/tty', st('char', {rdev: 0x0501}))).kind).toBe('new');
	});
	test('xattr whiteout in the upper, and a malformed one', () => {
		expect(classifyEntry(raw('/x', st('file', {size: 0}), {whiteout: ''})).kind).toBe('xwhiteout');
		expect(classifyEntry(raw('/x', st('file', {size: 3}), {whiteout: ''})).kind).toBe('anomaly');
	});
	test('opaque dir: replaced vs new', () => {
		expect(classifyEntry(raw('/d', st('dir'), {opaque: 'y'}, [hit(1, 'dir')]))).toMatchObject({
			kind: 'opaque-dir',
			opaque: 'replaced',
		});
		expect(classifyEntry(raw('/d', st('dir'), {opaque: 'y'}))).toMatchObject({kind: 'opaque-dir', opaque: 'new'});
	});
	test('opaque=x in the upper is ignored', () => {
		const e = classifyEntry(raw('/d', st('dir'), {opaque: 'x'}, [hit(1, 'dir')]));
		expect(e.kind).toBe('merge-dir');
		expect(e.reasons.join(';')).toMatch(/opaque=x \(not "y"/);
	});
	test('redirect dir, relative and absolute, with and without an origin in the lowers', () => {
		expect(
			classifyEntry(raw('/p/new', st('dir'), {redirect: 'old', origin}, [], {redirectHits: [hit(2, 'dir')]})),
		).toMatchObject({
			kind: 'redirect-dir',
			redirect: {value: 'old', absolute: false, origin: '/p/old', originLayers: [2]},
		});
		expect(classifyEntry(raw('/q/new', st('dir'), {redirect: '/a/b'}, [], {redirectHits: []}))).toMatchObject({
			kind: 'redirect-dir',
			redirect: {absolute: true, origin: '/a/b', originLayers: []},
		});
	});
	test('merge dir with and without origin; origin without lower is an anomaly', () => {
		expect(classifyEntry(raw('/d', st('dir'), {origin, impure: 'y'}, [hit(1, 'dir')])).kind).toBe('merge-dir');
		expect(classifyEntry(raw('/d', st('dir'), {}, [hit(1, 'dir')])).reasons[0]).toMatch(/no origin xattr/);
		expect(classifyEntry(raw('/d', st('dir'), {origin})).kind).toBe('anomaly');
		expect(classifyEntry(raw('/d', st('dir'))).kind).toBe('new');
	});
	test('metacopy: digest, redirect, missing data', () => {
		expect(
			classifyEntry(
				raw('/m', st('file'), {metacopy: '', origin}, [hit(1, 'file', {size: 99})], {
					dataHit: hit(1, 'file', {size: 99}),
				}),
			),
		).toMatchObject({kind: 'metacopy', metacopy: {dataLayer: 1, lowerSize: 99}});
		const digest = classifyEntry(raw('/m', st('file'), {metacopy: '0008000101020304'}, [], {dataHit: hit(1, 'file')}));
		expect(digest.metacopy?.digest).toBe('alg 1:01020304');
		const moved = classifyEntry(
			raw('/dir/new', st('file'), {metacopy: '', redirect: '/old'}, [], {dataHit: hit(1, 'file')}),
		);
		expect(moved).toMatchObject({kind: 'metacopy', origin: '/old'});
		expect(classifyEntry(raw('/m', st('file'), {metacopy: ''})).metacopy?.dataLayer).toBeUndefined();
		expect(classifyEntry(raw('/m', st('file'), {metacopy: '0102'})).kind).toBe('anomaly');
	});
	test('copy-up: changes computed from metadata only', () => {
		const lower = hit(1, 'file', {size: 4, mtimeMs: 1000});
		expect(classifyEntry(raw('/f', st('file', {size: 9, mtimeMs: 2000}), {origin}, [lower])).copyUp?.changes).toEqual([
			'data',
			'mtime',
		]);
		expect(classifyEntry(raw('/f', st('file', {perm: 0o600}), {origin}, [lower])).copyUp?.changes).toEqual(['mode']);
		expect(classifyEntry(raw('/f', st('file', {uid: 5}), {origin}, [lower])).copyUp?.changes).toEqual(['owner']);
		expect(
			classifyEntry(raw('/f', st('file'), {origin}, [lower], {otherXattrs: ['user.a=01'], shadowXattrs: []})).copyUp
				?.changes,
		).toEqual(['xattrs']);
		expect(classifyEntry(raw('/f', st('file'), {origin}, [lower], {contentDiffers: true})).copyUp?.changes).toEqual([
			'data',
		]);
	});
	test('a hard link copied up with index=off has no origin but a lower at its path', () => {
		const e = classifyEntry(raw('/h', st('file', {nlink: 2}), {}, [hit(1, 'file', {nlink: 2})]));
		expect(e).toMatchObject({kind: 'copy-up', copyUp: {withOrigin: false}, hardlink: {nlink: 2, indexed: false}});
		expect(e.reasons.join(' ')).toMatch(/index=off gets no origin/);
	});
	test('indexed hard link', () => {
		expect(classifyEntry(raw('/h', st('file', {nlink: 3}), {origin, nlink: 'U+0'}, [hit(1, 'file')])).hardlink).toEqual(
			{nlink: 3, indexed: true},
		);
	});
	test('a file replacing a lower dir is new (type change)', () => {
		expect(classifyEntry(raw('/x', st('file'), {}, [hit(1, 'dir')])).kind).toBe('new');
	});
	test('fifos, sockets and symlinks classify like files', () => {
		expect(classifyEntry(raw('/p', st('fifo'), {origin}, [hit(1, 'fifo')])).kind).toBe('copy-up');
		expect(classifyEntry(raw('/s', st('socket'))).kind).toBe('new');
		expect(classifyEntry(raw('/l', st('symlink'))).kind).toBe('new');
	});
});

describe('helpers', () => {
	test('resolveRedirect', () => {
		expect(resolveRedirect('/a/b/new', 'old')).toBe('/a/b/old');
		expect(resolveRedirect('/new', 'old')).toBe('/old');
		expect(resolveRedirect('/a/new', '/x/y')).toBe('/x/y');
	});
	test('origin handles', () => {
		expect(describeOrigin(origin)).toBe('fh type 1 uuid null fid 51210000aabbccdd');
		expect(describeOrigin('')).toMatch(/unknown/);
		expect(originInode(origin)).toBe(0x2151);
		expect(originInode('00ff')).toBeUndefined();
	});
	test('origin handles read in place agree with the bytes read as a Buffer', () => {
		const uuid = '0123456789abcdef0123456789abcdef';
		const handle = `00fb2100${'02'}${uuid}${'aabbccdd'}`;
		expect(describeOrigin(handle)).toBe(`fh type 2 uuid ${uuid} fid aabbccdd`);
		// Upper-case hex (not what the scan gives) takes the Buffer path to the same text.
		expect(describeOrigin(handle.toUpperCase())).toBe(`fh type 2 uuid ${uuid} fid aabbccdd`);
		expect(describeOrigin(`00fa2100${'02'}${uuid}`)).toBe(`unparsed handle 00fa2100${'02'}${uuid}`);
		expect(describeOrigin('00fb21')).toBe('unparsed handle 00fb21');
	});
	test('parseMetacopy', () => {
		expect(parseMetacopy('')).toEqual({valid: true});
		expect(parseMetacopy('000501')).toEqual({valid: false});
	});
	test('compareWithLower ignores dir size, notices dir mtime', () => {
		expect(compareWithLower(st('dir', {size: 8192}), st('dir', {size: 4096}), [], [])).toEqual([]);
		expect(compareWithLower(st('dir', {mtimeMs: 5}), st('dir'), [], [])).toEqual(['mtime']);
		expect(compareWithLower(st('file'), st('symlink'), [], [])).toEqual(['type']);
	});
	test('linkOrigin finds the original of a renamed copy-up by inode, among the lower files noted', () => {
		const whiteout = raw('/old', st('char', {perm: 0}), {}, [hit(1, 'file', {ino: 0x2151, size: 77})]);
		const moved = raw('/new', st('file'), {origin});
		const orphan = classifyEntry(moved);
		expect(isOrphanCopy(orphan)).toBe(true);
		const byInode = new Map<number, OriginHit>();
		// Only the inodes some origin names are kept.
		noteLowerInodes(whiteout, byInode, new Set([0x2151]));
		noteLowerInodes(raw('/x', st('file'), {}, [hit(1, 'file', {ino: 9})]), byInode, new Set([0x2151]));
		expect([...byInode.keys()]).toEqual([0x2151]);
		expect(linkOrigin(orphan, moved, byInode, originInode).copyUp).toMatchObject({fromLayer: 1, lowerSize: 77});
		expect(linkOrigin(orphan, moved, new Map(), originInode)).toBe(orphan);
	});
});

describe('diffEntries', () => {
	const scanned = (r: RawEntry, extra: Partial<ScannedEntry> = {}): ScannedEntry => ({...r, ...extra});
	test('A/C/D, hidden and revealed paths, and renames', () => {
		const entries: ScannedEntry[] = [
			scanned(raw('/gone', st('char', {perm: 0}), {}, [hit(1, 'dir')]), {
				before: st('dir', {ino: 7}),
				hidden: ['/gone/a', '/gone/b'],
			}),
			scanned(raw('/new', st('file'))),
			scanned(raw('/same', st('file'), {origin}, [hit(1, 'file')]), {before: st('file')}),
			scanned(raw('/chmod', st('file', {perm: 0o600}), {origin}, [hit(1, 'file')]), {before: st('file')}),
			scanned(raw('/ren', st('dir'), {redirect: 'gone'}, [], {redirectHits: [hit(1, 'dir')]}), {
				revealed: [
					{path: '/ren/a', hit: st('file'), same: false},
					{path: '/ren/b', hit: st('file'), same: false},
				],
			}),
		];
		const set = diffEntries(entries, entries.map(classifyEntry));
		expect(set.changes.map((c) => `${c.op} ${c.path}`)).toEqual([
			'C /chmod',
			'D /gone',
			'D /gone/a',
			'D /gone/b',
			'A /new',
			'A /ren',
			'A /ren/a',
			'A /ren/b',
		]);
		expect(set.renames).toEqual([{from: '/gone', to: '/ren', type: 'dir'}]);
		expect(collapseChanges(set).map((l) => `${l.op} ${l.path} ${l.detail}`.trim())).toEqual([
			'C /chmod mode',
			'A /new',
			'R /ren from /gone',
		]);
	});
	test('each change is tagged with the first rename at it or an ancestor, never a sibling sharing a prefix', () => {
		const entries: ScannedEntry[] = [];
		for (let n = 0; n < 30; n++) {
			entries.push(
				scanned(raw(`/d${n}`, st('char', {perm: 0}), {}, [hit(1, 'dir')]), {
					before: st('dir', {ino: 1000 + n}),
					hidden: [`/d${n}/f`],
				}),
			);
			// Renamed twice over: /r<n> from /d<n>, and /r<n>/in from /d<n + 1> (the second claim on it).
			entries.push(
				scanned(raw(`/r${n}`, st('dir'), {redirect: `/d${n}`}, [], {redirectHits: [hit(1, 'dir')]}), {
					revealed: [{path: `/r${n}/f`, hit: st('file'), same: false}],
				}),
			);
			entries.push(
				scanned(raw(`/r${n}/in`, st('dir'), {redirect: `/d${(n + 1) % 30}`}, [], {redirectHits: [hit(1, 'dir')]})),
			);
		}
		const set = diffEntries(entries, entries.map(classifyEntry));
		expect(set.renames.length).toBe(60);
		const under = (p: string, root: string): boolean => p === root || p.startsWith(`${root}/`);
		for (const c of set.changes) {
			const r = set.renames.find((x) => under(c.path, x.from) || under(c.path, x.to));
			expect(c.rename, c.path).toBe(r && c.op !== 'C' ? `${r.from} → ${r.to}` : undefined);
		}
		expect(set.changes.find((c) => c.path === '/d1/f')?.rename).toBe('/d1 → /r0/in');
		expect(set.changes.find((c) => c.path === '/r10/in')?.rename).toBe('/d10 → /r10');
	});
	test('a same-size file with a new mtime: data may differ, unless --content compared it', () => {
		const touched = (extra: Partial<ScannedEntry> = {}): ScannedEntry =>
			scanned(raw('/f', st('file', {mtimeMs: 2000}), {origin}, [hit(1, 'file')]), {before: st('file'), ...extra});
		const unknown = diffEntries([touched()], [classifyEntry(touched())]);
		expect(unknown.changes).toEqual([{op: 'C', path: '/f', type: 'file', changes: ['mtime'], dataUnknown: true}]);
		expect(collapseChanges(unknown)[0]?.detail).toBe('mtime (data may differ: same size; --content checks)');
		const same = touched({contentDiffers: false});
		expect(diffEntries([same], [classifyEntry(same)]).changes[0]).not.toHaveProperty('dataUnknown');
		const grown = scanned(raw('/f', st('file', {mtimeMs: 2000, size: 9}), {origin}, [hit(1, 'file')]), {
			before: st('file'),
		});
		expect(collapseChanges(diffEntries([grown], [classifyEntry(grown)]))[0]?.detail).toBe('data,mtime');
	});
});

describe('summary and findings', () => {
	test('hard links counted once, duplicated and metacopy-saved bytes', () => {
		const a = classifyEntry(
			raw('/a', st('file', {blocks: 8, nlink: 2, ino: 5}), {origin}, [hit(1, 'file', {size: 4000})]),
		);
		const b = classifyEntry(
			raw('/b', st('file', {blocks: 8, nlink: 2, ino: 5}), {origin}, [hit(1, 'file', {size: 4000})]),
		);
		const m = classifyEntry(
			raw('/m', st('file', {blocks: 0}), {metacopy: ''}, [], {dataHit: hit(1, 'file', {size: 1 << 20})}),
		);
		const s = summarize([a, b, m], ['1:5', '1:5', '1:6']);
		expect(s).toMatchObject({
			entries: 3,
			upperBytes: 4096,
			upperInodes: 2,
			duplicatedBytes: 4000,
			metacopySavedBytes: 1 << 20,
		});
		expect(s.counts).toMatchObject({'copy-up': 2, metacopy: 1, whiteout: 0});
	});
	test('findings', () => {
		const entries = [
			classifyEntry(raw('/orphan', st('char', {perm: 0}))),
			classifyEntry(raw('/r1', st('dir'), {redirect: '/o'}, [], {redirectHits: [hit(1, 'dir')]})),
			classifyEntry(raw('/r2', st('dir'), {redirect: '/o'}, [], {redirectHits: [hit(1, 'dir')]})),
			classifyEntry(raw('/m', st('file'), {metacopy: ''})),
		];
		const codes = inspectFindings(entries, {
			incompat: ['volatile'],
			newestLowerMtimeMs: Date.parse('2026-01-02'),
			mountedAt: '2026-01-01T00:00:00Z',
			sharedWith: ['/x'],
			space: {blocksFree: 1, blocksTotal: 100, blockSize: 4096, inodesFree: 1, inodesTotal: 100},
		}).map((f) => f.code);
		expect(codes).toEqual([
			'OVL_ORPHAN_WHITEOUT',
			'OVL_METACOPY_NO_DATA',
			'OVL_DUPLICATE_REDIRECT',
			'OVL_WORK_INCOMPAT',
			'OVL_LOWER_CHANGED',
			'OVL_UPPER_SHARED',
			'OVL_UPPER_LOW_SPACE',
			'OVL_UPPER_LOW_INODES',
		]);
	});
});

describe('scanProgress', async () => {
	const {scanProgress} = await import('../../src/ui/progress.js');
	test('throttled to 10 per second, one line, cleared at the end; silent when disabled', () => {
		const out: string[] = [];
		let t = 0;
		const p = scanProgress(
			true,
			(s) => out.push(s),
			() => t,
		);
		t = 150;
		p.onProgress(100, '/a');
		t = 200;
		p.onProgress(200, '/b');
		t = 300;
		p.onProgress(300, '/c');
		p.done();
		expect(out).toEqual([
			'\r\u001B[K scanning: 100 entries, 667/s · /a',
			'\r\u001B[K scanning: 300 entries, 1000/s · /c',
			'\r\u001B[K',
		]);
		const quiet: string[] = [];
		const q = scanProgress(false, (s) => quiet.push(s));
		q.onProgress(1, '/');
		q.done();
		expect(quiet).toEqual([]);
	});
});

describe('Entry carries its rules in its type', () => {
	const base = {path: '/a', type: 'file' as const, reasons: [], shadows: [], size: 0, bytes: 0, xattrs: {}};
	const copyUp = {fromLayer: 1, lowerSize: 0, changes: [], withOrigin: true};
	test('a copy-up has a copyUp record; a new entry cannot (checked by tsc -p test: npm run typecheck)', () => {
		const ok: Entry = {...base, kind: 'copy-up', copyUp};
		// @ts-expect-error a `new` entry cannot carry a copyUp record
		const newWithCopyUp: Entry = {...base, kind: 'new', copyUp};
		// @ts-expect-error a copy-up without its record
		const bareCopyUp: Entry = {...base, kind: 'copy-up'};
		// @ts-expect-error a metacopy payload on an opaque dir
		const opaqueMeta: Entry = {...base, type: 'dir', kind: 'opaque-dir', opaque: 'new', metacopy: {}};
		expect([ok, newWithCopyUp, bareCopyUp, opaqueMeta].map((e) => e.kind)).toEqual([
			'copy-up',
			'new',
			'copy-up',
			'opaque-dir',
		]);
	});
});
