import {asCode, codes, type Code, type CodeInfo} from './codes.js';
import type {Finding, Severity} from './types.js';

export function finding(code: Code, severity: Severity, message: string, hint: string, path?: string): Finding {
	const c = asCode(code);
	return path === undefined ? {code: c, severity, message, hint} : {code: c, severity, message, hint, path};
}

export const hasErrors = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity === 'error');

/** A refused mount creates nothing: "ovl will create it" would be noise before the real error. */
export const refusedFindings = (findings: readonly Finding[]): Finding[] =>
	findings.filter((f) => f.code !== 'OVL_WILL_CREATE');

// Errors --force may not override (forceable: false in the catalog): they protect the option
// string itself, or need privileges.
export const unforceable: ReadonlySet<Code> = new Set(
	(Object.keys(codes) as Code[]).filter((c) => (codes[c] as CodeInfo).forceable === false),
);

/** --force: let the kernel judge; validation errors become warnings, except the unforceable ones. */
export function forceFindings(findings: readonly Finding[]): Finding[] {
	return findings.map((f) =>
		f.severity === 'error' && !unforceable.has(f.code)
			? {...f, severity: 'warning', message: `${f.message} (forced: passing it to the kernel)`}
			: f,
	);
}
