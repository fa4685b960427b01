import type {Finding, Severity} from './types.js';

export function finding(code: string, severity: Severity, message: string, hint: string, path?: string): Finding {
	return path === undefined ? {code, severity, message, hint} : {code, severity, message, hint, path};
}

export const hasErrors = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity === 'error');

// Errors --force may not override: they protect the option string itself, or need privileges.
const unforceable = new Set(['OVL_OPTION_LAYER_KEY', 'OVL_OPTIONS_TOO_LONG', 'OVL_NEEDS_ROOT', 'OVL_OPTION_BAD_VALUE']);

/** --force: let the kernel judge; validation errors become warnings, except the unforceable ones. */
export function forceFindings(findings: readonly Finding[]): Finding[] {
	return findings.map((f) =>
		f.severity === 'error' && !unforceable.has(f.code)
			? {...f, severity: 'warning', message: `${f.message} (forced: passing it to the kernel)`}
			: f,
	);
}
