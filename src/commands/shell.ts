import type {Context} from '../context.js';
import {describeStack, enterPrivateNamespace, shellFlow, type ShellResult, type ShellSession} from '../flows/shell.js';
import {formatFindings} from '../ui/findings.js';
import type {Style} from '../ui/style.js';
import {canonicalStack, confineToStackDir, readStackInput, type StackInput} from './stack-input.js';

export type ShellOptions = StackInput & {
	/** CMD ARGS… after `--`; empty: $SHELL (or /bin/sh). */
	readonly command: readonly string[];
	/** Set by ovl itself when it runs again inside the namespace: the outer mount namespace. */
	readonly inNamespace: string | undefined;
};

function mountedText(m: ShellSession, s: Style): string {
	const ns = m.userns
		? `a private user + mount namespace${m.mappedUid === undefined ? '' : ` (you are root there; files you make belong to uid ${m.mappedUid})`}, with userxattr`
		: 'a private mount namespace';
	return (
		`${s.green('✓')} ovl shell: mounted ${describeStack(m.stack)} in ${ns}\n` +
		`  it is private to this shell: only the shell and what it starts see it, and it dies with it; ovl unmounts it when ${m.command[0] ?? 'the shell'} exits\n`
	);
}

function endText(r: ShellResult, s: Style): string {
	const merged = r.session.stack.merged;
	const how =
		r.unmount === 'umount'
			? `unmounted ${merged}`
			: r.unmount === 'lazy'
				? `detached ${merged} (umount -l: a process still used it; it goes with the namespace)`
				: `could not unmount ${merged} (${r.unmountOutput}); it goes when the namespace's last process exits`;
	const why = r.spawnError
		? `${r.session.command[0] ?? ''} did not start (${r.spawnError})`
		: r.signal
			? `${r.session.command[0] ?? ''} ended by ${r.signal} (exit ${r.exitCode})`
			: `${r.session.command[0] ?? ''} exited ${r.exitCode}`;
	const mark = r.unmount === 'failed' ? s.yellow('!') : s.dim('·');
	return `${mark} ovl shell: ${why}; ${how}\n`;
}

/** `ovl shell [DIR] [-- CMD…]`: the stack mounted in a private namespace for as long as CMD (or $SHELL) runs. */
export async function shellCommand(o: ShellOptions, ctx: Context, args: readonly string[]): Promise<number> {
	if (o.inNamespace === undefined) return enterPrivateNamespace(args, ctx.deps.euid);
	const {stack: raw, confine} = await readStackInput(o, ctx.cwd);
	const stack = await canonicalStack(raw);
	if (confine) await confineToStackDir(stack, confine.dir, confine.fromFile);
	const s = ctx.style;
	const result = await shellFlow(
		stack,
		{
			outerNamespace: o.inNamespace,
			command: o.command,
			env: process.env,
			onMounted: (m) => ctx.err(formatFindings(m.findings, s) + mountedText(m, s)),
			onSignal: (sig) =>
				ctx.err(`\novl shell: ${sig}: passed on to ${o.command[0] ?? 'the shell'}; unmounting when it exits\n`),
		},
		ctx.deps,
	);
	ctx.err(endText(result, s));
	return result.exitCode;
}
