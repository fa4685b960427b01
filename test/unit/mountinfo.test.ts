import {describe, expect, test} from 'vitest';
import {
	decodeOverlay,
	mountContaining,
	parseMountinfo,
	parseMountinfoLine,
	topMountAt,
	unescapeOctal,
} from '../../src/core/mountinfo.js';

// Real lines captured on 6.18.44 (paths from ovl's own experiments), plus moby's edge cases.
const lines = {
	escaped: String.raw`45 26 0:38 / /tmp/exp/m rw,relatime - overlay overlay rw,lowerdir=/tmp/exp/l\134\054ro:/tmp/exp/l2,upperdir=/tmp/exp/u,workdir=/tmp/exp/w,uuid=on`,
	colon: String.raw`44 26 0:38 / /tmp/exp/m rw,relatime - overlay overlay rw,lowerdir=/tmp/exp/l\134:c:/tmp/exp/l2,upperdir=/tmp/exp/u,workdir=/tmp/exp/w`,
	backslash: String.raw`44 26 0:38 / /tmp/exp/m rw,relatime - overlay overlay rw,lowerdir=/tmp/exp/l\134\134b:/tmp/exp/l2,upperdir=/tmp/exp/u,workdir=/tmp/exp/w`,
	newline: String.raw`44 26 0:38 / /tmp/exp/m rw,relatime - overlay overlay rw,lowerdir=/tmp/exp/l2:/tmp/exp/nl\012x,upperdir=/tmp/exp/u,workdir=/tmp/exp/w`,
	space: String.raw`51 26 0:40 / /tmp/my\040mount rw,relatime shared:1 - overlay overlay rw,lowerdir=/tmp/a\040b:/tmp/c,upperdir=/tmp/u,workdir=/tmp/w,userxattr`,
	docker: String.raw`1288 29 0:93 / /var/lib/docker/overlay2/4c1b/merged rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/WUS2Z3K5ZGD2JYP6YRTLJMPXGM:/var/lib/docker/overlay2/l/7FR5ZO3QZCCJGTLD6X6ZRJ6IHM,upperdir=/var/lib/docker/overlay2/4c1b/diff,workdir=/var/lib/docker/overlay2/4c1b/work,index=off`,
	relative: String.raw`60 26 0:41 / /srv/m rw,relatime - overlay overlay rw,lowerdir=l/ABC:l/DEF,upperdir=4c1b/diff,workdir=4c1b/work`,
	dataOnly: String.raw`61 26 0:42 / /srv/d ro,relatime - overlay overlay ro,lowerdir=/l1:/l2::/d1::/d2,redirect_dir=on`,
	fd: String.raw`62 26 0:43 / /tmp/h/m rw,relatime - overlay overlay rw,lowerdir=3:4:5,upperdir=6,workdir=7,uuid=on`,
	emptySource: '279 23 0:108 / /tmp/bb rw,relatime - tmpfs  rw',
	ext4: '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
};

describe('unescapeOctal', () => {
	test.each([
		[String.raw`a\040b`, 'a b'],
		[String.raw`a\054b`, 'a,b'],
		[String.raw`a\134b`, 'a\\b'],
		[String.raw`a\012b`, 'a\nb'],
		[String.raw`\303\274`, 'ü'],
		[String.raw`no\escape`, String.raw`no\escape`],
		[String.raw`trailing\04`, String.raw`trailing\04`],
	])('%s', (input, output) => expect(unescapeOctal(input)).toBe(output));
});

describe('parseMountinfoLine', () => {
	test('splits fields and optional fields', () => {
		const e = parseMountinfoLine(lines.space);
		expect(e).toMatchObject({
			mountId: 51,
			parentId: 26,
			majorMinor: '0:40',
			root: '/',
			mountPoint: '/tmp/my mount',
			optionalFields: ['shared:1'],
			fsType: 'overlay',
			source: 'overlay',
		});
	});
	test('keeps an empty source field (kernel < 5.1)', () => {
		expect(parseMountinfoLine(lines.emptySource)).toMatchObject({fsType: 'tmpfs', source: '', superOptions: ['rw']});
	});
	test('rejects garbage', () => expect(parseMountinfoLine('not a mountinfo line')).toBeUndefined());
	test('parseMountinfo skips blank lines', () =>
		expect(parseMountinfo(`${lines.ext4}\n\n${lines.escaped}\n`)).toHaveLength(2));
});

const decode = (line: string) => {
	const e = parseMountinfoLine(line);
	if (!e) throw new Error('unparsed');
	const o = decodeOverlay(e);
	if (!o) throw new Error('not overlay');
	return o;
};

