import {asCode, codes, type Code, type CodeInfo} from './codes.js';
import {exitCodes, type ExitCode} from './exit-codes.js';
import {refusedFindings} from './finding.js';
import type {Finding} from './types.js';

/** Every expected failure: a stable code, what is wrong (message) and what to do (hint). */
export class OvlError extends Error {
	readonly code: Code;
	readonly hint: string;
	readonly exitCode: ExitCode;
	readonly findings: readonly Finding[];

	constructor(
		code: Code,
		message: string,
		hint: string,
		options: {exitCode?: ExitCode; findings?: readonly Finding[]; cause?: unknown} = {},
	) {
		super(message, options.cause === undefined ? undefined : {cause: options.cause});
		Object.defineProperty(this, 'name', {value: new.target.name, enumerable: false});
		this.code = asCode(code); // a cast cannot smuggle in an uncatalogued code
		this.hint = hint;
		this.exitCode = options.exitCode ?? exitCodes.failure;
		this.findings = options.findings ?? [];
	}
}

/** Bad flags or arguments. */
export class UsageError extends OvlError {
	constructor(message: string, hint: string, code: Code = 'OVL_USAGE') {
		super(code, message, hint, {exitCode: exitCodes.usage});
	}
}

/** The stack or plan has error findings: nothing was done. */
export class ValidationError extends OvlError {
	constructor(findings: readonly Finding[]) {
		const errors = findings.filter((f) => f.severity === 'error');
		// --force is offered only when it could help: never for an error it does not lift (one that
		// would lose data, such as a second writer on an upper).
		const stuck = [
			...new Set(errors.filter((f) => (codes[f.code] as CodeInfo).forceable === false).map((f) => f.code)),
		];
		const hint = 'fix the errors listed above (ovl mount --dry-run shows the plan)';
		super(
			errors[0]?.code ?? 'OVL_INVALID',
			`${errors.length} error${errors.length === 1 ? '' : 's'} found before mounting; nothing was changed`,
			stuck.length > 0
				? `${hint}; --force does not lift ${stuck.join(', ')}`
				: `${hint}; --force lets the kernel decide`,
			{exitCode: exitCodes.usage, findings: refusedFindings(findings)},
		);
	}
}

export class PrivilegeError extends OvlError {
	constructor(message: string, hint: string) {
		super('OVL_NEEDS_ROOT', message, hint, {exitCode: exitCodes.privilege});
	}
}

/** mount(8)/umount(8) or the kernel said no; `findings` carry the kernel's own reason. */
export class MountFailedError extends OvlError {
	readonly argv: readonly string[];
	readonly toolOutput: string;

	constructor(
		code: Code,
		message: string,
		hint: string,
		details: {argv: readonly string[]; toolOutput: string; findings: readonly Finding[]; cause?: unknown},
	) {
		super(code, message, hint, {findings: details.findings, cause: details.cause});
		this.argv = details.argv;
		this.toolOutput = details.toolOutput;
	}
}

export class InterruptedError extends OvlError {
	constructor() {
		super('OVL_INTERRUPTED', 'interrupted', 'run the command again; see the state printed above', {
			exitCode: exitCodes.interrupted,
		});
	}
}
