import type {MountPlan} from '../core/types.js';
import {printablePath as pp} from '../core/bytes.js';
import {displayArg, type Style} from './style.js';

/** The mount plan, human-readable: layers top→bottom, the exact kernel string and its budget. */
export function formatPlan(plan: MountPlan, s: Style): string {
	const st = plan.stack;
	const lines = [s.bold(`overlay on ${pp(st.merged)}`), '  layers, top → bottom (as the kernel stacks them):'];
	if (st.upper !== undefined) lines.push(`    ${s.green('upper ')}   ${pp(st.upper)}`);
	const n = st.lowers.length;
	[...st.lowers].reverse().forEach((l, i) => {
		lines.push(`    ${s.cyan(`lower ${String(n - i).padEnd(3)}`)}${l.dataOnly ? ' (data-only)' : ''} ${pp(l.path)}`);
	});
	if (st.work !== undefined) lines.push(`  work       ${pp(st.work)}`);
	if (st.upper === undefined) lines.push('  read-only (no upper layer)');
	const pct = Math.round((plan.optionBytes / plan.budget) * 100);
	lines.push(`  strategy   ${plan.strategy}${plan.cwd === undefined ? '' : ` (mount runs in ${plan.cwd})`}`);
	for (const note of plan.notes) lines.push(s.dim(`             not ${note}`));
	lines.push(`  options    ${plan.optionBytes} of ${plan.budget} bytes (${pct}% of the page mount(2) accepts)`);
	lines.push(`    ${plan.options}`);
	if (plan.fdPaths.length > 0) plan.fdPaths.forEach((p, i) => lines.push(s.dim(`    fd ${i + 3} = ${pp(p)}`)));
	lines.push(`  command    ${plan.argv.map(displayArg).join(' ')}`);
	return `${lines.join('\n')}\n`;
}
