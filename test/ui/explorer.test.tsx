import {render} from 'ink-testing-library';
import {describe, expect, test} from 'vitest';
import {buildTree, flattenTree, initialExpanded} from '../../src/core/tree.js';
import {Explorer} from '../../src/ui/Explorer.js';
import {explorerStep, splitKeys, type ExplorerState} from '../../src/ui/explorer-state.js';
import type {LayerDetail} from '../../src/ui/model.js';
import {bigReport, sampleReport} from '../helpers/report-fixture.js';
import {timeScale} from '../helpers/wait.js';

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
		{path: '/etc/hosts', type: 'file', layer: 1, hidden: false},
		{path: '/old/inside', type: 'file', layer: 1, hidden: true},
	]);
	let lowerLoads = 0;
	const app = render(
		<Explorer report={report} tree={tree} loadLowerTree={() => (lowerLoads++, lower)} details={details} size={size} />,
	);
	return {...app, lowerLoads: () => lowerLoads};
}

describe('Explorer', () => {
	test('header, tree with badges and the details of the first entry', () => {
		const {lastFrame} = mount();
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
		const {lastFrame, stdin} = mount();
		stdin.write('j');
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
		const {lastFrame, stdin} = mount();
		stdin.write('f');
		await tick();
		expect(lastFrame()).toContain('kind: whiteout');
		expect(lastFrame()).not.toMatch(/CPY\s+conf/);
		expect(lastFrame()).toMatch(/WHT\s+old/);
	});

	test('search narrows to matching paths and keeps their ancestors', async () => {
		const {lastFrame, stdin} = mount();
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

	test('lower-only entries on demand, loaded once', async () => {
		const app = mount();
		app.stdin.write('l');
		await tick();
		expect(app.lastFrame()).toMatch(/low\s+hosts L1/);
		expect(app.lastFrame()).toContain('lower entries shown');
		app.stdin.write('l');
		await tick();
		app.stdin.write('l');
		await tick();
		expect(app.lowerLoads()).toBe(1);
	});

	test('findings and help views, Esc returns', async () => {
		const {lastFrame, stdin} = mount(
			sampleReport([
				{code: 'OVL_ORPHAN_WHITEOUT', severity: 'warning', message: 'whiteout /x hides nothing', hint: 'remove it'},
			]),
		);
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

	test('80×24: the frame stays shorter than the terminal, details below the tree', () => {
		const {lastFrame} = mount(sampleReport(), {columns: 80, rows: 24});
		const lines = (lastFrame() ?? '').split('\n');
		expect(lines.length).toBeLessThan(24);
		expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
	});

	test('100,000 entries: only the visible rows are rendered', async () => {
		const report = bigReport(100_000);
		const {lastFrame, stdin} = mount(report, {columns: 120, rows: 40});
		const lines = (lastFrame() ?? '').split('\n');
		expect(lines.length).toBeLessThan(40);
		stdin.write('G');
		await tick();
		expect(lastFrame()).toMatch(/f099999/);
		expect((lastFrame() ?? '').split('\n').filter((l) => /NEW\s/.test(l)).length).toBeLessThan(40);
	});
});

describe('explorerStep (pure)', () => {
	const report = sampleReport();
	const tree = buildTree(report.entries);
	const start: ExplorerState = {
		expanded: initialExpanded(tree),
		showLower: false,
		kindIndex: -1,
		search: '',
		mode: 'tree',
		cursor: 0,
	};
	const env = {
		kinds: ['whiteout', 'copy-up'] as const,
		page: 5,
		rows: (s: ExplorerState) =>
			flattenTree(tree, {expanded: s.expanded, showLower: s.showLower, kinds: undefined, search: s.search}),
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
