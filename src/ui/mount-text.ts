import {printablePath} from '../core/bytes.js';
import type {MountPlan} from '../core/types.js';
import type {Style} from './style.js';

/** The line that says the overlay is mounted and verified. */
export function mountedLine(plan: MountPlan, s: Style): string {
	const st = plan.stack;
	const n = st.lowers.length;
	const what = `${n} lower layer${n === 1 ? '' : 's'}${st.upper === undefined ? ', read-only' : ''}`;
	const how = `${plan.strategy}, ${plan.optionBytes}/${plan.budget} bytes; verified against mountinfo`;
	return `${s.green('✓')} mounted overlay on ${printablePath(st.merged)} (${what}; ${how})\n`;
}
