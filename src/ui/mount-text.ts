import path from 'node:path';
import {printablePath} from '../core/bytes.js';
import {topFirst} from '../core/lowerdir.js';
import type {MountPlan} from '../core/types.js';
import type {Style} from './style.js';

/** The line that says the overlay is mounted and verified. */
export function mountedLine(plan: MountPlan, s: Style): string {
	const st = plan.stack;
	const n = st.lowers.length;
	// Which lower is on top, in words: a stack given in the wrong order mounts without complaint.
	const [top, next] = topFirst(st.lowers).map((l) => printablePath(path.basename(l.path)));
	const order = next === undefined ? '' : `, ${top} on top of ${next}${n > 2 ? ` and ${n - 2} more` : ''}`;
	const what = `${n} lower layer${n === 1 ? '' : 's'}${order}${st.upper === undefined ? ', read-only' : ''}`;
	const how = `${plan.strategy}, ${plan.optionBytes}/${plan.budget} bytes; verified against mountinfo`;
	return `${s.green('✓')} mounted overlay on ${printablePath(st.merged)} (${what}; ${how})\n`;
}
