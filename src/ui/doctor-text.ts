import type {Check} from '../core/doctor.js';
import {hangingWrap, type Style} from './style.js';

const marks = {ok: '✓', warn: '!', fail: '✗', info: '·'} as const;

/** doctor's checks, their hints, the kernel's lines and the verdict, for a person. */
export function formatDoctor(
	checks: readonly Check[],
	verdict: string,
	kernelLines: readonly string[],
	s: Style,
	width = 100,
): string {
	const paint = {ok: s.green, warn: s.yellow, fail: s.red, info: s.dim} as const;
	const lines: string[] = [];
	for (const c of checks) {
		// Continuation lines stay under the detail (column 23) and the hint text (column 8).
		lines.push(`${paint[c.status](marks[c.status])} ${c.name.padEnd(20)} ${hangingWrap(c.detail, 23, width, 23)}`);
		if (c.hint) lines.push(s.dim(`  hint: ${hangingWrap(c.hint, 8, width, 8)}`));
	}
	for (const l of kernelLines) lines.push(s.dim(`  kernel: ${l}`));
	const v = verdict === 'ok' ? s.green(verdict) : verdict === 'degraded' ? s.yellow(verdict) : s.red(verdict);
	lines.push(`${s.bold('verdict:')} ${v}`);
	return `${lines.join('\n')}\n`;
}
