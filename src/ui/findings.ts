import type {Finding} from '../core/types.js';
import {severityMark, type Style} from './style.js';

/** Findings for stderr, most important last (clig: put the key information at the end). */
export function formatFindings(findings: readonly Finding[], s: Style): string {
	const order = {info: 0, warning: 1, error: 2} as const;
	return [...findings]
		.sort((a, b) => order[a.severity] - order[b.severity])
		.map((f) => `${severityMark(f.severity, s)} ${s.bold(f.code)}: ${f.message}\n  ${s.dim('hint:')} ${f.hint}\n`)
		.join('');
}
