import type {Context} from '../context.js';
import {OvlError} from '../core/errors.js';
import {fsError} from '../io/beneath.js';
import {formatFindings} from '../ui/findings.js';

/** An expected failure as an OvlError: itself, or an errno nobody mapped (ENOSPC, EIO, EROFS…) as a coded message, never a trace. */
export function asOvlError(caught: unknown): OvlError | undefined {
	if (caught instanceof OvlError) return caught;
	if (isErrno(caught)) return fsError(caught, caught.path ?? caught.syscall ?? '');
	return undefined;
}

function isErrno(e: unknown): e is NodeJS.ErrnoException {
	return (
		e instanceof Error &&
		typeof (e as NodeJS.ErrnoException).code === 'string' &&
		/^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code as string) &&
		typeof (e as NodeJS.ErrnoException).syscall === 'string'
	);
}

/** The error on stderr (and as one JSON document on stdout with --json). */
export function reportError(error: OvlError, ctx: Context): void {
	if (ctx.mode === 'json')
		ctx.out(
			`${JSON.stringify({error: {code: error.code, message: error.message, hint: error.hint, exitCode: error.exitCode, findings: error.findings}}, null, 2)}\n`,
		);
	const s = ctx.style;
	const shown = error.findings.filter((f) => f.message !== error.message);
	if (shown.length > 0) ctx.err(formatFindings(shown, s));
	if (ctx.verbose && 'toolOutput' in error)
		ctx.err(s.dim(`mount(8) said: ${String((error as {toolOutput: string}).toolOutput)}\n`));
	ctx.err(`${s.red('✗')} ${s.bold(error.code)}: ${error.message}\n  ${s.dim('hint:')} ${error.hint}\n`);
}
