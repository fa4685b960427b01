// npm run bench (part 4): the explorer on a 1,000,000-entry upper. The scan is measured in part 2;
// here the report is made by the real classifier from synthetic stats (1,000 dirs × 999 files,
// the 1M fixture's shape), then: the tree built, the first frame, and each key from the pure
// reducer through React to the next frame (ink-testing-library's in-memory terminal).
import {classifyEntry} from '../dist/core/classify.js';
import {summarize} from '../dist/core/report.js';
import {buildTree, rowList} from '../dist/core/tree.js';
import {explorerStep, initialExplorerState, rowsCache} from '../dist/ui/explorer-state.js';
import {loadReactModule} from '../dist/ui/load-react.js';

// React's production build, as ovl loads it (dist/ui/load-react.js).
const [{render}, {createElement}, {Explorer}] = await loadReactModule(() =>
	Promise.all([import('ink-testing-library'), import('react'), import('../dist/ui/Explorer.js')]),
);

const stat = (type) => ({
	type,
	perm: type === 'dir' ? 0o755 : 0o644,
	uid: 0,
	gid: 0,
	size: 0,
	blocks: 0,
	nlink: 1,
	ino: 1,
	dev: 1,
	rdev: 0,
	mtimeMs: 1_700_000_000_000,
});

function millionReport(dirs, files) {
	const entries = [];
	const dirStat = stat('dir');
	const fileStat = stat('file');
	for (let d = 0; d < dirs; d++) {
		const dir = `/d${String(d).padStart(4, '0')}`;
		entries.push(classifyEntry({path: dir, stat: dirStat, xattrs: {}, otherXattrs: [], shadows: []}));
		for (let f = 0; f < files; f++)
			entries.push(
				classifyEntry({
					path: `${dir}/f${String(f).padStart(4, '0')}`,
					stat: fileStat,
					xattrs: {},
					otherXattrs: [],
					shadows: [],
				}),
			);
	}
	return {
		schema: 'ovl.inspect/v1',
		mount: {
			mountPoint: '/bench/merged',
			mountId: 1,
			options: [],
			xattrNamespace: 'trusted',
			source: 'mountinfo',
			layers: [
				{role: 'upper', layer: 0, path: '/bench/upper'},
				{role: 'lower', layer: 1, path: '/bench/lower'},
			],
		},
		summary: summarize(
			entries,
			entries.map((e) => e.path),
		),
		entries,
		findings: [],
	};
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const until = async (ok, limitMs, what) => {
	const end = now() + limitMs;
	while (!ok()) {
		if (now() > end) throw new Error(`the explorer did not answer ${what} in ${limitMs} ms`);
		await new Promise((r) => setTimeout(r, 0));
	}
};

// Each key changes what is shown (a key that changes nothing draws no frame to wait for).
const keys = [
	['j (down)', 'j'],
	['page down', '\u001B[6~'],
	['g (first row: a dir)', 'g'],
	['enter (toggle the dir)', '\r'],
	['j (down)', 'j'],
	['l (upper only)', 'l'],
	['l (all layers)', 'l'],
	['l (merged)', 'l'],
	['f (only new entries)', 'f'],
	['f (all kinds)', 'f'],
	['G (last row)', 'G'],
	['/ (search)', '/'],
	['type "f"', 'f'],
	['type "0"', '0'],
	['type "9"', '9'],
	['enter (end search)', '\r'],
	['? (help)', '?'],
	['? (back)', '?'],
];

export async function explorerBench({dirs = 1000, files = 999} = {}) {
	let t = now();
	const report = millionReport(dirs, files);
	const classified = now() - t;
	t = now();
	const tree = buildTree(report.entries);
	const built = now() - t;
	// The pure reducer and the rows it makes, for the same keys (no React).
	let state = initialExplorerState(tree);
	const kinds = ['new'];
	// As the Explorer asks: through the same cache of recent row lists.
	const cache = rowsCache();
	const rows = (s) =>
		cache(tree, s, () =>
			rowList(tree, {
				expanded: s.expanded,
				mode: s.view,
				kinds: s.kindIndex >= 0 ? new Set([kinds[s.kindIndex]]) : undefined,
				search: s.search,
			}),
		);
	const pure = [];
	for (const [name, input] of keys) {
		const e =
			input === '\r' ? {input: '', return: true} : input === '\u001B[6~' ? {input: '', pageDown: true} : {input};
		const t0 = now();
		state = explorerStep(state, e, {kinds, page: 20, rows});
		rows(state);
		pure.push([name, now() - t0]);
	}
	t = now();
	const app = render(
		createElement(Explorer, {
			report,
			tree,
			loadLowerTree: () => tree,
			details: () => [],
			size: {columns: 120, rows: 40},
		}),
	);
	await until(
		() => (app.lastFrame() ?? '').includes('d0000') && !app.lastFrame().includes('reading the lowers'),
		60_000,
		'with its first frame',
	);
	const first = now() - t;
	const timed = [];
	for (const [name, input] of keys) {
		const before = app.frames.length;
		const t0 = now();
		app.stdin.write(input);
		await until(() => app.frames.length > before, 10_000, name);
		timed.push([name, now() - t0]);
	}
	app.unmount();
	const n = report.entries.length.toLocaleString('en');
	console.log(`explorer, ${n} entries (target: first frame ≤ 2 s after the scan, each key ≤ 50 ms)`);
	console.log(
		`  classify ${classified.toFixed(0)} ms · build tree ${built.toFixed(0)} ms · first frame ${first.toFixed(0)} ms`,
	);
	const worst = (xs) => Math.max(...xs.map(([, ms]) => ms));
	for (let i = 0; i < keys.length; i++)
		console.log(
			`  ${(keys[i]?.[0] ?? '').padEnd(22)} reducer+rows ${pure[i]?.[1].toFixed(1).padStart(7)} ms · to the next frame ${timed[i]?.[1].toFixed(1).padStart(7)} ms`,
		);
	console.log(
		`  slowest key: ${worst(timed).toFixed(1)} ms to the next frame (reducer+rows ${worst(pure).toFixed(1)} ms)`,
	);
}
