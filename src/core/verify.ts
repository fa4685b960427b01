import {finding} from './finding.js';
import {kernelLowerOrder} from './lowerdir.js';
import {layerTexts} from './plan.js';
import type {Finding, MountPlan, OverlayMount} from './types.js';

/**
 Compares what the kernel recorded for the new mount with the plan, layer by layer. Any
 difference means the options were cut or re-split on the way: the caller unmounts.
 */
export function verifyMount(plan: MountPlan, mounted: OverlayMount | undefined): Finding[] {
	if (!mounted)
		return [
			finding(
				'OVL_VERIFY_NOT_FOUND',
				'error',
				`no overlay is mounted on ${plan.stack.merged} after mount(8) reported success`,
				'check `findmnt` and the kernel log',
			),
		];
	if (plan.strategy === 'refused') return [];
	const expected = layerTexts(plan.stack, plan.strategy, plan.cwd);
	const order = kernelLowerOrder(plan.stack);
	const got = mounted.layers;
	const out: Finding[] = [];
	const mismatch = (what: string, want: string, have: string): void => {
		out.push(
			finding(
				'OVL_VERIFY_MISMATCH',
				'error',
				`the kernel recorded ${what} as "${have}", ovl passed "${want}"`,
				'the option string was changed on its way to the kernel; the mount was undone. Please report this with `ovl mount --dry-run --json`',
			),
		);
	};
	if (got.lowers.length !== expected.lowers.length)
		mismatch('the number of lower layers', String(expected.lowers.length), String(got.lowers.length));
	expected.lowers.forEach((want, i) => {
		const have = got.lowers[i];
		if (!have) return;
		if (have.path !== want) mismatch(`lower ${i + 1} (top-first)`, want, have.path);
		if (have.dataOnly !== order[i]?.dataOnly)
			mismatch(`lower ${i + 1} data-only flag`, String(order[i]?.dataOnly), String(have.dataOnly));
	});
	if ((got.upper ?? '') !== (expected.upper ?? ''))
		mismatch('upperdir', expected.upper ?? '(none)', got.upper ?? '(none)');
	if ((got.work ?? '') !== (expected.work ?? '')) mismatch('workdir', expected.work ?? '(none)', got.work ?? '(none)');
	const wantReadOnly = plan.stack.upper === undefined || plan.stack.options.some((o) => o.key === 'ro');
	if (mounted.readOnly && !wantReadOnly)
		out.push(
			finding(
				'OVL_MOUNTED_READ_ONLY',
				'error',
				'the overlay came up read-only although an upper layer was given',
				'the kernel could not set up the work dir; see its lines above (often a leftover in work/work that cannot be removed)',
			),
		);
	return out;
}
