import type {MountPlan} from '../core/types.js';
import {printablePath as pp} from '../core/bytes.js';
import {displayArg, type Style} from './style.js';
import {topFirst} from '../core/lowerdir.js';

/**
 The mount plan: layers top→bottom, the exact kernel string and its budget. For a person
 (`forPerson`): at most 12 lowers and a bar for the page budget; for pipes every layer.
 */
export function formatPlan(plan: MountPlan, s: Style, forPerson = false): string {
	const st = plan.stack;
	const lines = [s.bold(`overlay on ${pp(st.merged)}`), '  layers, top → bottom (as the kernel stacks them):'];
	// One column for the labels ("upper", "lower 12"), so the paths line up.
	if (st.upper !== undefined) lines.push(`    ${s.green('upper'.padEnd(9))} ${pp(st.upper)}`);
	const n = st.lowers.length;
	const shown = forPerson ? 12 : n;
	topFirst(st.lowers)
		.slice(0, shown)
		.forEach((l, i) => {
			lines.push(`    ${s.cyan(`lower ${n - i}`.padEnd(9))} ${pp(l.path)}${l.dataOnly ? ' (data-only)' : ''}`);
		});
	if (n > shown) lines.push(s.dim(`    … ${n - shown} more lower layers (--plain or --json lists all)`));
	if (st.work !== undefined) lines.push(`  work       ${pp(st.work)}`);
	if (st.upper === undefined) lines.push('  read-only (no upper layer)');
	const pct = Math.round((plan.optionBytes / plan.budget) * 100);
	lines.push(`  strategy   ${plan.strategy}${plan.cwd === undefined ? '' : ` (mount runs in ${plan.cwd})`}`);
	for (const note of plan.notes) lines.push(s.dim(`             not ${note}`));
	const budget = `${plan.optionBytes} of ${plan.budget} bytes (${pct}% of the page mount(2) accepts)`;
	lines.push(`  options    ${forPerson ? `${budgetBar(plan, s)} ` : ''}${budget}`);
	lines.push(`    ${plan.options}`);
	if (plan.fdPaths.length > 0) plan.fdPaths.forEach((p, i) => lines.push(s.dim(`    fd ${i + 3} = ${pp(p)}`)));
	lines.push(`  command    ${plan.argv.map(displayArg).join(' ')}`);
	return `${lines.join('\n')}\n`;
}

function budgetBar(plan: MountPlan, s: Style): string {
	const width = 30;
	const share = plan.optionBytes / plan.budget;
	const filled = Math.min(width, Math.round(share * width));
	const paint = share > 0.9 ? s.red : share > 0.7 ? s.yellow : s.green;
	return `${paint('█'.repeat(filled))}${s.dim('░'.repeat(width - filled))}`;
}
