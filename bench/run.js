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

const time = (args) => {
	const t = process.hrtime.bigint();
	execFileSync(process.execPath, args, {stdio: 'ignore'});
	return Number(process.hrtime.bigint() - t) / 1e6;
};
const middle = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 Medians of several commands run round-robin: on a shared machine the load drifts, and running
 one command N times and then the next would charge the drift to one of them.
 */
function medians(commands) {
	const times = commands.map(() => []);
	for (let i = 0; i < runs; i++) commands.forEach((args, k) => times[k].push(time(args)));
	return times.map(middle);
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
		const [node, inspect] = medians([
			['-e', '0'],
			[ovl, 'inspect', m, '--json'],
		]);
		return inspect * (floor / node);
	} finally {
		execFileSync('umount', [m]);
		fs.rmSync(base, {recursive: true, force: true});
	}
}

execFileSync(process.execPath, [ovl, '--version'], {stdio: 'ignore'}); // warm the disk cache
const [floor, version, ls, help] = medians([
	['-e', '0'],
	[ovl, '--version'],
	[ovl, 'ls', '--json'],
	[ovl, '--help'],
]);
const rows = [
	['ovl --version', version, 1.2],
	['ovl ls --json', ls, 1.5],
	['ovl --help', help],
	// Measured against its own interleaved node -e 0, shown scaled to this floor.
	...(process.geteuid?.() === 0 ? [['ovl inspect --json (empty)', emptyOverlayInspect()]] : []),
];
console.log(`start-up, median of ${runs} interleaved runs (node ${process.version})`);
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
	});
else console.log('mount bench skipped: it mounts, so it needs root');
if (process.geteuid?.() === 0)
	inspectBench({root: path.join(root, '.bench'), ovl, runs: Number(process.env.OVL_BENCH_INSPECT_RUNS ?? 5)});
else console.log('inspect bench skipped: it mounts, so it needs root');
if (process.env.OVL_BENCH_MILLION === '0') console.log('explorer bench skipped (OVL_BENCH_MILLION=0)');
else await explorerBench();
