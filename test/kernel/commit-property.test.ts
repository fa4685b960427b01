import {mkdirSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree, mountOverlay} from '../helpers/overlay.js';
import {randomLower, randomOps, rng} from '../helpers/random-ops.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {compareTrees} from '../helpers/tree-compare.js';

// Property: for seeded random operation sequences through merged/, `ovl commit` leaves the
// target equal to a copy of the merged view taken just before (cp -a), whatever the options.

let dir = '';
const stats = {ops: 0, seeds: 0};

describeKernel('ovl commit reproduces the merged view (seeded random operations)', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-commit-prop-');
	});
	afterEach(async () => cleanScratch(dir));
	afterAll(() => {
		// Guard against a vacuous pass: the runs must really have changed things.
		expect(stats.ops).toBeGreaterThan(200);
	});

	const variants: {name: string; options: string[]; lowers: number; into?: boolean}[] = [
		{name: 'redirect_dir=on,metacopy=on', options: ['redirect_dir=on', 'metacopy=on'], lowers: 1},
		{name: 'index=on', options: ['index=on'], lowers: 1},
		{name: 'default options', options: [], lowers: 1},
		{name: 'two lowers, --into a copy of them', options: ['redirect_dir=on'], lowers: 2, into: true},
		// Into the top of three lowers (whiteouts and opaque markers); no redirect_dir: a renamed
		// dir with contents below the target is refused, and mv copies instead.
		{name: 'three lowers, into the top one', options: [], lowers: 3, into: false},
	];
	const seeds = Number(process.env['OVL_COMMIT_SEEDS'] ?? 5);
	const opsPerSeed = Number(process.env['OVL_COMMIT_OPS'] ?? 30);

	for (const v of variants) {
		test.each(Array.from({length: seeds}, (_, i) => 2000 + i))(`${v.name}: seed %i`, async (seed) => {
			const r = rng(seed);
			const lowers = Array.from({length: v.lowers}, (_, i) => path.join(dir, `l${i + 1}`));
			for (const [i, l] of lowers.entries()) await makeTree(l, randomLower(r, `layer${i + 1}`));
			const m = path.join(dir, 'm');
			const [u, w] = [path.join(dir, 'u'), path.join(dir, 'w')];
			let target = lowers.at(-1) as string;
			const extra: string[] = [];
			if (v.into === true) {
				// --into: a tree holding what the lowers show, made from a lowers-only mount.
				const lo = path.join(dir, 'lo');
				mkdirSync(lo);
				await execa('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${[...lowers].reverse().join(':')}`, lo]);
				target = path.join(dir, 'into');
				mkdirSync(target);
				await execa('cp', ['-a', `${lo}/.`, target]);
				await execa('umount', [lo]);
				extra.push('--into', target);
			}
			await mountOverlay({lowers, upper: u, work: w, merged: m, options: v.options});
			const log = randomOps(m, r, opsPerSeed);
			const snap = path.join(dir, 'snap');
			mkdirSync(snap);
			await execa('cp', ['-a', `${m}/.`, snap]);
			const result = await runOvl(['commit', m, ...extra, '--json']);
			expect(result.exitCode, `${result.stderr}\nops:\n${log.join('\n')}`).toBe(0);
			if (v.lowers > 1 && v.into !== true) {
				// The target is a layer: compare the stack mounted again on it.
				await mountOverlay({lowers, upper: u, work: w, merged: m, options: v.options});
				target = m;
			}
			expect(compareTrees(snap, target, {xattrs: true}), log.join('\n')).toEqual([]);
			expect(readdirSync(u)).toEqual([]);
			stats.ops += log.filter((l) => l !== 'skip').length;
			stats.seeds++;
		});
	}
});
