import type {Finding, Severity} from './types.js';

export function finding(code: string, severity: Severity, message: string, hint: string, path?: string): Finding {
	return path === undefined ? {code, severity, message, hint} : {code, severity, message, hint, path};
}

export const hasErrors = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity === 'error');
