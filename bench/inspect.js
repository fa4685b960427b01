// npm run bench (part 2): ovl inspect --json on a large overlay, against a C-speed floor
// (find over upper + lowers, getfattr -R over upper) measured in the same run.
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import fse from 'fs-extra';
import path from 'node:path';

export function inspectBench({root, ovl, runs}) {
	if (spawnSync('getfattr', ['--version']).error) {
		console.log('inspect bench needs getfattr for its floor: apt-get install attr');
		return;
	}
	const fx = path.join(root, 'fixture');
	const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => path.join(fx, n));
	const ready = path.join(fx, '.ready');
	if (!fs.existsSync(ready)) {
		fse.removeSync(fx);
		const t = Date.now();
		for (let d = 0; d < 200; d++) {
			const dir = path.join(lower, `d${String(d).padStart(3, '0')}`);
			for (let f = 0; f < 500; f++)
				fse.outputFileSync(path.join(dir, `f${String(f).padStart(3, '0')}`), `file ${d}/${f}\n`);
		}
		for (const p of [upper, work, merged]) fse.ensureDirSync(p);
		mount();
		try {
			const m = (d, f) =>
				path.join(merged, `d${String(d).padStart(3, '0')}`, f === undefined ? '' : `f${String(f).padStart(3, '0')}`);
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
		fs.writeFileSync(ready, '');
		console.log(
			`  fixture built in ${((Date.now() - t) / 1000).toFixed(1)} s: 100,000 lower files in 200 dirs; 5,000 appends, unlinks, chmods and new files, 20 dir renames, 20 rm -rf + mkdir`,
		);
	}
	function mount() {
		execFileSync('mount', [
			'-t',
			'overlay',
			'overlay',
			'-o',
			`lowerdir=${lower},upperdir=${upper},workdir=${work},redirect_dir=on,metacopy=on,index=off`,
			merged,
		]);
	}
	function umount() {
		execFileSync('umount', [merged]);
	}
	const time = (cmd, args) => {
		const t = process.hrtime.bigint();
		const r = spawnSync(cmd, args, {stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 30});
		if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
		return Number(process.hrtime.bigint() - t) / 1e6;
	};
	const median = (f) => {
		f(); // warm
		const xs = Array.from({length: runs}, f).sort((a, b) => a - b);
		return xs[Math.floor(xs.length / 2)];
	};
	mount();
	try {
		const find = median(() => time('find', [upper, lower]));
		const getfattr = median(() => time('getfattr', ['-R', '-d', '-m', 'overlay', upper]));
		const inspect = median(() => time(process.execPath, [ovl, 'inspect', merged, '--json']));
		const diff = median(() => time(process.execPath, [ovl, 'diff', merged, '--json']));
		const floor = find + getfattr;
		console.log(`inspect, median of ${runs} warm runs`);
		console.log(`  floor: find ${find.toFixed(0)} ms + getfattr -R ${getfattr.toFixed(0)} ms = ${floor.toFixed(0)} ms`);
		console.log(
			`  ovl inspect --json  ${inspect.toFixed(0)} ms   ${(inspect / floor).toFixed(2)}× floor   (target ≤ 2× and ≤ 500 ms)`,
		);
		console.log(`  ovl diff --json     ${diff.toFixed(0)} ms   ${(diff / floor).toFixed(2)}× floor`);
	} finally {
		umount();
	}
}
