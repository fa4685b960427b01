import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {render} from 'ink-testing-library';
import {describe, expect, test} from 'vitest';
import {
	buildTree,
	flattenTree,
	initialExpanded,
	rowIndexOf,
	rowList,
	type Row,
	type TreeMode,
	type TreeNode,
} from '../../src/core/tree.js';
import {lowerListing} from '../../src/io/lower-listing.js';
import {wrapLine} from '../../src/ui/Details.js';
import {Explorer} from '../../src/ui/Explorer.js';
import {explorerStep, initialExplorerState, splitKeys, type ExplorerState} from '../../src/ui/explorer-state.js';
import type {EntryKind} from '../../src/core/entry.js';
import type {LayerDetail} from '../../src/ui/model.js';
import {classifyEntry} from '../../src/core/classify.js';
import {bigReport, sampleReport, st} from '../helpers/report-fixture.js';
import {timeScale, waitUntil} from '../helpers/wait.js';

const tick = () => new Promise((r) => setTimeout(r, 30 * timeScale));
const details = (): LayerDetail[] => [
	{
		role: 'upper',
		layer: 0,
		path: '/srv/demo/upper/a',
		stat: {type: 'char', perm: 0, uid: 0, gid: 0, size: 0, blocks: 0, nlink: 2, ino: 9, dev: 1, rdev: 0, mtimeMs: 0},
	},
	{role: 'lower', layer: 2, path: '/srv/demo/lower2/a'},
	{
		role: 'lower',
		layer: 1,
		path: '/srv/demo/lower1/a',
		stat: {
			type: 'file',
			perm: 0o644,
			uid: 0,
			gid: 0,
			size: 15,
			blocks: 8,
			nlink: 1,
			ino: 3,
			dev: 1,
			rdev: 0,
			mtimeMs: 0,
		},
	},
];

function mount(report = sampleReport(), size = {columns: 100, rows: 30}) {
	const tree = buildTree(report.entries);
	const lower = buildTree(report.entries, [
		// The seed experiment: lower1 has a and b, lower2 has b, a removed in the merged dir.
		{path: '/b', type: 'file', layer: 2, hidden: false},
		{path: '/etc/hosts', type: 'file', layer: 1, hidden: false},
		{path: '/old/inside', type: 'file', layer: 1, hidden: true},
	]);
	let lowerLoads = 0;
	const app = render(
		<Explorer report={report} tree={tree} loadLowerTree={() => (lowerLoads++, lower)} details={details} size={size} />,
	);
	// The lowers are read right after the first frame: wait for the merged view.
	const ready = async (): Promise<void> => {
		const hit = await waitUntil(() => !(app.lastFrame() ?? '').includes('reading the lowers…'), 2000, 10);
		if (hit === undefined) throw new Error(`the lowers were never read:\n${app.lastFrame() ?? ''}`);
	};
	return {...app, lowerLoads: () => lowerLoads, ready};
}

