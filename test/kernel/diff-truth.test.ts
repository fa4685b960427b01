import path from 'node:path';
import {afterAll, afterEach, beforeEach, expect, test} from 'vitest';
import {describeKernel} from '../helpers/kernel.js';
import {makeTree, mountOverlay, umount} from '../helpers/overlay.js';
import {runOvl} from '../helpers/run-ovl.js';
import {cleanScratch, makeScratch} from '../helpers/scratch.js';
import {truthDiff, walkView} from '../helpers/views.js';
import {randomLower, randomOps, rng} from '../helpers/random-ops.js';

// Ground truth that needs no model of overlayfs: after random operations through merged/,
// mount the lowers alone and the upper-over-lowers read-only, walk both, and compare what
// differs with what `ovl diff` predicted from the layers.

let dir = '';
const stats = {ops: 0, differences: 0};

describeKernel('ovl diff agrees with the kernel (ground truth by re-mounting)', () => {
	beforeEach(async () => {
		dir = await makeScratch('ovl-truth-');
	});
	afterEach(async () => cleanScratch(dir));
	afterAll(() => {
		// Guard against a vacuous pass: the runs must really have changed things.
		expect(stats.ops).toBeGreaterThan(100);
		expect(stats.differences).toBeGreaterThan(50);
	});

	const variants: {name: string; options: string[]}[] = [
		{name: 'redirect_dir=on,metacopy=on', options: ['redirect_dir=on', 'metacopy=on']},
		{name: 'default options', options: []},
	];
	const seeds = Number(process.env['OVL_TRUTH_SEEDS'] ?? 8);
	const opsPerSeed = Number(process.env['OVL_TRUTH_OPS'] ?? 40);

	for (const v of variants) {
		test.each(Array.from({length: seeds}, (_, i) => 1000 + i))(`${v.name}: seed %i`, async (seed) => {
			const r = rng(seed);
			const l1 = path.join(dir, 'l1');
			const l2 = path.join(dir, 'l2');
			await makeTree(l1, randomLower(r, 'one'));
			await makeTree(l2, randomLower(r, 'two'));
			const m = path.join(dir, 'm');
			await mountOverlay({
				lowers: [l1, l2],
				upper: path.join(dir, 'u'),
				work: path.join(dir, 'w'),
				merged: m,
				options: v.options,
			});
			const log = randomOps(m, r, opsPerSeed);
			const predicted = await runOvl(['diff', m, '--json']);
			expect(predicted.exitCode, predicted.stderr).toBe(0);
			const doc = JSON.parse(predicted.stdout) as {changes: {op: string; path: string}[]};
			await umount(m);
			const lowerOnly = path.join(dir, 'v-lower');
			const merged = path.join(dir, 'v-new');
			await mountOverlay({lowers: [l1, l2], merged: lowerOnly});
			await mountOverlay({
				lowers: [l1, l2, path.join(dir, 'u')],
				merged,
				options: v.options.length > 0 ? v.options : [],
			});
			const truth = truthDiff(await walkView(lowerOnly), await walkView(merged));
			const ovl = doc.changes.map((c) => `${c.op} ${c.path}`).sort();
			expect(ovl, `operations:\n${log.join('\n')}`).toEqual(truth);
			if (process.env['OVL_TRUTH_DEBUG'])
				console.log(
					`seed ${seed}: ${truth.length} differences; ${log.filter((l) => !l.startsWith('skip')).length} operations\n${log.join('\n')}`,
				);
			stats.ops += log.filter((l) => l !== 'skip').length;
			stats.differences += truth.length;
		});
	}
});
