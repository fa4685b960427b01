// npm run bench: start-up cost of the CLI against bare node, as a ratio (median of N runs).
// Benchmarks live here, never in timed tests.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {explorerBench} from './explorer.js';
import {inspectBench} from './inspect.js';
import {mountBench} from './mount.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ovl = path.join(root, 'bin', 'ovl.js');
const runs = Number(process.env.OVL_BENCH_RUNS ?? 25);

function median(args) {
	const times = [];
	for (let i = 0; i < runs; i++) {
		const t = process.hrtime.bigint();
		execFileSync(process.execPath, args, {stdio: 'ignore'});
		times.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	times.sort((a, b) => a - b);
	return times[Math.floor(times.length / 2)];
}

/** inspect --json on an empty overlay: start-up and one mountinfo read, no scan to speak of. */
function emptyOverlayInspect() {
	const base = path.join(root, '.bench', 'empty');
	for (const d of ['l', 'u', 'w', 'm']) fs.mkdirSync(path.join(base, d), {recursive: true});
	const m = path.join(base, 'm');
	execFileSync('mount', [
		'-t',
		'overlay',
		'overlay',
		'-o',
		`lowerdir=${base}/l,upperdir=${base}/u,workdir=${base}/w`,
		m,
	]);
	try {
		return median([ovl, 'inspect', m, '--json']);
	} finally {
		execFileSync('umount', [m]);
		fs.rmSync(base, {recursive: true, force: true});
	}
}

execFileSync(process.execPath, [ovl, '--version'], {stdio: 'ignore'}); // warm the disk cache
const floor = median(['-e', '0']);
const rows = [
	['ovl --version', median([ovl, '--version']), 1.2],
	['ovl ls --json', median([ovl, 'ls', '--json']), 1.5],
	['ovl --help', median([ovl, '--help'])],
	...(process.geteuid?.() === 0 ? [['ovl inspect --json (empty)', emptyOverlayInspect()]] : []),
];
console.log(`start-up, median of ${runs} runs (node ${process.version})`);
console.log(`  ${'node -e 0'.padEnd(26)} ${floor.toFixed(1)} ms`);
for (const [name, ms, goal] of rows)
	console.log(
		`  ${name.padEnd(26)} ${ms.toFixed(1)} ms   ${(ms / floor).toFixed(2)}× node${goal ? `  (target ≤ ${goal}×)` : ''}`,
	);

if (process.geteuid?.() === 0)
	mountBench({
		root: path.join(root, '.bench'),
		ovl,
		runs: Number(process.env.OVL_BENCH_MOUNT_RUNS ?? 9),
		nodeFloor: floor,
	});
else console.log('mount bench skipped: it mounts, so it needs root');
if (process.geteuid?.() === 0)
	inspectBench({root: path.join(root, '.bench'), ovl, runs: Number(process.env.OVL_BENCH_INSPECT_RUNS ?? 5)});
else console.log('inspect bench skipped: it mounts, so it needs root');
if (process.env.OVL_BENCH_MILLION === '0') console.log('explorer bench skipped (OVL_BENCH_MILLION=0)');
else await explorerBench();