describe('Explorer', () => {
	test('header, tree with badges and the details of the first entry', async () => {
		const {lastFrame, ready} = mount();
		await ready();
		const f = lastFrame() ?? '';
		expect(f).toContain('/srv/demo/merged');
		expect(f).toContain('upper    /srv/demo/upper');
		expect(f).toContain('lower 2  /srv/demo/lower2');
		expect(f).toMatch(/whiteout 2 .*opaque-dir 1 .*redirect-dir 1 .*merge-dir 1 .*copy-up 1 .*metacopy 1 .*new 1/);
		expect(f).toMatch(/WHT\s+a hides L1/);
		expect(f).toMatch(/META\s+meta data L2/);
		expect(f).toContain('char device 0:0');
		expect(f).toMatch(/lower 1\s+-rw-r--r-- 0:0\s+15/);
		expect(f).toMatch(/1\/\d+ · \? help · q quit/);
	});

	test('navigate, collapse and expand', async () => {
		const {lastFrame, stdin, ready} = mount();
		await ready();
		stdin.write('jj');
		await tick();
		expect(lastFrame()).toMatch(/\/etc\n\s*merge-dir/);
		stdin.write('\r');
		await tick();
		expect(lastFrame()).not.toMatch(/CPY\s+conf/);
		stdin.write(' ');
		await tick();
		expect(lastFrame()).toMatch(/CPY\s+conf/);
	});

	test('filter by kind cycles through the kinds present', async () => {
		const {lastFrame, stdin, ready} = mount();
		await ready();
		stdin.write('f');
		await tick();
		expect(lastFrame()).toContain('kind: whiteout');
		expect(lastFrame()).not.toMatch(/CPY\s+conf/);
		expect(lastFrame()).toMatch(/WHT\s+old/);
	});

	test('search narrows to matching paths and keeps their ancestors', async () => {
		const {lastFrame, stdin, ready} = mount();
		await ready();
		stdin.write('/');
		await tick();
		stdin.write('conf');
		await tick();
		stdin.write('\r');
		await tick();
		const f = lastFrame() ?? '';
		expect(f).toContain('search "conf"');
		expect(f).toMatch(/DIR\s+▾ etc\//);
		expect(f).toMatch(/CPY\s+conf/);
		expect(f).not.toMatch(/WHT\s+a /);
		expect(f).toContain('copy-up cost: 30 B from lower 1');
	});

	test('the merged view by default: what the lowers serve, dimmed with the serving layer; l cycles the views', async () => {
		const app = mount();
		// The first frame is the upper alone; the lowers are read right after it.
		expect(app.lastFrame()).toContain('reading the lowers…');
		await app.ready();
		let f = app.lastFrame() ?? '';
		expect(f).toMatch(/low\s+b L2/);
		expect(f).toMatch(/low\s+hosts L1/);
		expect(f).toContain('merged view (l: upper only)');
		// Hidden by the whiteout over /old: not in the merged view.
		expect(f).not.toContain('inside');
		app.stdin.write('j');
		await tick();
		expect(app.lastFrame()).toContain('served by lower 2 (not in the upper)');
		app.stdin.write('l');
		await tick();
		f = app.lastFrame() ?? '';
		expect(f).toContain('upper only (l: all layers)');
		expect(f).not.toMatch(/low\s+b L2/);
		expect(f).not.toContain('hosts');
		app.stdin.write('l');
		await tick();
		f = app.lastFrame() ?? '';
		expect(f).toContain('all layers, hidden too (l: merged)');
		expect(f).toMatch(/low\s+b L2/);
		expect(f).toMatch(/WHT\s+▸ old hides L1/);
		app.stdin.write('G\r');
		await tick();
		expect(app.lastFrame()).toMatch(/hid\s+inside hidden/);
		app.stdin.write('l');
		await tick();
		expect(app.lastFrame()).toContain('merged view (l: upper only)');
		expect(app.lowerLoads()).toBe(1);
	});

	test('origins by path: the tree names a rename origin, details resolve the handle and keep it raw in xattrs', async () => {
		const {lastFrame, stdin, ready} = mount(sampleReport(), {columns: 120, rows: 40});
		await ready();
		expect(lastFrame()).toMatch(/REN\s+▸? ?moved\/ upper, from L1 \/old/);
		stdin.write('/conf\r');
		await tick();
		const f = lastFrame() ?? '';
		expect(f).toContain("origin: lower 1's /etc/conf");
		expect(f).toMatch(/origin handle: fh type 1 uuid null fid/);
		// The raw handle only as the xattr, never as a reason.
		expect(f.match(/uuid null/g)?.length).toBe(1);
	});

	test('120 columns: the details pane has the room it needs, long lines wrap, nothing is cut', async () => {
		const {lastFrame, stdin, ready} = mount(sampleReport(), {columns: 120, rows: 32});
		await ready();
		stdin.write('/conf\r');
		await tick();
		const f = lastFrame() ?? '';
		expect(f).toContain('copy-up cost: 30 B from lower 1; differs in data, mode');
		expect(f).toMatch(/lower 1\s+-rw-r--r-- 0:0 15 1970-01-01 00:00:00/);
		expect(f).not.toContain('…');
		const lines = f.split('\n');
		expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(120);
		// A new, empty search, cleared: the whole tree again.
		stdin.write('/');
		await tick();
		stdin.write('\u001B');
		await tick();
		stdin.write('g');
		await tick();
		// The whiteout's details: every reason whole.
		expect(lastFrame()).toContain("nlink 2: shares the work dir's whiteout inode");
		expect(lastFrame()).not.toContain('…');
	});

	test('80×24: the details pane scrolls with J/K and marks what is out of view', async () => {
		const {lastFrame, stdin, ready} = mount(sampleReport(), {columns: 80, rows: 24});
		await ready();
		let f = lastFrame() ?? '';
		expect(f).toMatch(/↓ more · J\/K scroll · 1–\d+\/\d+/);
		expect(f).not.toMatch(/lower 1\s+-rw-r--r--/);
		stdin.write('JJJJJJJJ');
		await tick();
		f = lastFrame() ?? '';
		expect(f).toMatch(/↑ more above · J\/K scroll · \d+–(\d+)\/\1/);
		expect(f).toMatch(/lower 1\s+-rw-r--r-- 0:0 15/);
		expect(f).not.toContain('char device 0:0');
		stdin.write('K');
		await tick();
		expect(lastFrame()).toMatch(/↓ more/);
		// Moving in the tree shows the next entry's details from the top.
		stdin.write('KKKKKKKKj');
		await tick();
		expect(lastFrame()).toMatch(/served by lower 2/);
		const lines = (lastFrame() ?? '').split('\n');
		expect(lines.length).toBeLessThan(24);
		expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
	});

	test('help names the views and the details keys', async () => {
		const {lastFrame, stdin, ready} = mount(sampleReport(), {columns: 80, rows: 24});
		await ready();
		stdin.write('?');
		await tick();
		const f = lastFrame() ?? '';
		expect(f).toContain('keys — ? or Esc: back');
		expect(f).toContain('J/K             scroll the details pane');
		expect(f).toContain('l               view: merged → upper only → all layers (+ hidden lower entries)');
		expect(f.slice(f.indexOf('keys —'), f.lastIndexOf('\n'))).not.toContain('…');
		// One row per key, none drawn over another, all of it on an 80×24 screen.
		expect(f).toMatch(/\nEnter\/Space → {3}expand or collapse a directory\n/);
		expect(f).toMatch(/\nq Esc Ctrl-C {4}quit \(Ctrl-C: exit 130\)\n/);
		expect(f).toContain('hid hidden');
		expect(f.split('\n').length).toBeLessThan(24);
	});

	test('findings and help views, Esc returns', async () => {
		const {lastFrame, stdin, ready} = mount(
			sampleReport([
				{code: 'OVL_ORPHAN_WHITEOUT', severity: 'warning', message: 'whiteout /x hides nothing', hint: 'remove it'},
			]),
		);
		await ready();
		stdin.write('w');
		await tick();
		expect(lastFrame()).toContain('findings (1)');
		expect(lastFrame()).toContain('OVL_ORPHAN_WHITEOUT');
		stdin.write('\u001B');
		await tick();
		stdin.write('?');
		await tick();
		expect(lastFrame()).toContain('filter by kind');
	});

	test('80×24: the frame stays shorter than the terminal, details below the tree', async () => {
		const {lastFrame, ready} = mount(sampleReport(), {columns: 80, rows: 24});
		await ready();
		const lines = (lastFrame() ?? '').split('\n');
		expect(lines.length).toBeLessThan(24);
		expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
	});

	test('100,000 entries: only the visible rows are rendered', async () => {
		const report = bigReport(100_000);
		const {lastFrame, stdin, ready} = mount(report, {columns: 120, rows: 40});
		await ready();
		const lines = (lastFrame() ?? '').split('\n');
		expect(lines.length).toBeLessThan(40);
		// Only as many dirs open at start as keep the rows under 2,000: the last one is closed.
		stdin.write('G');
		await tick();
		expect(lastFrame()).toMatch(/▸ d099\//);
		expect(lastFrame()).not.toMatch(/f099999/);
		stdin.write('/d099\r');
		await tick();
		stdin.write('G');
		await tick();
		expect(lastFrame()).toMatch(/f099999/);
		expect((lastFrame() ?? '').split('\n').filter((l) => /NEW\s/.test(l)).length).toBeLessThan(40);
	});
});

describe('explorerStep (pure)', () => {
	const report = sampleReport();
	const tree = buildTree(report.entries);
	const start: ExplorerState = initialExplorerState(tree);
	const env = {
		kinds: ['whiteout', 'copy-up'] as const,
		page: 5,
		rows: (s: ExplorerState) =>
			flattenTree(tree, {expanded: s.expanded, mode: s.view, kinds: undefined, search: s.search}),
	};
	const run = (keys: string[], s = start) =>
		keys.reduce(
			(st, k) =>
				explorerStep(
					st,
					k === 'ESC' ? {input: '', escape: true} : k === 'ENTER' ? {input: '', return: true} : {input: k},
					env,
				),
			s,
		);
	test('moves within bounds', () => {
		expect(run(['k']).cursor).toBe(0);
		expect(run(['G']).cursor).toBe(env.rows(start).length - 1);
		expect(run(['G', 'j']).cursor).toBe(env.rows(start).length - 1);
	});
	test('q, Esc and Ctrl-C exit; Esc in search only clears it', () => {
		expect(run(['q']).exit).toBe('quit');
		expect(explorerStep(start, {input: 'c', ctrl: true}, env).exit).toBe('interrupt');
		const cleared = run(['/', 'x', 'ESC']);
		expect(cleared).toMatchObject({mode: 'tree', search: ''});
		expect(cleared.exit).toBeUndefined();
	});
	test('typing q in search is text, not quit', () => {
		expect(run(['/', 'q'])).toMatchObject({mode: 'search', search: 'q'});
	});
	test('splitKeys turns a burst into keys, Enter last', () => {
		expect(splitKeys({input: 'jj'})).toEqual([{input: 'j'}, {input: 'j'}]);
		expect(splitKeys({input: '/ab\r'})).toEqual([{input: '/'}, {input: 'a'}, {input: 'b'}, {input: '', return: true}]);
		expect(splitKeys({input: '', upArrow: true})).toEqual([{input: '', upArrow: true}]);
	});
});

describe('flattenTree and initialExpanded', () => {
	// The definition the one-pass filter must agree with: a node is shown when it is visible and it
	// or a visible descendant matches; shown dirs with shown children are open.
	const reference = (
		root: TreeNode,
		kinds: ReadonlySet<EntryKind> | undefined,
		search: string,
		mode: TreeMode = 'merged',
	): string[] => {
		const out: string[] = [];
		const matches = (n: TreeNode): boolean =>
			(kinds === undefined || (n.entry !== undefined && kinds.has(n.entry.kind))) &&
			n.path.toLowerCase().includes(search.toLowerCase());
		const visible = (n: TreeNode): boolean =>
			mode === 'all' ? true : mode === 'merged' ? n.mergedCount > 0 : n.upperCount > 0;
		const shown = (n: TreeNode): boolean => visible(n) && (matches(n) || n.children.some(shown));
		const walk = (n: TreeNode): void => {
			for (const c of n.children.filter(shown)) {
				const open = c.children.some(shown);
				out.push(`${c.path}${open ? '/' : ''}`);
				walk(c);
			}
		};
		walk(root);
		return out;
	};
	const tree = buildTree(sampleReport().entries, [
		{path: '/b', type: 'file', layer: 2, hidden: false},
		{path: '/etc/hosts', type: 'file', layer: 1, hidden: false},
		{path: '/old/inside', type: 'file', layer: 1, hidden: true},
	]);
	test.each<[ReadonlySet<EntryKind> | undefined, string]>([
		[undefined, 'e'],
		[undefined, 'ETC'],
		[new Set(['new']), ''],
		[new Set(['copy-up', 'whiteout']), ''],
		[new Set(['new']), 'x'],
		[undefined, 'nothing-matches'],
	])('kinds %o, search %j: the rows the definition gives', (kinds, search) => {
		const rows = flattenTree(tree, {expanded: new Set(), mode: 'merged', kinds, search});
		expect(rows.map((r) => `${r.node.path}${r.expanded ? '/' : ''}`)).toEqual(reference(tree, kinds, search));
		expect(rows.every((r) => r.expandable === r.expanded)).toBe(true);
	});
	test('rowList answers as the row array does: every index, slice, first match and path, in every view', () => {
		const big = buildTree(bigReport(3_000).entries, [
			{path: '/b', type: 'file', layer: 2, hidden: false},
			{path: '/old/inside', type: 'file', layer: 1, hidden: true},
		]);
		const someKinds: ReadonlySet<EntryKind> = new Set(['new', 'whiteout']);
		let checked = 0;
		for (const t of [tree, big])
			for (const mode of ['merged', 'upper', 'all'] as const)
				for (const [kinds, search] of [
					[undefined, 'e'],
					[undefined, '1'],
					[undefined, 'ETC'],
					[new Set<EntryKind>(['new']), ''],
					[someKinds, '2'],
					[undefined, 'nothing-matches'],
				] as const) {
					const v = {expanded: new Set<string>(), mode, kinds, search};
					const rows = flattenTree(t, v);
					const list = rowList(t, v);
					// The whole list against the definition; then each way in by index or path against it.
					expect(rows.map((r) => `${r.node.path}${r.expanded ? '/' : ''}`)).toEqual(reference(t, kinds, search, mode));
					expect(rows.every((r) => r.expandable === r.expanded)).toBe(true);
					expect(list.length).toBe(rows.length);
					for (let i = -1; i <= rows.length; i++) expect(list.at(i)).toEqual(rows.at(i));
					for (const [a, b] of [
						[0, 5],
						[3, 40],
						[rows.length - 2, rows.length + 3],
						[7, 7],
						[-3, undefined],
					] as const)
						expect(list.slice(a, b)).toEqual(rows.slice(a, b));
					const every = (n: TreeNode): TreeNode[] => [n, ...n.children.flatMap(every)];
					for (const n of every(t).slice(0, 400))
						expect(rowIndexOf(list, n.path)).toBe(rows.findIndex((r) => r.node.path === n.path));
					const deep = (r: Row): boolean => r.node.depth > 1 && r.node.name.endsWith('7');
					expect(list.findIndex(deep)).toBe(rows.findIndex(deep));
					checked += rows.length;
				}
		expect(checked).toBeGreaterThan(10_000);
	});
	test('a query the dir path holds counts its leaves whole, capitals, sigmas and siblings sharing the prefix too', () => {
		const paths = ['/ΑΣ', '/ΑΣ/x', '/ΑΣ/Σ', '/ΑΣ.b', '/ΑΣ.b/y', '/Etc', '/Etc/HOSTS', '/etc2', '/etc2/e', '/etc2/z'];
		const t = buildTree(
			paths.map((p) =>
				classifyEntry({
					path: p,
					stat: st(p.split('/').length === 2 ? 'dir' : 'file'),
					xattrs: {},
					otherXattrs: [],
					shadows: [],
				}),
			),
		);
		for (const search of ['σ', 'ς', 'Σ', 'ασ', 'ασ/', 'etc', 'ETC', 'etc2/', '/', 'e', 'hosts'])
			for (const mode of ['merged', 'upper', 'all'] as const) {
				const v = {expanded: new Set<string>(), mode, kinds: undefined, search};
				const list = rowList(t, v);
				expect(list.slice().map((r) => `${r.node.path}${r.expanded ? '/' : ''}`)).toEqual(
					reference(t, undefined, search, mode),
				);
				expect(list.length).toBe(reference(t, undefined, search, mode).length);
			}
	});
	test('buildTree: the same tree whatever order the entries come in, lowers under a whiteout included', () => {
		const lowers = [
			{path: '/b', type: 'file', layer: 2, hidden: false},
			{path: '/etc/hosts', type: 'file', layer: 1, hidden: false},
			{path: '/old/inside', type: 'file', layer: 1, hidden: true},
			{path: '/deep/er/x', type: 'file', layer: 1, hidden: false},
			{path: '/etc/conf', type: 'file', layer: 1, hidden: false},
		] as const;
		const shape = (n: TreeNode): unknown => ({
			path: n.path,
			type: n.type,
			kind: n.entry?.kind,
			lower: n.lower,
			counts: [n.upperCount, n.mergedCount],
			children: n.children.map(shape),
		});
		const entries = sampleReport().entries;
		const sorted = shape(buildTree(entries, lowers));
		expect(shape(buildTree([...entries].reverse(), [...lowers].reverse()))).toEqual(sorted);
		const old = buildTree(entries, lowers).children.find((c) => c.path === '/old');
		expect(old?.children.map((c) => [c.path, c.lower?.hidden])).toEqual([['/old/inside', true]]);
	});
	test('initialExpanded opens dirs top down while the rows stay within the limit', () => {
		const big = buildTree(bigReport(10_000).entries);
		// 100 dirs of 100 files: the 100 dirs are always shown, each opened dir adds 100 rows.
		for (const limit of [150, 1100, 2000, 20_000]) {
			const expanded = initialExpanded(big, limit);
			const rows = flattenTree(big, {expanded, mode: 'merged', kinds: undefined, search: ''});
			expect(rows.length).toBeLessThanOrEqual(limit);
			expect(expanded.size).toBe(Math.min(100, Math.floor((limit - 100) / 100)));
		}
	});
});

describe('details lines', () => {
	test('wrapLine breaks at spaces with a hanging indent, cuts only a word longer than the pane', () => {
		expect(
			wrapLine({text: '  copy-up cost: 30 B from lower 1; differs in data, mtime'}, 30).map((l) => l.text),
		).toEqual(['  copy-up cost: 30 B from', '    lower 1; differs in data,', '    mtime']);
		const long = wrapLine({text: `/${'x'.repeat(25)}`}, 10).map((l) => l.text);
		expect(long.join('').replaceAll(' ', '')).toBe(`/${'x'.repeat(25)}`);
		expect(Math.max(...long.map((l) => l.length))).toBeLessThanOrEqual(10);
	});
	test('J/K clamp to what the pane can scroll; a move resets it', () => {
		const report = sampleReport();
		const tree = buildTree(report.entries);
		const s: ExplorerState = initialExplorerState(tree);
		const env = {
			kinds: [],
			page: 5,
			detailsMax: 2,
			rows: (st: ExplorerState) =>
				flattenTree(tree, {expanded: st.expanded, mode: st.view, kinds: undefined, search: st.search}),
		};
		const after = ['J', 'J', 'J'].reduce((st, k) => explorerStep(st, {input: k}, env), s);
		expect(after.detailsScroll).toBe(2);
		expect(explorerStep(after, {input: 'K'}, env).detailsScroll).toBe(1);
		expect(explorerStep(after, {input: 'j'}, env)).toMatchObject({cursor: 1, detailsScroll: 0});
	});
});

describe('lowerListing', () => {
	test("a renamed dir serves its origin's lower contents; the old place is hidden", () => {
		const root = mkdtempSync(path.join(tmpdir(), 'ovl-listing-'));
		try {
			mkdirSync(path.join(root, 'lower1/old'), {recursive: true});
			mkdirSync(path.join(root, 'lower1/etc'), {recursive: true});
			mkdirSync(path.join(root, 'lower2'), {recursive: true});
			writeFileSync(path.join(root, 'lower1/old/inside'), 'x');
			writeFileSync(path.join(root, 'lower1/etc/hosts'), 'x');
			writeFileSync(path.join(root, 'lower1/b'), 'x');
			writeFileSync(path.join(root, 'lower2/b'), 'y');
			const listing = lowerListing(
				[
					{layer: 1, path: path.join(root, 'lower1'), dataOnly: false},
					{layer: 2, path: path.join(root, 'lower2'), dataOnly: false},
				],
				sampleReport().entries,
				'user',
			);
			const by = new Map(listing.map((l) => [l.path, l]));
			expect(by.get('/b')).toMatchObject({layer: 2, hidden: false});
			expect(by.get('/etc/hosts')).toMatchObject({layer: 1, hidden: false});
			expect(by.get('/moved/inside')).toMatchObject({layer: 1, hidden: false});
			expect(by.get('/old/inside')).toMatchObject({layer: 1, hidden: true});
		} finally {
			rmSync(root, {recursive: true, force: true});
		}
	});
});