describe('decodeOverlay', () => {
	test('\\134\\054 is an escaped comma inside a layer name', () => {
		expect(decode(lines.escaped).layers.lowers.map((l) => l.path)).toEqual(['/tmp/exp/l,ro', '/tmp/exp/l2']);
	});
	test('\\134: is an escaped colon', () => {
		expect(decode(lines.colon).layers.lowers.map((l) => l.path)).toEqual(['/tmp/exp/l:c', '/tmp/exp/l2']);
	});
	test('\\134\\134 is a literal backslash', () => {
		expect(decode(lines.backslash).layers.lowers[0]?.path).toBe('/tmp/exp/l\\b');
	});
	test('newline and space in names', () => {
		expect(decode(lines.newline).layers.lowers[1]?.path).toBe('/tmp/exp/nl\nx');
		expect(decode(lines.space).layers.lowers[0]?.path).toBe('/tmp/a b');
	});
	test('upper, work, options and xattr namespace', () => {
		const o = decode(lines.space);
		expect(o.layers.upper).toBe('/tmp/u');
		expect(o.layers.work).toBe('/tmp/w');
		expect(o.xattrNamespace).toBe('user');
		expect(o.options).toEqual([{key: 'userxattr'}]);
		expect(o.readOnly).toBe(false);
	});
	test('Docker short links and relative lowerdirs stay as recorded', () => {
		expect(decode(lines.docker).layers.lowers.map((l) => l.path)).toEqual([
			'/var/lib/docker/overlay2/l/WUS2Z3K5ZGD2JYP6YRTLJMPXGM',
			'/var/lib/docker/overlay2/l/7FR5ZO3QZCCJGTLD6X6ZRJ6IHM',
		]);
		const rel = decode(lines.relative);
		expect(rel.layers).toEqual({
			lowers: [
				{path: 'l/ABC', dataOnly: false},
				{path: 'l/DEF', dataOnly: false},
			],
			upper: '4c1b/diff',
			work: '4c1b/work',
		});
	});
	test(':: data-only layers and read-only', () => {
		const o = decode(lines.dataOnly);
		expect(o.layers.lowers).toEqual([
			{path: '/l1', dataOnly: false},
			{path: '/l2', dataOnly: false},
			{path: '/d1', dataOnly: true},
			{path: '/d2', dataOnly: true},
		]);
		expect(o.readOnly).toBe(true);
		expect(o.layers.upper).toBeUndefined();
	});
	test('ovl fd strategy', () => {
		expect(decode(lines.fd).layers).toEqual({
			lowers: [
				{path: '3', dataOnly: false},
				{path: '4', dataOnly: false},
				{path: '5', dataOnly: false},
			],
			upper: '6',
			work: '7',
		});
	});
	test('non-overlay mounts decode to undefined', () => {
		const e = parseMountinfoLine(lines.ext4);
		expect(e && decodeOverlay(e)).toBeUndefined();
	});
});

describe('mount lookup', () => {
	const entries = parseMountinfo(
		[
			lines.ext4,
			'30 26 0:50 / /tmp rw - tmpfs tmpfs rw',
			'31 30 0:51 / /tmp rw - tmpfs tmpfs rw',
			'32 26 0:52 / /tmpfoo rw - tmpfs tmpfs rw',
		].join('\n'),
	);
	test('longest mount point wins, later stacked mounts win', () => {
		expect(mountContaining(entries, '/tmp/x/y')?.mountId).toBe(31);
		expect(mountContaining(entries, '/tmpfoo/a')?.mountId).toBe(32);
		expect(mountContaining(entries, '/tmpf')?.mountId).toBe(26);
	});
	test('topMountAt picks the last', () => expect(topMountAt(entries, '/tmp')?.mountId).toBe(31));
});

describe('PAGE_SIZE from the auxiliary vector', async () => {
	const {pageSizeFromAuxv, readPageSize} = await import('../../src/io/proc.js');
	const vector = (pairs: [number, number][]): Buffer => {
		const b = Buffer.alloc(pairs.length * 16);
		pairs.forEach(([t, v], i) => {
			b.writeBigUInt64LE(BigInt(t), i * 16);
			b.writeBigUInt64LE(BigInt(v), i * 16 + 8);
		});
		return b;
	};
	test('AT_PAGESZ (6) is found among the entries; AT_NULL ends the search; nonsense is refused', () => {
		expect(
			pageSizeFromAuxv(
				vector([
					[33, 1],
					[6, 16384],
					[0, 0],
				]),
			),
		).toBe(16384);
		expect(
			pageSizeFromAuxv(
				vector([
					[33, 1],
					[0, 0],
					[6, 4096],
				]),
			),
		).toBeUndefined();
		expect(pageSizeFromAuxv(vector([[6, 1000]]))).toBeUndefined();
		expect(pageSizeFromAuxv(Buffer.alloc(0))).toBeUndefined();
	});
	test("this process's page size agrees with getconf PAGESIZE", async () => {
		const {execFileSync} = await import('node:child_process');
		expect(await readPageSize()).toBe(Number(execFileSync('getconf', ['PAGESIZE'], {encoding: 'utf8'}).trim()));
	});
});
