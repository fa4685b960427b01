// npm run bench (part 2): ovl inspect --json on large overlays, native scanner and pure-JS
// fallback side by side, against a C-speed floor (find over upper + lowers, getfattr -R over the
// upper) measured in the same run, warm and cold (page, dentry and inode caches dropped), with
// the peak RSS of each process. Fixtures are built once under .bench/ and cached.
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import fse from 'fs-extra';
import path from 'node:path';

const pad = (n) => String(n).padStart(3, '0');

/** 100,000 lower files; the upper made through a real mount: appends, unlinks, chmods, renames, rm -rf + mkdir. */
function buildChanged({lower, merged}, mount, umount) {
	for (let d = 0; d < 200; d++) {
		const dir = path.join(lower, `d${pad(d)}`);
		for (let f = 0; f < 500; f++) fse.outputFileSync(path.join(dir, `f${pad(f)}`), `file ${d}/${f}\n`);
	}
	mount();
	try {
		const m = (d, f) => path.join(merged, `d${pad(d)}`, f === undefined ? '' : `f${pad(f)}`);
		for (let d = 0; d < 50; d++) for (let f = 0; f < 100; f++) fs.appendFileSync(m(d, f), 'more\n');
		for (let d = 50; d < 100; d++) for (let f = 0; f < 100; f++) fs.unlinkSync(m(d, f));
		for (let d = 100; d < 150; d++) for (let f = 0; f < 100; f++) fs.chmodSync(m(d, f), 0o600);
		for (let i = 0; i < 5000; i++) fs.writeFileSync(path.join(m(150 + (i % 30)), `new${i}`), 'new\n');
		for (let d = 130; d < 150; d++) fs.renameSync(m(d), `${m(d).replace(/\/$/, '')}-renamed`);
		for (let d = 180; d < 200; d++) {
			fs.rmSync(m(d), {recursive: true});
			fs.mkdirSync(m(d));
		}
	} finally {
		umount();
	}
	return '100,000 lower files in 200 dirs; 5,000 appends, unlinks, chmods and new files, 20 dir renames, 20 rm -rf + mkdir';
}

/** A 1,000,000-entry upper (1,000 dirs × 1,000 files over 100 lower files each), written directly: an install's worth. */
function buildMillion({lower, upper}) {
	for (let d = 0; d < 1000; d++) {
		const name = `d${String(d).padStart(4, '0')}`;
		fs.mkdirSync(path.join(lower, name), {recursive: true});
		fs.mkdirSync(path.join(upper, name), {recursive: true});
		for (let f = 0; f < 100; f++)
			fs.closeSync(fs.openSync(path.join(lower, name, `f${String(f).padStart(4, '0')}`), 'w'));
		for (let f = 0; f < 999; f++)
			fs.closeSync(fs.openSync(path.join(upper, name, `f${String(f).padStart(4, '0')}`), 'w'));
	}
	return '1,000,000 upper entries (1,000 dirs × 999 files, 100 of each over a lower file), 100,000 lower files';
}

function fixture(root, name, build) {
	const fx = path.join(root, name);
	const dirs = Object.fromEntries(['lower', 'upper', 'work', 'merged'].map((n) => [n, path.join(fx, n)]));
	const opts = `lowerdir=${dirs.lower},upperdir=${dirs.upper},workdir=${dirs.work},redirect_dir=on,metacopy=on,index=off`;
	const mount = () => execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, dirs.merged]);
	const umount = () => execFileSync('umount', [dirs.merged]);
	const ready = path.join(fx, '.ready');
	if (!fs.existsSync(ready)) {
		fse.removeSync(fx);
		for (const p of Object.values(dirs)) fse.ensureDirSync(p);
		const t = Date.now();
		const what = build(dirs, mount, umount);
		fs.writeFileSync(ready, '');
		console.log(`  fixture ${name} built in ${((Date.now() - t) / 1000).toFixed(1)} s: ${what}`);
	}
	return {...dirs, mount, umount};
}

/** Wall time and peak RSS of one process (GNU time's %M). */
function run(cmd, args, env = {}) {
	const t = process.hrtime.bigint();
	const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], {
		stdio: ['ignore', 'ignore', 'pipe'],
		env: {...process.env, ...env},
		maxBuffer: 1 << 30,
		encoding: 'utf8',
	});
	const ms = Number(process.hrtime.bigint() - t) / 1e6;
	if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
	const kb = Number(r.stderr.trim().split('\n').at(-1));
	return {ms, mib: kb / 1024};
}

const dropCaches = () => {
	execFileSync('sync');
	fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n');
};

/** Median wall time (and the max peak RSS) of n runs; warm runs after one unmeasured run. */
function measure(n, cold, f) {
	if (!cold) f();
	const xs = Array.from({length: n}, () => {
		if (cold) dropCaches();
		return f();
	});
	const sorted = [...xs].sort((a, b) => a.ms - b.ms);
	return {ms: sorted[Math.floor(sorted.length / 2)].ms, mib: Math.max(...xs.map((x) => x.mib))};
}

function table(title, fx, ovl, runs, cold) {
	const floor = measure(runs, cold, () => {
		const a = run('find', [fx.upper, fx.lower]);
		const b = run('getfattr', ['-R', '-d', '-m', 'overlay', fx.upper]);
		return {ms: a.ms + b.ms, mib: Math.max(a.mib, b.mib)};
	});
	const rows = [
		['ovl inspect --json (native)', {}],
		['ovl inspect --json (JS)', {OVL_SCANNER: 'js'}],
		['ovl diff --json (native)', {}, 'diff'],
	].map(([name, env, cmd = 'inspect']) => [
		name,
		measure(runs, cold, () => run(process.execPath, [ovl, cmd, fx.merged, '--json'], env)),
	]);
	console.log(`${title}, median of ${runs} ${cold ? 'cold' : 'warm'} runs`);
	console.log(`  ${'floor: find + getfattr -R'.padEnd(30)} ${floor.ms.toFixed(0).padStart(6)} ms`);
	for (const [name, r] of rows)
		console.log(
			`  ${name.padEnd(30)} ${r.ms.toFixed(0).padStart(6)} ms  ${(r.ms / floor.ms).toFixed(2)}× floor  ${r.mib.toFixed(0).padStart(5)} MiB peak`,
		);
}

export function inspectBench({root, ovl, runs}) {
	if (spawnSync('getfattr', ['--version']).error || spawnSync('/usr/bin/time', ['true']).error) {
		console.log('inspect bench needs getfattr (apt-get install attr) and GNU time (apt-get install time)');
		return;
	}
	const changed = fixture(root, 'fixture', buildChanged);
	changed.mount();
	try {
		table('inspect, 100k-file fixture', changed, ovl, runs, false);
		table('inspect, 100k-file fixture', changed, ovl, Math.min(runs, 3), true);
	} finally {
		changed.umount();
	}
	if (process.env.OVL_BENCH_MILLION === '0') return console.log('1M-entry fixture skipped (OVL_BENCH_MILLION=0)');
	const million = fixture(root, 'million', buildMillion);
	million.mount();
	try {
		table('inspect, 1,000,000-entry upper', million, ovl, 1, false);
	} finally {
		million.umount();
	}
}
