import {
	appendFileSync,
	chmodSync,
	chownSync,
	closeSync,
	linkSync,
	openSync,
	renameSync,
	rmSync,
	mkdirSync,
	symlinkSync,
	truncateSync,
	utimesSync,
	writeFileSync,
	lstatSync,
} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {setXattrSync} from '../../src/io/xattr.js';
import {afterEach, beforeEach, expect, test} from 'vitest';
import type {Entry} from '../../src/core/entry.js';
import type {Report} from '../../src/core/report.js';
import {processDeps} from '../../src/flows/deps.js';
import {inspectFlow} from '../../src/flows/inspect.js';
import {locateMount, locateOffline} from '../../src/io/locate.js';
import {scannerStatus} from '../../src/io/scan.js';
import {jsScanPort} from '../../src/io/scan-js.js';
import type {ScanPort} from '../../src/io/scan-port.js';
import {describeKernel, kernelAtLeast} from '../helpers/kernel.js';
import {makeTree, mountOverlay, umount} from '../helpers/overlay.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {hashTree} from '../helpers/tree-hash.js';

let dir = '';
let guarded: [string, string][] = [];
const p = (...parts: string[]): string => path.join(dir, ...parts);
const m = (rel: string): string => path.join(dir, 'm', rel);

async function setup(trees: Record<string, string>[], options: string[] = []): Promise<void> {
	const lowers = trees.map((_, i) => p(`l${i + 1}`));
	for (const [i, t] of trees.entries()) await makeTree(lowers[i] as string, t);
	guarded = await Promise.all(lowers.map(async (l) => [l, await hashTree(l)] as [string, string]));
	await mountOverlay({lowers, upper: p('u'), work: p('w'), merged: p('m'), options});
}

/** The summary without the upper filesystem's free space, which anything else writing there moves. */
const steadySummary = (r: Report): unknown => ({...r.summary, upperSpace: undefined});

/** The report, after checking that the native and the pure-JS scanner agree on it. */
async function inspect(): Promise<Report> {
	const located = await locateMount(p('m'), undefined, processDeps().registry);
	const report = await inspectFlow(located, {withChanges: true});
	const js = await inspectFlow(located, {withChanges: true, port: jsScanPort});
	// CI runs this file once more with OVL_SCANNER=js: then the default port is the JS one too.
	const forcedJs = process.env['OVL_SCANNER'] === 'js';
	if (process.env['OVL_REQUIRE_NATIVE'] === '1') expect(scannerStatus().name).toBe(forcedJs ? 'js' : 'native');
	expect(js.entries).toEqual(report.entries);
	expect(steadySummary(js)).toEqual(steadySummary(report));
	expect(js.changes).toEqual(report.changes);
	expect(js.findings).toEqual(report.findings);
	// The scan goes in chunks, with a change set too: the same report, whatever the chunk size.
	for (const chunk of [1, 3])
		for (const withChanges of [false, true]) {
			const chunked = await inspectFlow(located, {withChanges, chunk});
			expect(chunked.entries).toEqual(report.entries);
			expect(steadySummary(chunked)).toEqual(steadySummary(report));
			expect(chunked.findings).toEqual(report.findings);
			if (withChanges) expect(chunked.changes).toEqual(report.changes);
		}
	return report;
}

function entry(r: Report, rel: string): Entry {
	const e = r.entries.find((x) => x.path === rel);
	if (!e) throw new Error(`no entry ${rel}; have ${r.entries.map((x) => x.path).join(' ')}`);
	return e;
}
const kinds = (r: Report): Record<string, string> => Object.fromEntries(r.entries.map((e) => [e.path, e.kind]));

