// npm run bench (part 3): ovl mount and ovl umount, which scripts and test suites call hundreds of
// times, against raw mount(8)/umount(8) and `node -e 0` measured in the same run (median of N).
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fse from 'fs-extra';

const ms = (f) => {
	const t = process.hrtime.bigint();
	f();
	return Number(process.hrtime.bigint() - t) / 1e6;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function mountBench({root, ovl, runs}) {
	const dir = path.join(root, 'mount');
	fse.removeSync(dir);
	const results = [];
	for (const n of [1, 500]) {
		const base = path.join(dir, `s${n}`);
		const lowers = Array.from({length: n}, (_, i) => path.join(base, `l${i}`));
		for (const p of [...lowers, path.join(base, 'u'), path.join(base, 'w'), path.join(base, 'm')]) fse.ensureDirSync(p);
		const m = path.join(base, 'm');
		const args = [
			...lowers.flatMap((l) => ['--lower', l]),
			'--upper',
			path.join(base, 'u'),
			'--work',
			path.join(base, 'w'),
			m,
		];
		const raw = `lowerdir=${[...lowers].reverse().join(':')},upperdir=${base}/u,workdir=${base}/w`;
		// Raw: mount(8) with the relative strategy's budget in mind only matters past 4 KiB; 500 short
		// paths from one root fit when run from that root.
		const rawOpts = raw.length < 4000 ? raw : raw.replaceAll(`${base}/`, '');
		const mountT = [];
		const umountT = [];
		const rawT = [];
		// node -e 0 in the same loop: the floor the ratios use drifts with the machine as they do.
		const nodeT = [];
		for (let i = 0; i < runs; i++) {
			nodeT.push(ms(() => execFileSync(process.execPath, ['-e', '0'], {stdio: 'ignore'})));
			rawT.push(ms(() => execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', rawOpts, m], {cwd: base})));
			execFileSync('umount', [m]);
			mountT.push(
				ms(() =>
					execFileSync(process.execPath, [ovl, 'mount', ...args], {
						stdio: 'ignore',
						env: {...process.env, OVL_RUN_DIR: path.join(dir, 'run')},
					}),
				),
			);
			umountT.push(
				ms(() =>
					execFileSync(process.execPath, [ovl, 'umount', m], {
						stdio: 'ignore',
						env: {...process.env, OVL_RUN_DIR: path.join(dir, 'run')},
					}),
				),
			);
		}
		// Ratios per iteration, then their median: node, mount(8) and ovl ran back to back, so a
		// minute in which this shared VM is slower weighs on both sides of each ratio alike.
		const mountRatio = median(mountT.map((m, i) => m / ((rawT[i] ?? 0) + (nodeT[i] ?? 1))));
		const umountRatio = median(umountT.map((u, i) => u / (nodeT[i] ?? 1)));
		results.push({
			n,
			node: median(nodeT),
			raw: median(rawT),
			mount: median(mountT),
			umount: median(umountT),
			mountRatio,
			umountRatio,
		});
	}
	fs.rmSync(dir, {recursive: true, force: true});
	console.log(
		`mount and umount, median of ${runs} interleaved runs, ratios per run (target: mount ≤ 2× (raw mount + node -e 0), umount ≤ 1.5× node -e 0)`,
	);
	for (const r of results) {
		console.log(
			`  ${String(r.n).padStart(3)} lower(s): raw mount(8) ${r.raw.toFixed(1)} ms · ovl mount ${r.mount.toFixed(1)} ms (${r.mountRatio.toFixed(2)}× raw+node) · ovl umount ${r.umount.toFixed(1)} ms (${r.umountRatio.toFixed(2)}× node ${r.node.toFixed(1)} ms)`,
		);
	}
}