describeKernel('ovl inspect on real overlays', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-inspect-');
		guarded = [];
	});
	afterEach(async () => {
		const changed: string[] = [];
		for (const [l, h] of guarded) if ((await hashTree(l)) !== h) changed.push(l);
		await cleanScratch(dir);
		expect(changed, 'lower layers changed').toEqual([]);
	});

	test('the seed experiment: whiteout for a, b served by lower2, nothing else', async () => {
		await setup([{a: 'docker\noverlay\n', b: 'old\n'}, {b: 'filesystem\n'}]);
		rmSync(m('a'));
		const r = await inspect();
		expect(kinds(r)).toEqual({'/a': 'whiteout'});
		expect(entry(r, '/a')).toMatchObject({type: 'char', shadows: [1]});
		expect(r.changes?.changes).toEqual([{op: 'D', path: '/a', type: 'file'}]);
		// The fast path (no yargs) answers as the full parser does (--verbose sends it there).
		for (const cmd of ['inspect', 'diff']) {
			const fast = await runOvl([cmd, p('m'), '--json']);
			const full = await runOvl([cmd, p('m'), '--json', '--verbose']);
			// Free space is the one field another process may change between the two runs.
			const doc = (out: string): unknown => {
				const d = JSON.parse(out) as {summary?: {upperSpace?: unknown}};
				if (d.summary) d.summary.upperSpace = undefined;
				return d;
			};
			expect(doc(fast.stdout)).toEqual(doc(full.stdout));
			expect(fast.exitCode).toBe(0);
		}
		expect(r.mount.layers.map((l) => [l.role, l.layer])).toEqual([
			['upper', 0],
			['lower', 2],
			['lower', 1],
		]);
	});

	test('every operation of the copy-up table (metacopy off)', async () => {
		await setup([
			{w: 'w', rdwr: 'r', trunc: 'tttt', ch: 'c', own: 'o', ut: 'u', xa: 'x', ln: 'l', mv: 'm', ro: 'ro', st: 'st'},
		]);
		appendFileSync(m('w'), 'more');
		closeSync(openSync(m('rdwr'), 'r+'));
		truncateSync(m('trunc'), 1);
		chmodSync(m('ch'), 0o600);
		chownSync(m('own'), 1000, 1000);
		utimesSync(m('ut'), 1000, 1000);
		setXattrSync(m('xa'), 'user.k', 'v');
		linkSync(m('ln'), m('ln2'));
		renameSync(m('mv'), m('mv2'));
		closeSync(openSync(m('ro'), 'r'));
		lstatSync(m('st'));
		const r = await inspect();
		expect(kinds(r)).toEqual({
			'/ch': 'copy-up',
			'/ln': 'copy-up',
			'/ln2': 'copy-up',
			'/mv': 'whiteout',
			'/mv2': 'copy-up',
			'/own': 'copy-up',
			'/rdwr': 'copy-up',
			'/trunc': 'copy-up',
			'/ut': 'copy-up',
			'/w': 'copy-up',
			'/xa': 'copy-up',
		});
		expect(entry(r, '/w').copyUp?.changes).toEqual(['data', 'mtime']);
		expect(entry(r, '/rdwr').copyUp?.changes).toEqual([]);
		expect(entry(r, '/ch').copyUp?.changes).toEqual(['mode']);
		expect(entry(r, '/own').copyUp?.changes).toEqual(['owner']);
		expect(entry(r, '/ut').copyUp?.changes).toEqual(['mtime']);
		expect(entry(r, '/xa').copyUp?.changes).toEqual(['xattrs']);
		expect(entry(r, '/ln').hardlink?.group).toEqual(['/ln', '/ln2']);
		// w rdwr trunc ch own ut xa ln(=ln2, one inode) mv2
		expect(r.summary.duplicatedBytes).toBe(1 + 1 + 4 + 1 + 1 + 1 + 1 + 1 + 1);
		expect(r.changes?.renames).toEqual([{from: '/mv', to: '/mv2', type: 'file'}]);
		const cli = await runOvl(['diff', p('m')]);
		expect(cli.stdout).toContain('R\t/mv2\tfrom /mv');
		expect(cli.stdout).toContain('C\t/ch\tmode');
	});

	test('directory rename: EXDEV without redirect_dir, a redirect with redirect_dir=on', async () => {
		await setup([{'d/f': '1', 'd/sub/g': '2', 'e/': ''}]);
		expect(() => renameSync(m('d'), m('d2'))).toThrow(/EXDEV/);
		await umount(p('m'));
		rmSync(p('u'), {recursive: true});
		rmSync(p('w'), {recursive: true});
		await mountOverlay({lowers: [p('l1')], upper: p('u'), work: p('w'), merged: p('m'), options: ['redirect_dir=on']});
		renameSync(m('d'), m('d2'));
		mkdirSync(m('x'));
		renameSync(m('e'), m('x/e'));
		const r = await inspect();
		expect(entry(r, '/d2')).toMatchObject({
			kind: 'redirect-dir',
			redirect: {value: 'd', absolute: false, origin: '/d', originLayers: [1]},
		});
		expect(entry(r, '/x/e')).toMatchObject({
			kind: 'redirect-dir',
			redirect: {value: '/e', absolute: true, origin: '/e'},
		});
		expect(kinds(r)['/d']).toBe('whiteout');
		expect(entry(r, '/x')).toMatchObject({kind: 'opaque-dir', opaque: 'new'});
		expect(r.changes?.renames.map((x) => `${x.from}>${x.to}`).sort()).toEqual(['/d>/d2', '/e>/x/e']);
		expect(r.changes?.changes.filter((c) => c.op === 'A').map((c) => c.path)).toEqual(
			expect.arrayContaining(['/d2', '/d2/f', '/d2/sub', '/d2/sub/g']),
		);
	});

	test('a dir renamed away and back keeps a redirect to its own path: a merge dir, nothing moved', async () => {
		await setup([{'d/f': '1', 'd/sub/g': '2'}], ['redirect_dir=on']);
		renameSync(m('d'), m('e'));
		renameSync(m('e'), m('d'));
		const r = await inspect();
		// The kernel really left the xattr behind: the case is real, not made by hand.
		expect(entry(r, '/d').xattrs['redirect']).toBe('d');
		expect(entry(r, '/d')).toMatchObject({kind: 'merge-dir'});
		expect(entry(r, '/d').redirect).toBeUndefined();
		expect(entry(r, '/d').reasons.join('; ')).toContain('names its own path');
		expect(r.changes?.renames).toEqual([]);
		expect(r.changes?.changes.map((c) => c.path)).not.toContain('/d/f');
	});

	test('a file deleted and made again has no origin: new over its shadow, not a copy-up; the change set says C', async () => {
		await setup([{a: 'lower a\n', b: 'lower b\n'}]);
		rmSync(m('a'));
		writeFileSync(m('a'), 'made again\n');
		writeFileSync(m('b'), 'copied up\n');
		const r = await inspect();
		expect(entry(r, '/a').xattrs['origin']).toBeUndefined();
		expect(entry(r, '/a')).toMatchObject({kind: 'new', shadows: [1]});
		expect(entry(r, '/a').copyUp).toBeUndefined();
		expect(entry(r, '/a').reasons.join('; ')).toContain('written over it, not a copy-up');
		expect(entry(r, '/b')).toMatchObject({kind: 'copy-up'});
		expect(r.changes?.changes.find((c) => c.path === '/a')).toMatchObject({op: 'C'});
	});

	test('a copy-up renamed onto a path where a lower holds a dir: a copy-up (from its origin), found as a rename', async () => {
		await setup([{a: 'lower a\n', 'b/inner': 'x'}], ['redirect_dir=on']);
		rmSync(m('b'), {recursive: true});
		renameSync(m('a'), m('b'));
		const r = await inspect();
		expect(entry(r, '/b').xattrs['origin']).toBeDefined();
		expect(entry(r, '/b')).toMatchObject({kind: 'copy-up', type: 'file', copyUp: {fromLayer: 1, changes: ['type']}});
		// The origin handle resolves: it names the lower file the data was copied from.
		expect(entry(r, '/b').reasons.join('; ')).toContain(`origin is lower 1's ${p('l1', 'a')}`);
		expect(kinds(r)['/a']).toBe('whiteout');
		expect(r.changes?.renames.map((x) => `${x.from}>${x.to}`)).toEqual(['/a>/b']);
	});

	test('rm -rf + mkdir: an opaque dir that replaced a lower dir', async () => {
		await setup([{'d/f': '1', 'd/sub/g': '2'}]);
		rmSync(m('d'), {recursive: true});
		mkdirSync(m('d'));
		writeFileSync(m('d/new'), 'n');
		mkdirSync(m('fresh'));
		const r = await inspect();
		expect(entry(r, '/d')).toMatchObject({kind: 'opaque-dir', opaque: 'replaced'});
		// Without redirect_dir=on a brand-new dir is not marked opaque (with it, it is: next test).
		expect(entry(r, '/fresh')).toMatchObject({kind: 'new'});
		expect(r.changes?.changes.map((c) => `${c.op} ${c.path}`)).toEqual(
			expect.arrayContaining(['D /d/f', 'D /d/sub', 'D /d/sub/g', 'A /d/new', 'A /fresh']),
		);
	});

	test('metacopy=on: chmod/chown copy metadata only; the first write copies the data', async () => {
		await setup([{big: 'x'.repeat(100_000), small: 's'}], ['metacopy=on']);
		chmodSync(m('big'), 0o600);
		chownSync(m('small'), 1, 1);
		let r = await inspect();
		expect(entry(r, '/big')).toMatchObject({kind: 'metacopy', metacopy: {dataLayer: 1, lowerSize: 100_000}});
		expect(entry(r, '/big').bytes).toBeLessThan(100_000);
		expect(r.summary.metacopySavedBytes).toBe(100_001);
		expect(r.summary.duplicatedBytes).toBe(0);
		appendFileSync(m('big'), 'y');
		r = await inspect();
		expect(entry(r, '/big')).toMatchObject({kind: 'copy-up', copyUp: {fromLayer: 1, lowerSize: 100_000}});
		expect(r.summary.duplicatedBytes).toBe(100_000);
	});

	test('hard links: index=off breaks them (no origin); index=on keeps them indexed', async () => {
		await setup([{h: 'h'}]);
		linkSync(path.join(dir, 'l1', 'h'), path.join(dir, 'l1', 'h2'));
		// (the lower was prepared before the mount; re-hash after our own edit)
		guarded = [[p('l1'), await hashTree(p('l1'))]];
		await umount(p('m'));
		await mountOverlay({lowers: [p('l1')], upper: p('u'), work: p('w'), merged: p('m'), options: ['index=off']});
		appendFileSync(m('h'), '+');
		let r = await inspect();
		expect(entry(r, '/h')).toMatchObject({kind: 'copy-up', copyUp: {withOrigin: false}});
		expect(entry(r, '/h').reasons.join(' ')).toMatch(/no origin xattr.*hard link copied up with index=off/);
		await umount(p('m'));
		rmSync(p('u'), {recursive: true});
		rmSync(p('w'), {recursive: true});
		await mountOverlay({lowers: [p('l1')], upper: p('u'), work: p('w'), merged: p('m'), options: ['index=on']});
		appendFileSync(m('h'), '+');
		r = await inspect();
		expect(entry(r, '/h')).toMatchObject({kind: 'copy-up', hardlink: {indexed: true}});
		expect(entry(r, '/h').xattrs['nlink']).toMatch(/^[UL][+-]\d+$/);
	});

	test('three lowers: shadows are listed top first', async () => {
		await setup([{s: '1', only1: '1'}, {s: '2'}, {s: '3'}]);
		appendFileSync(m('s'), '!');
		rmSync(m('only1'));
		const r = await inspect();
		expect(entry(r, '/s')).toMatchObject({kind: 'copy-up', shadows: [3, 2, 1], copyUp: {fromLayer: 3}});
		expect(entry(r, '/only1').shadows).toEqual([1]);
	});

	test("a data-only layer: metacopy data found through a lower stub's redirect (before 6.5: refused by the kernel and, first, by ovl)", async () => {
		if (!kernelAtLeast(6, 5)) {
			for (const d of ['data', 'l1', 'u', 'w', 'm']) await makeTree(p(d), {});
			const kernel = await execa(
				'mount',
				[
					'-t',
					'overlay',
					'overlay',
					'-o',
					`lowerdir=${p('l1')}::${p('data')},upperdir=${p('u')},workdir=${p('w')},metacopy=on`,
					p('m'),
				],
				{reject: false},
			);
			expect(kernel.exitCode).not.toBe(0);
			const r = await runOvl([
				'mount',
				'--lowerdir',
				`${p('l1')}::${p('data')}`,
				'--upper',
				p('u'),
				'--work',
				p('w'),
				'-o',
				'metacopy=on',
				p('m'),
			]);
			expect(r.exitCode).toBe(2);
			expect(r.stderr).toMatch(/OVL_KERNEL_TOO_OLD.*data-only lower layers/s);
			return;
		}
		await makeTree(p('data'), {blob: 'blobdata\n'});
		await makeTree(p('l1'), {});
		writeFileSync(p('l1', 'f'), '');
		truncateSync(p('l1', 'f'), 9);
		setXattrSync(p('l1', 'f'), 'trusted.overlay.metacopy', '');
		setXattrSync(p('l1', 'f'), 'trusted.overlay.redirect', '/blob');
		await mountOverlay({
			lowers: [p('data'), p('l1')],
			upper: p('u'),
			work: p('w'),
			merged: p('m'),
			options: ['metacopy=on'],
		});
		// mountOverlay joined them with ':'; remount with '::' to make the bottom one data-only.
		await umount(p('m'));
		rmSync(p('u'), {recursive: true});
		rmSync(p('w'), {recursive: true});
		await execa('mkdir', ['-p', p('u'), p('w')]);
		await execa('mount', [
			'-t',
			'overlay',
			'overlay',
			'-o',
			`lowerdir=${p('l1')}::${p('data')},upperdir=${p('u')},workdir=${p('w')},metacopy=on`,
			p('m'),
		]);
		chmodSync(m('f'), 0o600);
		const r = await inspect();
		expect(r.mount.layers.map((l) => [l.role, l.layer])).toEqual([
			['upper', 0],
			['lower', 2],
			['data-only', 1],
		]);
		expect(entry(r, '/f')).toMatchObject({kind: 'metacopy', metacopy: {dataLayer: 1, dataPath: p('data', 'blob')}});
	});

	test("a metacopy over a lower metacopy stub with a relative redirect: the chain resolves against the stub's dir", async () => {
		// Mount A (metacopy): chmod + rename within d/ leaves u/d/g, a stub with redirect "f".
		await setup([{'d/f': 'chained data\n'}], ['metacopy=on', 'redirect_dir=on']);
		chmodSync(m('d/f'), 0o600);
		renameSync(m('d/f'), m('d/g'));
		await umount(p('m'));
		expect(lstatSync(p('u', 'd', 'g')).size).toBe(13);
		// Mount B: A's upper becomes the top lower; chmod copies g's metadata up again.
		renameSync(p('u'), p('l2'));
		rmSync(p('w'), {recursive: true});
		guarded.push([p('l2'), await hashTree(p('l2'))]);
		await mountOverlay({
			lowers: [p('l1'), p('l2')],
			upper: p('u'),
			work: p('w'),
			merged: p('m'),
			options: ['metacopy=on', 'redirect_dir=on'],
		});
		chmodSync(m('d/g'), 0o640);
		const {readFileSync} = await import('node:fs');
		expect(readFileSync(m('d/g'), 'utf8')).toBe('chained data\n');
		console.log((await execa('getfattr', ['-R', '-d', '-m', '-', '-e', 'text', p('u'), p('l2')])).stdout);
		const r = await inspect();
		expect(entry(r, '/d/g')).toMatchObject({kind: 'metacopy', metacopy: {dataLayer: 1, dataPath: p('l1', 'd', 'f')}});
		expect(r.findings.map((f) => f.code)).not.toContain('OVL_METACOPY_NO_DATA');
	});

	test('inspect --json is written as it is classified: the same document, in path order, renamed copy-ups settled late', async () => {
		// "a" is a dir with "a b", "a-", "a.b" beside it: they sort between "/a" and "/a/…". The
		// renamed copy-ups come before (/a/0y) and after (/zz) the whiteouts that name their originals.
		await setup([{'a/x': 'x', 'a b': 'ab', 'a.b': 'dot', 'b/y': 'y', 'k/1': '1'}], ['redirect_dir=on', 'index=off']);
		mkdirSync(m('a/c'));
		mkdirSync(m('a-'));
		writeFileSync(m('a-/z'), 'z');
		writeFileSync(m('a0'), 'zero');
		linkSync(m('a0'), m('a/hl'));
		rmSync(m('a.b'));
		appendFileSync(m('a b'), ' more');
		renameSync(m('a b'), m('zz'));
		appendFileSync(m('b/y'), ' more');
		renameSync(m('b/y'), m('a/0y'));
		for (let i = 0; i < 40; i++) writeFileSync(m(`k/n${i}`), 'n');
		const r = await inspect();
		const paths = r.entries.map((e) => e.path);
		expect(paths).toEqual([...paths].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
		expect(paths.indexOf('/a.b')).toBeLessThan(paths.indexOf('/a/0y'));
		expect(entry(r, '/a/0y').reasons.join('; ')).toContain(`origin is lower 1's ${p('l1', 'b', 'y')}`);
		expect(entry(r, '/zz').reasons.join('; ')).toContain(`origin is lower 1's ${p('l1', 'a b')}`);
		expect(entry(r, '/a/hl').hardlink?.group).toEqual(['/a/hl', '/a0']);
		const cli = await runOvl(['inspect', p('m'), '--json']);
		expect(cli.exitCode).toBe(0);
		const {changes: _, ...expected} = r;
		const doc = JSON.parse(cli.stdout) as Report;
		const steady = (x: Report): unknown => ({...x, summary: steadySummary(x)});
		expect(steady(doc)).toEqual(steady(JSON.parse(JSON.stringify(expected)) as Report));
		expect(Object.keys(doc)).toEqual(['schema', 'mount', 'summary', 'entries', 'findings']);
		const some = await runOvl(['inspect', p('m'), '--json', '--kind', 'copy-up,whiteout']);
		const filtered = (JSON.parse(some.stdout) as Report).entries;
		expect(filtered.map((e) => e.path)).toEqual(
			r.entries.filter((e) => e.kind === 'copy-up' || e.kind === 'whiteout').map((e) => e.path),
		);
		expect(filtered.find((e) => e.path === '/zz')?.copyUp?.fromLayer).toBe(1);
	});

	test('a wide upper over two lowers: lower dirs read ahead in many batches, renamed and opaque dirs among them', async () => {
		// 40 dirs in each lower: with both a change set's and a merge's lower paths wanted, the
		// prefetch crosses several batch boundaries (and, with prefetchBatch 1, every one).
		const tree = (tag: string): Record<string, string> => {
			const t: Record<string, string> = {};
			for (let d = 0; d < 40; d++) for (let f = 0; f < 4; f++) t[`d${d}/f${f}`] = `${tag}${d}.${f}`;
			return t;
		};
		await setup([tree('one'), tree('two')], ['redirect_dir=on', 'metacopy=on', 'index=off']);
		for (let d = 0; d < 40; d++) {
			appendFileSync(m(`d${d}/f0`), ' more');
			chmodSync(m(`d${d}/f1`), 0o600);
			rmSync(m(`d${d}/f2`));
			writeFileSync(m(`d${d}/new`), 'new');
		}
		for (let d = 0; d < 5; d++) renameSync(m(`d${d}`), m(`r${d}`));
		for (let d = 5; d < 10; d++) {
			rmSync(m(`d${d}`), {recursive: true});
			mkdirSync(m(`d${d}`));
			writeFileSync(m(`d${d}/only`), 'only');
		}
		const r = await inspect();
		const count = (k: string): number => r.entries.filter((e) => e.kind === k).length;
		// d5…d9 were emptied and made again (opaque): their copy-ups went with them.
		expect(count('copy-up')).toBe(35);
		expect(count('metacopy')).toBe(35);
		expect(entry(r, '/r3').kind).toBe('redirect-dir');
		expect(entry(r, '/r3/f0').kind).toBe('copy-up');
		expect(entry(r, '/d7').kind).toBe('opaque-dir');
		expect(r.changes?.changes.filter((c) => c.op === 'D').length).toBeGreaterThan(30);
	});

	test('offline inspection with --upper/--lower, symlinks and fifos, and the JSON schema', async () => {
		await setup([{t: 'target', 'd/': ''}, {}]);
		symlinkSync('t', m('link'));
		await execa('mkfifo', [m('fifo')]);
		chmodSync(m('d'), 0o700);
		await umount(p('m'));
		const r = await inspectFlow(await locateOffline(p('u'), [p('l1'), p('l2')], p('w'), false), {withChanges: false});
		expect(kinds(r)).toMatchObject({'/link': 'new', '/fifo': 'new', '/d': 'merge-dir'});
		expect(entry(r, '/link').type).toBe('symlink');
		expect(entry(r, '/d').copyUp?.changes).toEqual(['mode']);
		const cli = await runOvl(['inspect', '--upper', p('u'), '--lower', p('l1'), '--lower', p('l2'), '--json']);
		const doc = JSON.parse(cli.stdout);
		expect(doc.schema).toBe('ovl.inspect/v1');
		expect(Object.keys(doc).sort()).toEqual(['entries', 'findings', 'mount', 'schema', 'summary']);
		expect(Object.keys(doc.summary).sort()).toEqual([
			'counts',
			'duplicatedBytes',
			'entries',
			'metacopySavedBytes',
			'upperBytes',
			'upperInodes',
			'upperSpace',
		]);
		expect(doc.entries[0]).toEqual(
			expect.objectContaining({
				path: expect.any(String),
				kind: expect.any(String),
				type: expect.any(String),
				reasons: expect.any(Array),
				shadows: expect.any(Array),
				bytes: expect.any(Number),
			}),
		);
		const plain = await runOvl(['inspect', '--upper', p('u'), '--lower', p('l1'), '--lower', p('l2'), '--kind', 'new']);
		expect(
			plain.stdout
				.split('\n')
				.filter(Boolean)
				.every((l) => l.startsWith('new\t')),
		).toBe(true);
	});

	test('findings: orphan whiteout, dangling redirect, xattr whiteout in upper, leftover volatile', async () => {
		await setup([{a: 'a', 'd/f': 'f'}, {}], ['redirect_dir=on']);
		renameSync(m('d'), m('d2'));
		rmSync(m('a'));
		await umount(p('m'));
		// Offline damage, the kind fsck finds: lowers changed, hand-made entries, a volatile leftover.
		rmSync(p('l1', 'a'));
		rmSync(p('l1', 'd'), {recursive: true});
		guarded = [];
		writeFileSync(p('u', 'xw'), '');
		setXattrSync(p('u', 'xw'), 'trusted.overlay.whiteout', '');
		mkdirSync(p('w', 'work', 'incompat', 'volatile'), {recursive: true});
		const r = await inspectFlow(await locateOffline(p('u'), [p('l1'), p('l2')], p('w'), false), {withChanges: false});
		const codes = r.findings.map((f) => f.code).sort();
		expect(codes).toEqual(
			expect.arrayContaining([
				'OVL_DANGLING_REDIRECT',
				'OVL_ORPHAN_WHITEOUT',
				'OVL_WORK_INCOMPAT',
				'OVL_XWHITEOUT_IN_UPPER',
			]),
		);
		const strict = await runOvl([
			'inspect',
			'--upper',
			p('u'),
			'--lower',
			p('l1'),
			'--lower',
			p('l2'),
			'--work',
			p('w'),
			'--strict',
		]);
		expect(strict.exitCode).toBe(1);
		const lax = await runOvl(['inspect', '--upper', p('u'), '--lower', p('l1'), '--lower', p('l2'), '--work', p('w')]);
		expect(lax.exitCode).toBe(0);
	});

	test('a redirect with a . or .. component names nothing, in both scanners and the walk pairing', async () => {
		await makeTree(p('l1'), {'d/f': 'f', 'e/g': 'g'});
		const redirects: Record<string, string> = {a: '/d/../e', b: '/./d', c: '/d', s: 'd', t: '..', v: '.', w: 'e/'};
		for (const [name, value] of Object.entries(redirects)) {
			mkdirSync(p('u', name), {recursive: true});
			writeFileSync(p('u', name, 'f'), 'upper');
			setXattrSync(p('u', name), 'trusted.overlay.redirect', value);
		}
		mkdirSync(p('w'));
		const located = await locateOffline(p('u'), [p('l1')], p('w'), false);
		for (const withChanges of [false, true]) {
			const native = await inspectFlow(located, {withChanges});
			const js = await inspectFlow(located, {withChanges, port: jsScanPort});
			expect(js.entries).toEqual(native.entries);
			expect(js.findings).toEqual(native.findings);
			const layers = (rel: string): readonly number[] | undefined => {
				const e = entry(native, rel);
				return e.kind === 'redirect-dir' ? e.redirect.originLayers : undefined;
			};
			expect([layers('/c'), layers('/s')]).toEqual([[1], [1]]);
			for (const rel of ['/a', '/b', '/t', '/v']) expect(layers(rel), rel).toEqual([]);
			// A file below a dir whose redirect names nothing shadows nothing.
			expect(entry(native, '/a/f').shadows).toEqual([]);
			expect(entry(native, '/c/f').shadows).toEqual([1]);
		}
	});

	test('a lower xattr failure that two chunks meet is reported once', async () => {
		// lower a/f is the before of /a/f (opaque /a) and the shadow of /b/f (/b renamed from /a).
		await makeTree(p('l1'), {'a/f': 'lower'});
		await makeTree(p('u'), {'a/f': 'new', 'b/f': 'lower'});
		setXattrSync(p('u', 'a'), 'trusted.overlay.opaque', 'y');
		setXattrSync(p('u', 'b'), 'trusted.overlay.redirect', '/a');
		mkdirSync(p('w'));
		const bad = p('l1', 'a', 'f');
		// As an EIO reading its xattrs would be: the failure comes with each probe that asks.
		const port: ScanPort = {
			...jsScanPort,
			async probe(paths, ns, withXattrs) {
				const r = await jsScanPort.probe(paths, ns, withXattrs);
				return withXattrs && paths.includes(bad) ? {...r, failures: [...r.failures, {path: bad, code: 'EIO'}]} : r;
			},
		};
		const located = await locateOffline(p('u'), [p('l1')], p('w'), false);
		// A change set compares both lower files' xattrs (inspect alone takes them from the dir's read).
		for (const chunk of [1, 3, undefined]) {
			const r = await inspectFlow(located, {withChanges: true, port, ...(chunk ? {chunk} : {})});
			const unreadable = r.findings.filter((f) => f.code === 'OVL_XATTR_UNREADABLE').map((f) => f.path);
			expect(unreadable, `chunk ${chunk}`).toEqual([bad]);
		}
	});

	test('userxattr overlay made in a user namespace, inspected offline with --userxattr', async () => {
		await makeTree(p('l1'), {a: 'a', 'd/f': 'f'});
		await makeTree(p('l2'), {});
		const script = [
			`mount -t overlay overlay -o lowerdir=${p('l2')}:${p('l1')},upperdir=${p('u')},workdir=${p('w')},userxattr ${p('m')}`,
			`rm ${p('m', 'a')}`,
			`rm -r ${p('m', 'd')}`,
			`mkdir ${p('m', 'd')}`,
			`echo x >> ${p('m', 'new')}`,
		].join(' && ');
		mkdirSync(p('u'));
		mkdirSync(p('w'));
		mkdirSync(p('m'));
		await execa('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script]);
		const r = await inspectFlow(await locateOffline(p('u'), [p('l1'), p('l2')], undefined, true), {withChanges: false});
		expect(kinds(r)).toEqual({'/a': 'whiteout', '/d': 'opaque-dir', '/new': 'new'});
		expect(entry(r, '/d').xattrs).toMatchObject({opaque: 'y'});
		const wrongNs = await inspectFlow(await locateOffline(p('u'), [p('l1'), p('l2')], undefined, false), {
			withChanges: false,
		});
		// Read with the wrong namespace, the opaque marker is invisible: /d looks like a merge dir.
		expect(kinds(wrongNs)['/d']).toBe('merge-dir');
	});

	test('relative lowerdirs recorded by the kernel (Docker style: l/ID symlinks) need --root, then resolve', async () => {
		await makeTree(p('root', 'A', 'diff'), {a: 'a', b: 'b', 'd/x': 'x'});
		await makeTree(p('root', 'B', 'diff'), {b: 'B'});
		mkdirSync(p('root', 'l'));
		symlinkSync('../A/diff', p('root', 'l', 'A'));
		symlinkSync('../B/diff', p('root', 'l', 'B'));
		await makeTree(p('root', 'c', 'diff'), {});
		await makeTree(p('root', 'c', 'work'), {});
		await makeTree(p('m'), {});
		await execa(
			'mount',
			['-t', 'overlay', 'overlay', '-o', 'lowerdir=l/B:l/A,upperdir=c/diff,workdir=c/work', p('m')],
			{cwd: p('root')},
		);
		rmSync(m('a'));
		appendFileSync(m('d/x'), 'y');
		const without = await runOvl(['inspect', p('m')]);
		expect(without.exitCode).toBe(2);
		expect(without.stderr).toContain('OVL_RELATIVE_LAYERS');
		const located = await locateMount(p('m'), p('root'), processDeps().registry);
		const r = await inspectFlow(located, {withChanges: true});
		const js = await inspectFlow(located, {withChanges: true, port: jsScanPort});
		expect(js.entries).toEqual(r.entries);
		expect(js.changes).toEqual(r.changes);
		expect(r.mount.layers).toEqual([
			{role: 'upper', layer: 0, path: p('root', 'c', 'diff'), recorded: 'c/diff'},
			{role: 'lower', layer: 2, path: p('root', 'B', 'diff'), recorded: 'l/B'},
			{role: 'lower', layer: 1, path: p('root', 'A', 'diff'), recorded: 'l/A'},
		]);
		expect(kinds(r)).toEqual({'/a': 'whiteout', '/d': 'merge-dir', '/d/x': 'copy-up'});
		expect(r.changes?.changes.map((c) => `${c.op} ${c.path}`)).toEqual(['D /a', 'C /d/x']);
	});

	test('absolute lowerdirs that are symlinks (Podman style l/ID): the roots are followed, as the kernel did', async () => {
		await makeTree(p('A'), {a: 'a', b: 'b', 'd/x': 'x'});
		await makeTree(p('B'), {b: 'B'});
		mkdirSync(p('l'));
		symlinkSync(p('A'), p('l', 'A'));
		symlinkSync(p('B'), p('l', 'B'));
		await mountOverlay({lowers: [p('l', 'A'), p('l', 'B')], upper: p('u'), work: p('w'), merged: p('m')});
		rmSync(m('a'));
		appendFileSync(m('d/x'), 'y');
		const r = await inspect();
		expect(kinds(r)).toEqual({'/a': 'whiteout', '/d': 'merge-dir', '/d/x': 'copy-up'});
		expect(r.changes?.changes.map((c) => `${c.op} ${c.path}`)).toEqual(['D /a', 'C /d/x']);
	});
});
